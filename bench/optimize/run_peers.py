#!/usr/bin/env python3
"""Side-by-side optimizer benchmark: qdx-optimize against Ax, scikit-optimize, Optuna and random.

Creates bench/optimize/.venv (first run), installs the peers from PyPI into it, runs every
problem with every optimizer for the same budgets and seeds, runs our Rust runner
(`cargo run --release -p qdx-optimize --example bench`), and writes
bench/optimize/results/{summary.md, timing.md, <problem>.svg} from the raw per-run JSON lines in
bench/optimize/results/raw/<problem>.<optimizer>.jsonl.

Never run from CI or tests: it downloads packages and takes a long time (Ax: seconds per
suggestion). Runs are cached: a (problem, optimizer, seed) already in raw/ is not run again
unless --force, so the work can be split into several invocations (e.g. Ax in the background).

    python3 bench/optimize/run_peers.py [--seeds 10] [--first-seed 0]
            [--problems branin,hartmann6,...]
            [--peers qdx,qdx_noisyei,qdx_before,ax,skopt,optuna_gp,optuna_tpe,random]
            [--data ../shared/bench-data] [--threads 1] [--force]
    python3 bench/optimize/run_peers.py --timing [--peers ...] [--repeats 3]   # ms / suggestion
    python3 bench/optimize/run_peers.py --report                              # tables + plots only

Peer settings (defaults of each library unless stated): Ax `Client` API with its default
generation strategy (Sobol initialisation, then BoTorch MBM); scikit-optimize `Optimizer` with
base_estimator="GP" and 10 initial points (as `gp_minimize`); Optuna `GPSampler` and
`TPESampler` with their defaults; random = uniform sampling. Every optimizer minimises the
observed loss (the negated value for maximisation problems).

Pool problems (Olympus tables): qdx runs in pool mode (only table rows can be suggested). The
Python peers have no pool mode, so each proposal is snapped to the nearest table row not yet
used (inputs scaled to [0, 1], categorical mismatch = distance 1) and the peer is told that
row's value for its proposal.

Time per suggestion is the wall time of everything the optimizer does between two evaluations
(ask and tell: scikit-optimize fits its model and picks the next point inside `tell`).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
RESULTS = HERE / "results"
RAW = RESULTS / "raw"
PACKAGES = ["ax-platform", "scikit-optimize", "optuna", "matplotlib", "numpy", "pandas", "scipy"]

BUDGETS = {
    "branin": 30, "hartmann6": 60, "hartmann6_noisy": 60,
    "photo_pce10": 50, "crossed_barrel": 50, "suzuki_i": 40, "hplc": 50,
}
ALL_PEERS = ["qdx", "qdx_noisyei", "qdx_before", "ax", "skopt", "optuna_gp", "optuna_tpe", "random"]
# Our runner's variants: defaults; the setting recommended for noisy measurements; and the
# previous release's behaviour (no output warping, no basin escape, initial design clamp(2d, 5, 10)).
QDX_VARIANTS = {
    "qdx": lambda d: [],
    "qdx_noisyei": lambda d: ["--acquisition", "noisyei", "--initial", "10"],
    "qdx_before": lambda d: ["--no-warp", "--no-escape", "--initial", str(min(10, max(5, 2 * d)))],
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
            # Clamp to the declared bounds (as the Rust reader does), then average duplicates.
            for (n, kind, lo, hi) in params:
                if kind != "cat":
                    df[n] = df[n].astype(float).clip(lo, hi)
            df = df.dropna(subset=[out]).groupby(names, as_index=False, sort=False)[out].mean()
            self.params, self.goal = params, goal
            self.pool = [tuple(r[n] for n in names) for _, r in df.iterrows()]
            self.values = list(df[out])
            self.optimum = min(self.values) if goal == "min" else max(self.values)
            srt = sorted(self.values, reverse=(goal == "max"))
            k1, k5 = max(1, math.ceil(0.01 * len(srt))), max(1, math.ceil(0.05 * len(srt)))
            self.thresholds = [abs(srt[k1 - 1] - self.optimum), abs(srt[k5 - 1] - self.optimum)]
            self.scaled_pool = [self.scaled(r) for r in self.pool]

    def scaled(self, x):
        out = []
        for (n, kind, lo, hi), v in zip(self.params, x):
            out.append(v if kind == "cat" else (float(v) - lo) / (hi - lo if hi > lo else 1.0))
        return out

    def snap(self, x, used):
        """Nearest unused pool row to x (scaled inputs; categorical mismatch costs 1)."""
        sx = self.scaled(x)
        best, bi = None, None
        for i, row in enumerate(self.scaled_pool):
            if i in used:
                continue
            d = 0.0
            for (n, kind, lo, hi), a, b in zip(self.params, sx, row):
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

    def random_point(self, r):
        return [r.choice(lo) if kind == "cat" else r.uniform(lo, hi) for (n, kind, lo, hi) in self.params]


# -------------------------------------------------------------------------------------- peers

class Peer:
    """Uniform ask/tell wrapper around each library: ask() -> list of values, tell(x, loss)."""

    def __init__(self, peer, prob, seed):
        import random
        self.peer, self.prob = peer, prob
        params = prob.params
        if peer == "random":
            self.r = random.Random(seed)
        elif peer == "skopt":
            from skopt import Optimizer
            from skopt.space import Categorical, Real
            dims = [Categorical(lo, name=n) if kind == "cat" else Real(lo, hi, name=n) for (n, kind, lo, hi) in params]
            self.opt = Optimizer(dims, base_estimator="GP", n_initial_points=10, random_state=seed)
        elif peer.startswith("optuna"):
            import optuna
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            if peer == "optuna_gp":
                sampler = optuna.samplers.GPSampler(seed=seed)
            else:
                sampler = optuna.samplers.TPESampler(seed=seed)
            self.study = optuna.create_study(direction="minimize", sampler=sampler)
            self.dists = {n: (optuna.distributions.CategoricalDistribution(lo) if kind == "cat"
                              else optuna.distributions.FloatDistribution(lo, hi)) for (n, kind, lo, hi) in params}
        elif peer == "ax":
            import logging
            for name in ("ax", "botorch", "gpytorch", "linear_operator"):
                logging.getLogger(name).setLevel(logging.ERROR)
            from ax.api.client import Client
            from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
            self.client = Client(random_seed=seed)
            cfg = [ChoiceParameterConfig(name=n, parameter_type="str", values=lo, is_ordered=False) if kind == "cat"
                   else RangeParameterConfig(name=n, parameter_type="float", bounds=(float(lo), float(hi)))
                   for (n, kind, lo, hi) in params]
            self.client.configure_experiment(parameters=cfg)
            self.client.configure_optimization(objective="-y")
        else:
            raise ValueError("unknown peer " + peer)
        self.pending = None

    def ask(self):
        names = [p[0] for p in self.prob.params]
        if self.peer == "random":
            return self.prob.random_point(self.r)
        if self.peer == "skopt":
            return self.opt.ask()
        if self.peer.startswith("optuna"):
            trial = self.study.ask()
            self.pending = trial
            return [trial.suggest_categorical(n, lo) if kind == "cat" else trial.suggest_float(n, lo, hi)
                    for (n, kind, lo, hi) in self.prob.params]
        trials = self.client.get_next_trials(max_trials=1)
        (idx, p), = trials.items()
        self.pending = idx
        return [p[n] for n in names]

    def tell(self, x, loss):
        if self.peer == "skopt":
            self.opt.tell(x, loss)
        elif self.peer.startswith("optuna"):
            self.study.tell(self.pending, loss)
        elif self.peer == "ax":
            self.client.complete_trial(trial_index=self.pending, raw_data={"y": loss})

    def tell_prior(self, xs, losses):
        """Prior data (for the timing runs): n observations told without asking."""
        names = [p[0] for p in self.prob.params]
        if self.peer == "skopt":
            self.opt.tell(xs, losses)
        elif self.peer.startswith("optuna"):
            import optuna
            for x, loss in zip(xs, losses):
                self.study.add_trial(optuna.trial.create_trial(
                    params=dict(zip(names, x)), distributions=self.dists, value=loss))
        elif self.peer == "ax":
            for x, loss in zip(xs, losses):
                idx = self.client.attach_trial(parameters=dict(zip(names, x)))
                self.client.complete_trial(trial_index=idx, raw_data={"y": loss})


def run_peer(peer, prob, seed, budget):
    import random
    rng = random.Random(seed + 12345)
    used = set()
    best, trace, times = None, [], []
    opt = Peer(peer, prob, seed)
    for _ in range(budget):
        t0 = time.perf_counter()
        x = opt.ask()
        t_ask = time.perf_counter() - t0
        loss, v = prob.evaluate(x, rng, used)
        t1 = time.perf_counter()
        opt.tell(x, loss)
        times.append(round((t_ask + time.perf_counter() - t1) * 1e3, 3))
        if best is None or (v < best if prob.goal == "min" else v > best):
            best = v
        trace.append(best)
    regret = [abs(b - prob.optimum) for b in trace]
    reached = [next((i + 1 for i, r in enumerate(regret) if r <= t + 1e-12), None) for t in prob.thresholds]
    return {"problem": prob.name, "strategy": peer, "seed": seed, "budget": budget, "thresholds": prob.thresholds,
            "reached": reached, "best_so_far": trace, "regret": regret, "ms_per_suggestion": times}


def run_ours(variant, prob, seeds, budget, data_dir):
    problem = prob.name
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "qdx-optimize", "--example", "bench", "--",
           "--problem", problem, "--strategy", "bayesian", "--budget", str(budget), "--data", str(data_dir),
           *QDX_VARIANTS[variant](len(prob.params))]
    rows = []
    for seed in seeds:
        out = subprocess.run(cmd + ["--seeds", "1", "--first-seed", str(seed)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                r["strategy"] = variant
                rows.append(r)
    return rows


# ---------------------------------------------------------------------------------- raw files

def raw_path(problem, peer):
    return RAW / ("%s.%s.jsonl" % (problem, peer))


def load_raw(problem, peer):
    p = raw_path(problem, peer)
    if not p.exists():
        return []
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()]


def append_raw(problem, peer, row):
    RAW.mkdir(parents=True, exist_ok=True)
    with open(raw_path(problem, peer), "a") as f:
        f.write(json.dumps(row) + "\n")


def run_all(args):
    problems = args.problems.split(",")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for name in problems:
        prob = Problem(name, args.data)
        budget = BUDGETS[name]
        for peer in args.peers.split(","):
            done = {r["seed"] for r in load_raw(name, peer)} if not args.force else set()
            if args.force and raw_path(name, peer).exists():
                raw_path(name, peer).unlink()
            todo = [s for s in seeds if s not in done]
            if not todo:
                continue
            if peer in QDX_VARIANTS:
                try:
                    for r in run_ours(peer, prob, todo, budget, args.data):
                        append_raw(name, peer, r)
                except subprocess.CalledProcessError as e:
                    append_raw(name, peer, {"problem": name, "strategy": peer, "seed": None,
                                            "error": (e.stderr or str(e))[-2000:]})
                continue
            for seed in todo:
                t0 = time.time()
                try:
                    row = run_peer(peer, prob, seed, budget)
                except Exception as e:  # recorded, never hidden
                    row = {"problem": name, "strategy": peer, "seed": seed,
                           "error": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()[-3000:]}
                append_raw(name, peer, row)
                print("%s %s seed %d: %s (%.0f s)" % (name, peer, seed, row.get("reached", row.get("error")),
                                                     time.time() - t0), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- timing

def run_timing(args):
    """Time per suggestion on Hartmann-6 after n random prior observations (median of repeats)."""
    import random
    prob = Problem("hartmann6", args.data)
    out = RESULTS / "timing_peers.jsonl"
    for peer in args.peers.split(","):
        if peer in QDX_VARIANTS or peer == "random":
            continue
        for n in (10, 50, 100, 200):
            samples, error = [], None
            for rep in range(args.repeats):
                try:
                    r = random.Random(1000 * rep + n)
                    xs = [prob.random_point(r) for _ in range(n)]
                    losses = [prob.f(x) for x in xs]
                    opt = Peer(peer, prob, rep)
                    opt.tell_prior(xs, losses)
                    # One step outside the timer (lazy set-up, first model fit), then the timed one.
                    for timed in (False, True):
                        t0 = time.perf_counter()
                        x = opt.ask()
                        t_ask = time.perf_counter() - t0
                        loss = prob.f(x)
                        t1 = time.perf_counter()
                        opt.tell(x, loss)
                        if timed:
                            samples.append((t_ask + time.perf_counter() - t1) * 1e3)
                except Exception as e:
                    error = "%s: %s" % (type(e).__name__, e)
                    break
            row = {"problem": "hartmann6", "strategy": peer, "observations": n, "repeats": len(samples)}
            if samples:
                row["median_ms"] = round(statistics.median(samples), 2)
                row["max_ms"] = round(max(samples), 2)
            if error:
                row["error"] = error
            print(json.dumps(row), flush=True)
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")


# ------------------------------------------------------------------------------------ reports

def fmt_med(v):
    return "> budget" if v == float("inf") else "%g" % v


def in_range(r, seeds):
    return seeds is None or (r.get("seed") is not None and seeds[0] <= r["seed"] <= seeds[1])


def summarise(problems, peers, seeds=None):
    lines = ["| problem (thr. 1 / thr. 2) | optimizer | seeds | reached thr. 1 | median exps to thr. 1 | "
             "reached thr. 2 | median exps to thr. 2 | median final regret | median ms / suggestion |",
             "|---|---|---|---|---|---|---|---|---|"]
    errors = []
    for prob in problems:
        for strat in peers:
            rows = [r for r in load_raw(prob, strat) if in_range(r, seeds) or "error" in r]
            errs = [r for r in rows if "error" in r]
            errors += errs
            rs = [r for r in rows if "error" not in r]
            if not rs:
                if errs:
                    lines.append("| %s | %s | 0 | failed: see errors below | | | | | |" % (prob, strat))
                continue
            rs.sort(key=lambda r: r["seed"])
            cells = []
            for k in range(2):
                hit = [r["reached"][k] for r in rs if r["reached"][k] is not None]
                med = statistics.median([r["reached"][k] if r["reached"][k] is not None else float("inf") for r in rs])
                cells += ["%d/%d" % (len(hit), len(rs)), fmt_med(med)]
            fin = statistics.median([r["regret"][-1] for r in rs])
            ms = statistics.median([statistics.median(r["ms_per_suggestion"]) for r in rs if r["ms_per_suggestion"]])
            thr = rs[0]["thresholds"]
            span = "%d–%d" % (rs[0]["seed"], rs[-1]["seed"]) if len(rs) > 1 else str(rs[0]["seed"])
            lines.append("| %s, %d exps (%.3g / %.3g) | %s | %s | %s | %s | %s | %s | %.4g | %.3g |"
                         % (prob, rs[0]["budget"], thr[0], thr[1], strat, span, *cells, fin, ms))
    text = "\n".join(lines) + "\n"
    if errors:
        text += "\n### Errors\n\n"
        for e in errors:
            text += "- %s / %s / seed %s: `%s`\n" % (e["problem"], e["strategy"], e.get("seed"),
                                                     e["error"].strip().splitlines()[-1][:300])
    return text


def timing_table():
    rows = []
    p = RESULTS / "timing_peers.jsonl"
    if p.exists():
        rows += [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
    q = RESULTS / "timing.jsonl"
    if q.exists():
        for l in q.read_text().splitlines():
            if l.strip():
                r = json.loads(l)
                r["strategy"] = "qdx"
                rows.append(r)
    latest = {}
    for r in rows:  # the last line per (optimizer, n) wins
        latest[(r["strategy"], r["observations"])] = r
    strategies = sorted({k[0] for k in latest}, key=lambda s: ALL_PEERS.index(s) if s in ALL_PEERS else 99)
    lines = ["| optimizer | n = 10 | n = 50 | n = 100 | n = 200 |", "|---|---|---|---|---|"]
    for s in strategies:
        cells = []
        for n in (10, 50, 100, 200):
            r = latest.get((s, n))
            if r is None:
                cells.append("–")
            elif "median_ms" in r:
                cells.append("%.3g ms" % r["median_ms"])
            else:
                cells.append("error: " + r.get("error", "?")[:80])
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    return "\n".join(lines) + "\n"


def plot(problems, peers, seeds=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams["svg.hashsalt"] = "qdx"  # stable SVG ids between runs
    for prob in problems:
        fig, ax = plt.subplots(figsize=(6, 4))
        any_line = False
        for strat in peers:
            rs = [r["regret"] for r in load_raw(prob, strat) if "error" not in r and in_range(r, seeds)]
            if not rs:
                continue
            n = min(len(r) for r in rs)
            med = [statistics.median(max(r[i], 1e-9) for r in rs) for i in range(n)]
            ax.plot(range(1, n + 1), med, label="%s (%d seeds)" % (strat, len(rs)))
            any_line = True
        if not any_line:
            plt.close(fig)
            continue
        ax.set_yscale("log")
        ax.set_xlabel("experiment")
        ax.set_ylabel("median best-so-far regret")
        ax.set_title(prob)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(RESULTS / (prob + ".svg"), metadata={"Date": None})
        plt.close(fig)


def report(args):
    problems = args.problems.split(",")
    peers = ALL_PEERS
    lo, hi = (int(v) for v in args.report_seeds.split("-"))
    name = "summary.md" if (lo, hi) == (0, 9) else "summary_seeds%d-%d.md" % (lo, hi)
    (RESULTS / name).write_text(summarise(problems, peers, (lo, hi)))
    (RESULTS / "timing.md").write_text(timing_table())
    if (lo, hi) == (0, 9):
        plot(problems, peers, (lo, hi))
    print((RESULTS / name).read_text())
    print((RESULTS / "timing.md").read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--problems", default=",".join(BUDGETS))
    ap.add_argument("--peers", default=",".join(ALL_PEERS))
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "bench-data"))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (Ax)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--report-seeds", default="0-9",
                    help="seed range of the table (summary.md and the plots: 0-9; others: summary_seeds<a>-<b>.md)")
    args = ap.parse_args()
    ensure_venv()
    RESULTS.mkdir(exist_ok=True)
    if "ax" in args.peers.split(","):
        import torch
        torch.set_num_threads(args.threads)
    if args.timing:
        run_timing(args)
    elif not args.report:
        run_all(args)
    report(args)


if __name__ == "__main__":
    main()
