#!/usr/bin/env python3
"""Side-by-side optimizer benchmark: qdx-optimize against Ax, scikit-optimize, Optuna and random.

Creates bench/optimize/.venv (first run), installs the peers from PyPI into it, runs every
problem with every optimizer for the same budgets and seeds, runs our Rust runner
(`cargo run --release -p qdx-optimize --example bench`), and writes
bench/optimize/results/{results.jsonl, summary.md, <problem>.svg}.

Never run from CI or tests: it downloads packages and takes a long time.

    python3 bench/optimize/run_peers.py [--seeds 10] [--problems branin,hartmann6,...]
                                        [--peers ax,skopt,optuna_gp,optuna_tpe,random]
                                        [--data ../shared/bench-data]

Pool problems (Olympus tables): qdx runs in pool mode (only table rows can be suggested). The
Python peers have no pool mode, so each proposal is snapped to the nearest table row not yet
used (inputs scaled to [0, 1], categorical mismatch = distance 1) and the peer is told that
row's value for its proposal.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
RESULTS = HERE / "results"
PACKAGES = ["ax-platform", "scikit-optimize", "optuna", "matplotlib", "numpy", "pandas", "scipy"]

BUDGETS = {
    "branin": 30, "hartmann6": 60, "hartmann6_noisy": 60,
    "photo_pce10": 50, "crossed_barrel": 50, "suzuki_i": 40, "hplc": 50,
}


def ensure_venv():
    """Re-executes this script inside the benchmark virtual environment."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "--upgrade", "pip"])
        subprocess.check_call([str(py), "-m", "pip", "install", *PACKAGES])
    os.execv(str(py), [str(py), *sys.argv])


# ----------------------------------------------------------------------------------- problems

