#!/usr/bin/env python3
"""Optimizers side by side on the example campaigns, run on qdx's simulated lab.

Every optimizer, ours and the peers, drives the same thing: the whole `qdx run` runtime (planner,
simulated reactor with its noise, spectra, proxies) through `cargo run --release --example
campaign_bench` (bench/campaign/main.rs). qdx's strategies run inside it; a Python peer runs
here and answers the runtime's asks over a pipe, so it gets exactly the same experiments. The
score every optimizer maximises and every trace reports is the campaign's combined desirability
with fixed ranges (see bench/campaign/main.rs for why and how they are fixed).

    python3 bench/optimize/run_campaigns.py [--seeds 10] [--first-seed 0]
            [--campaigns cspbx3-orange,cdse-krishnadasan]
            [--methods native,bayesian,bayesian_composite,bayesian_score,bayesian_impute,
                       bayesian_extra_trees,bayesian_nn_ensemble,
                       bayesian_composite_extra_trees,bayesian_composite_nn_ensemble,
                       snobfit,nelder_mead,evolutionary,sobol,random,
                       ax,skopt,optuna_gp,optuna_tpe,py_random]
            [--threads 1] [--force] [--no-build] [--raw DIR] [--table FILE]
    python3 bench/optimize/run_campaigns.py --report

Writes raw runs to results/raw/campaign-<campaign>.<method>.jsonl (cached: a run already there
is not repeated unless --force), the table results/campaigns.md and the plots
results/campaign-<campaign>.svg. A peer's point that breaks a campaign constraint is refused
before any experiment runs (as `qdx run` would refuse it): the peer is told the worst score
(0) for it and asked again; such refusals cost no experiment and are counted in the table.
The table holds exactly the --methods given and its "best known" is the best of their runs, so
a run of a few methods should go to its own --table (and, when the simulated lab changed since
the cached runs, its own --raw directory) rather than overwrite results/campaigns.md.
Never run from CI or tests.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_peers  # noqa: E402  (the peers' wrappers and the virtual environment)

ROOT = run_peers.ROOT
RESULTS = run_peers.RESULTS
RAW = run_peers.RAW
CAMPAIGNS = ["cspbx3-orange", "cdse-krishnadasan"]
OURS = ["native", "bayesian", "bayesian_composite", "bayesian_score", "bayesian_impute",
        "bayesian_extra_trees", "bayesian_nn_ensemble",
        "bayesian_composite_extra_trees", "bayesian_composite_nn_ensemble",
        "snobfit", "nelder_mead", "evolutionary", "sobol", "random"]
PEERS = ["ax", "skopt", "optuna_gp", "optuna_tpe", "py_random"]
# Fractions of the best score any run found on the campaign.
THRESHOLDS = [0.99, 0.95]
# Where `cargo build` puts it: $CARGO_TARGET_DIR when set, else the workspace's target/.
BINARY = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release" / "examples" / "campaign_bench"


class CampaignProblem:
    """What run_peers.Peer needs of a problem: parameters and random points. The peers search
    the unit box (SI flow rates are ~1e-10 m³/s); `to_si` maps their points back."""

    def __init__(self, variables):
        self.bounds = [(v["lo"], v["hi"]) for v in variables]
        self.params = [(v["name"], "float", 0.0, 1.0) for v in variables]

    def to_si(self, u):
        return [lo + float(t) * (hi - lo) for t, (lo, hi) in zip(u, self.bounds)]

    def random_point(self, r):
        return [r.uniform(lo, hi) for (_, _, lo, hi) in self.params]


def build():
    subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "campaign_bench"],
                   cwd=ROOT, check=True)


def campaign_path(name):
    return str(ROOT / "examples" / (name + ".qdx"))


def run_ours(campaign, method, seed):
    out = subprocess.run([str(BINARY), campaign_path(campaign), "--method", method, "--seed", str(seed)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    row["infeasible"] = 0
    row.setdefault("ms_per_suggestion", [])  # planned designs are never asked
    return row


def run_peer(campaign, method, seed):
    proc = subprocess.Popen([str(BINARY), campaign_path(campaign), "--method", "external", "--seed", str(seed)],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        def hear():
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("campaign_bench ended early (exit %s)" % proc.wait())
            return json.loads(line)

        def say(obj):
            proc.stdin.write(json.dumps(obj) + "\n")
            proc.stdin.flush()

        prob = CampaignProblem(hear()["variables"])
        peer = run_peers.Peer("random" if method == "py_random" else method, prob, seed)
        x, times, infeasible, t_ask = None, [], 0, 0.0
        while True:
            msg = hear()
            if "ask" in msg:
                t0 = time.perf_counter()
                x = [float(v) for v in peer.ask()]
                t_ask = time.perf_counter() - t0
                say({"x": prob.to_si(x)})
            elif "infeasible" in msg:
                infeasible += 1
                peer.tell(x, 0.0)
            elif "score" in msg:
                t1 = time.perf_counter()
                s = msg["score"]
                peer.tell(x, -(s if s is not None else 0.0))
                times.append(round((t_ask + time.perf_counter() - t1) * 1e3, 3))
            elif "result" in msg:
                row = msg["result"]
                row["method"] = method
                row["infeasible"] = infeasible
                row["ms_per_suggestion"] = times
                return row
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def raw_path(campaign, method):
    return RAW / ("campaign-%s.%s.jsonl" % (campaign, method))


def use_raw(path):
    """`--raw DIR`: keep (and read) the raw runs somewhere else than results/raw, e.g. runs made
    after a change to the simulated lab, which are not comparable with the cached ones."""
    global RAW
    RAW = Path(path)


def load_raw(campaign, method):
    p = raw_path(campaign, method)
    if not p.exists():
        return []
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()]


def run_all(args):
    if not args.no_build:
        build()
    RAW.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    for campaign in args.campaigns.split(","):
        for method in args.methods.split(","):
            if args.force and raw_path(campaign, method).exists():
                raw_path(campaign, method).unlink()
            done = {r.get("seed") for r in load_raw(campaign, method)}
            for seed in [s for s in seeds if s not in done]:
                t0 = time.time()
                try:
                    row = run_ours(campaign, method, seed) if method in OURS else run_peer(campaign, method, seed)
                except Exception as e:  # recorded, never hidden
                    stderr = getattr(e, "stderr", "") or ""
                    row = {"campaign": campaign, "method": method, "seed": seed,
                           "error": "%s: %s %s" % (type(e).__name__, e, stderr[-1000:]),
                           "traceback": traceback.format_exc()[-3000:]}
                with open(raw_path(campaign, method), "a") as f:
                    f.write(json.dumps(row) + "\n")
                print("%s %s seed %d (%.0f s)%s" % (campaign, method, seed, time.time() - t0,
                                                    " ERROR " + row["error"][:200] if "error" in row else ""),
                      file=sys.stderr, flush=True)


def best_so_far(row):
    best, out = 0.0, []
    for s in row["scores"]:
        best = max(best, s if s is not None else 0.0)
        out.append(best)
    return out


def fmt(v):
    return "> budget" if v == float("inf") else "%g" % v


def report(args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        matplotlib.rcParams["svg.hashsalt"] = "qdx"
    except ImportError:  # the table needs no plotting library; the plots are left as they are
        print("matplotlib is not installed here: writing the table, not the plots", file=sys.stderr)
        plt = None
    lo, hi = (int(v) for v in args.report_seeds.split("-"))
    methods = args.methods.split(",")
    text = ["| campaign | optimizer | seeds | reached %g %% of best | median exps | median lab h | "
            "reached %g %% | median exps | median final score | refused points | median ms / suggestion |"
            % (THRESHOLDS[0] * 100, THRESHOLDS[1] * 100),
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    errors = []
    for campaign in args.campaigns.split(","):
        rows = {m: [r for r in load_raw(campaign, m) if r.get("seed") is not None and lo <= r["seed"] <= hi]
                for m in methods}
        for m in methods:
            errors += [r for r in rows[m] if "error" in r]
            rows[m] = sorted([r for r in rows[m] if "error" not in r], key=lambda r: r["seed"])
        everything = [best_so_far(r)[-1] for m in methods for r in rows[m]]
        if not everything:
            continue
        best_known = max(everything)
        if plt is not None:
            fig, ax = plt.subplots(figsize=(6, 4))
        for m in methods:
            rs = rows[m]
            if not rs:
                continue
            traces = [best_so_far(r) for r in rs]
            cells = []
            for k, frac in enumerate(THRESHOLDS):
                goal = frac * best_known
                exps, hours = [], []
                for r, t in zip(rs, traces):
                    i = next((i for i, b in enumerate(t) if b >= goal - 1e-12), None)
                    exps.append(float("inf") if i is None else i + 1)
                    hours.append(float("inf") if i is None else r["lab_hours"][i])
                hit = sum(1 for e in exps if e != float("inf"))
                cells += ["%d/%d" % (hit, len(rs)), fmt(statistics.median(exps))]
                if k == 0:
                    h = statistics.median(hours)
                    cells.append("> budget" if h == float("inf") else "%.1f" % h)
            final = statistics.median(t[-1] for t in traces)
            refused = sum(r.get("infeasible", 0) for r in rs)
            ms = [statistics.median(r["ms_per_suggestion"]) for r in rs if r.get("ms_per_suggestion")]
            text.append("| %s (%d exps, best known %.4f) | %s | %d–%d | %s | %.4f | %d | %s |"
                        % (campaign, rs[0]["budget"], best_known, m, rs[0]["seed"], rs[-1]["seed"],
                           " | ".join(cells), final, refused, "%.3g" % statistics.median(ms) if ms else "–"))
            if plt is None:
                continue
            n = min(len(t) for t in traces)
            ax.plot(range(1, n + 1), [statistics.median(t[i] for t in traces) for i in range(n)],
                    label="%s (%d seeds)" % (m, len(rs)), linestyle="-" if m in OURS else "--")
        if plt is None:
            continue
        ax.set_xlabel("experiment")
        ax.set_ylabel("median best-so-far score")
        ax.set_title(campaign + " (simulated lab)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        stem = "campaign" if args.table == "campaigns.md" else Path(args.table).stem
        fig.savefig(RESULTS / ("%s-%s.svg" % (stem, campaign)), metadata={"Date": None})
        plt.close(fig)
    out = "\n".join(text) + "\n"
    if errors:
        out += "\n### Errors\n\n" + "".join("- %s / %s / seed %s: `%s`\n" % (
            e["campaign"], e["method"], e["seed"], e["error"].strip().splitlines()[-1][:300]) for e in errors)
    (RESULTS / args.table).write_text(out)
    print(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--campaigns", default=",".join(CAMPAIGNS))
    ap.add_argument("--methods", default=",".join(OURS + PEERS))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (Ax)")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-build", action="store_true", help="run the campaign_bench already built")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--report-seeds", default="0-9")
    ap.add_argument("--raw", default=str(RAW), help="directory of the raw runs (default results/raw)")
    ap.add_argument("--table", default="campaigns.md", help="the table's file name in results/")
    ap.add_argument("--plots", action="store_true", help="with --report: enter the venv to draw the plots")
    args = ap.parse_args()
    use_raw(args.raw)
    # The peers (and the plots) live in the benchmark's virtual environment; qdx's own
    # methods need none of it.
    if (not args.report and any(m in PEERS for m in args.methods.split(","))) or (
            args.report and args.plots):
        run_peers.ensure_venv()
    # scikit-optimize warns on every repeated point; the raw runs record what happened.
    warnings.filterwarnings("ignore", category=UserWarning)
    RESULTS.mkdir(exist_ok=True)
    if "ax" in args.methods.split(",") and not args.report:
        import torch
        torch.set_num_threads(args.threads)
    if not args.report:
        run_all(args)
    report(args)


if __name__ == "__main__":
    main()