def branin(x):
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
       [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    return -sum(H_ALPHA[i] * math.exp(-sum(H_A[i][j] * (x[j] - H_P[i][j]) ** 2 for j in range(6))) for i in range(4))


POOLS = {
    "photo_pce10": ([("mat_%d" % i, "float", 0.0, 1.0) for i in range(1, 5)], "degradation", "min"),
    "crossed_barrel": ([("n", "float", 6, 12), ("theta", "float", 0, 200), ("r", "float", 1.5, 2.5),
                        ("t", "float", 0.7, 1.4)], "toughness", "max"),
    "suzuki_i": ([("ligand", "cat", ["L%d" % i for i in range(8)], None), ("res_time", "float", 60, 600),
                  ("temperature", "float", 30, 110), ("catalyst_loading", "float", 0.498, 2.515)], "yield", "max"),
    "hplc": ([("sample_loop", "float", 0, 0.08), ("additional_volume", "float", 0, 0.06),
              ("tubing_volume", "float", 0.1, 0.9), ("sample_flow", "float", 0.5, 2.5),
              ("push_speed", "float", 80, 150), ("wait_time", "float", 0.5, 10)], "peak_area", "max"),
}


class Problem:
    def __init__(self, name, data_dir):
        import random as _r
        self.name = name
        self.noise = 0.1 if name == "hartmann6_noisy" else 0.0
        self.pool = None
        if name == "branin":
            self.params = [("x1", "float", -5, 10), ("x2", "float", 0, 15)]
            self.f, self.goal, self.optimum, self.thresholds = branin, "min", 0.397887357729738, [0.01, 0.1]
        elif name.startswith("hartmann6"):
            self.params = [("x%d" % i, "float", 0, 1) for i in range(1, 7)]
            self.f, self.goal, self.optimum, self.thresholds = hartmann6, "min", -3.32236801141551, [0.05, 0.2]
        else:
            import pandas as pd
            params, out, goal = POOLS[name]
            df = pd.read_csv(Path(data_dir) / ("olympus-" + name) / "data.csv")
            names = [p[0] for p in params]
            df = df.groupby(names, as_index=False, sort=False)[out].mean()
            self.params, self.goal = params, goal
            self.pool = [tuple(r[n] for n in names) for _, r in df.iterrows()]
            self.values = list(df[out])
            self.optimum = min(self.values) if goal == "min" else max(self.values)
            srt = sorted(self.values, reverse=(goal == "max"))
            k1, k5 = max(1, math.ceil(0.01 * len(srt))), max(1, math.ceil(0.05 * len(srt)))
            self.thresholds = [abs(srt[k1 - 1] - self.optimum), abs(srt[k5 - 1] - self.optimum)]
        self._rng = _r.Random(0)

    def scaled(self, x):
        out = []
        for (n, kind, lo, hi), v in zip(self.params, x):
            out.append(v if kind == "cat" else (float(v) - lo) / (hi - lo if hi > lo else 1.0))
        return out

    def snap(self, x, used):
        """Nearest unused pool row to x (scaled inputs; categorical mismatch costs 1)."""
        sx = self.scaled(x)
        best, bi = None, None
        for i, row in enumerate(self.pool):
            if i in used:
                continue
            d = 0.0
            for (n, kind, lo, hi), a, b in zip(self.params, sx, self.scaled(row)):
                d += (0.0 if a == b else 1.0) if kind == "cat" else (a - b) ** 2
            if best is None or d < best:
                best, bi = d, i
        return bi

    def evaluate(self, x, rng, used):
        """(observed loss to minimise, true value) for a proposal x."""
        if self.pool is not None:
            i = self.snap(x, used)
            used.add(i)
            v = self.values[i]
            return (v if self.goal == "min" else -v), v
        v = self.f([float(t) for t in x])
        return v + self.noise * rng.gauss(0, 1), v


# -------------------------------------------------------------------------------------- peers

def run_peer(peer, prob, seed, budget):
    import random
    rng = random.Random(seed + 12345)
    used = set()
    best, trace, times = None, [], []

    def record(v):
        nonlocal best
        if best is None or (v < best if prob.goal == "min" else v > best):
            best = v
        trace.append(best)

    if peer == "random":
        r = random.Random(seed)
        for _ in range(budget):
            t0 = time.perf_counter()
            x = [r.choice(lo) if kind == "cat" else r.uniform(lo, hi) for (n, kind, lo, hi) in prob.params]
            times.append((time.perf_counter() - t0) * 1e3)
            record(prob.evaluate(x, rng, used)[1])
    elif peer == "skopt":
        from skopt import Optimizer
        from skopt.space import Categorical, Real
        dims = [Categorical(lo, name=n) if kind == "cat" else Real(lo, hi, name=n) for (n, kind, lo, hi) in prob.params]
        opt = Optimizer(dims, base_estimator="GP", n_initial_points=10, random_state=seed)
        for _ in range(budget):
            t0 = time.perf_counter()
            x = opt.ask()
            times.append((time.perf_counter() - t0) * 1e3)
            loss, v = prob.evaluate(x, rng, used)
            opt.tell(x, loss)
            record(v)
    elif peer.startswith("optuna"):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.GPSampler(seed=seed) if peer == "optuna_gp" else optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        for _ in range(budget):
            t0 = time.perf_counter()
            trial = study.ask()
            x = [trial.suggest_categorical(n, lo) if kind == "cat" else trial.suggest_float(n, lo, hi)
                 for (n, kind, lo, hi) in prob.params]
            times.append((time.perf_counter() - t0) * 1e3)
            loss, v = prob.evaluate(x, rng, used)
            study.tell(trial, loss)
            record(v)
    elif peer == "ax":
        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        client = Client(random_seed=seed)
        params = [ChoiceParameterConfig(name=n, parameter_type="str", values=lo, is_ordered=False) if kind == "cat"
                  else RangeParameterConfig(name=n, parameter_type="float", bounds=(float(lo), float(hi)))
                  for (n, kind, lo, hi) in prob.params]
        client.configure_experiment(parameters=params)
        client.configure_optimization(objective="-y")
        for _ in range(budget):
            t0 = time.perf_counter()
            trials = client.get_next_trials(max_trials=1)
            times.append((time.perf_counter() - t0) * 1e3)
            for idx, p in trials.items():
                x = [p[n] for (n, _, _, _) in prob.params]
                loss, v = prob.evaluate(x, rng, used)
                client.complete_trial(trial_index=idx, raw_data={"y": loss})
                record(v)
    else:
        raise ValueError(peer)
    trace = trace[:budget]
    regret = [abs(b - prob.optimum) for b in trace]
    reached = [next((i + 1 for i, r in enumerate(regret) if r <= t + 1e-12), None) for t in prob.thresholds]
    return {"problem": prob.name, "strategy": peer, "seed": seed, "budget": budget, "thresholds": prob.thresholds,
            "reached": reached, "best_so_far": trace, "regret": regret, "ms_per_suggestion": times}


def run_ours(problem, seeds, budget, data_dir):
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "qdx-optimize", "--example", "bench", "--",
           "--problem", problem, "--strategy", "bayesian", "--seeds", str(seeds), "--budget", str(budget),
           "--data", str(data_dir)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    for r in rows:
        r["strategy"] = "qdx"
    return rows


# ------------------------------------------------------------------------------------ reports

def summarise(rows, problems):
    lines = ["| problem | optimizer | reached thr. 1 (of seeds) | median exps to thr. 1 | reached thr. 2 | "
             "median exps to thr. 2 | median final regret | median ms / suggestion |",
             "|---|---|---|---|---|---|---|---|"]
    for prob in problems:
        sub = [r for r in rows if r["problem"] == prob]
        for strat in sorted({r["strategy"] for r in sub}):
            rs = [r for r in sub if r["strategy"] == strat]
            cells = []
            for k in range(2):
                hit = [r["reached"][k] for r in rs if r["reached"][k] is not None]
                med = statistics.median([r["reached"][k] if r["reached"][k] is not None else float("inf") for r in rs])
                cells += ["%d/%d" % (len(hit), len(rs)), "%g" % med if med != float("inf") else "> budget"]
            fin = statistics.median([r["regret"][-1] for r in rs])
            ms = statistics.median([statistics.median(r["ms_per_suggestion"]) for r in rs if r["ms_per_suggestion"]])
            thr = rs[0]["thresholds"]
            lines.append("| %s (thr. %.3g / %.3g) | %s | %s | %s | %s | %s | %.4g | %.3g |"
                         % (prob, thr[0], thr[1], strat, *cells, fin, ms))
    return "\n".join(lines) + "\n"


def plot(rows, problems):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for prob in problems:
        sub = [r for r in rows if r["problem"] == prob]
        if not sub:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for strat in sorted({r["strategy"] for r in sub}):
            rs = [r["regret"] for r in sub if r["strategy"] == strat]
            n = min(len(r) for r in rs)
            med = [statistics.median(max(r[i], 1e-9) for r in rs) for i in range(n)]
            ax.plot(range(1, n + 1), med, label=strat)
        ax.set_yscale("log")
        ax.set_xlabel("experiment")
        ax.set_ylabel("median best-so-far regret")
        ax.set_title(prob)
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / (prob + ".svg"))
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", default=",".join(BUDGETS))
    ap.add_argument("--peers", default="ax,skopt,optuna_gp,optuna_tpe,random")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "bench-data"))
    args = ap.parse_args()
    ensure_venv()
    RESULTS.mkdir(exist_ok=True)
    problems = args.problems.split(",")
    rows = []
    for name in problems:
        prob = Problem(name, args.data)
        budget = BUDGETS[name]
        rows += run_ours(name, args.seeds, budget, args.data)
        for peer in args.peers.split(","):
            for seed in range(args.seeds):
                rows.append(run_peer(peer, prob, seed, budget))
                print(name, peer, seed, rows[-1]["reached"], file=sys.stderr)
    with open(RESULTS / "results.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    (RESULTS / "summary.md").write_text(summarise(rows, problems))
    plot(rows, problems)
    print((RESULTS / "summary.md").read_text())


if __name__ == "__main__":
    main()
