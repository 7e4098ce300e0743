#!/usr/bin/env python3
"""The pool benchmark: qdx's Bayesian variants pick recipes from a table of past syntheses with
failures in it, toward a target PL peak (see README.md in this folder).

    python3 bench/pools/run_pool.py [--seeds 30] [--first-seed 0] [--campaign cdse-pool-580|cdse-pool-470]
            [--methods bayesian,bayesian_composite,bayesian_score,bayesian_impute,random] [--no-build]
            [--raw DIR] [--report]

Each run is `campaign_bench bench/pools/<campaign>.qdx --method M --seed S` (bench/campaign/main.rs):
the whole `qdx run` runtime in pool mode, where only the table's rows can be measured and a row
recorded as failed is a failed experiment. A run succeeds at the first experiment whose measured
peak is within `--within` nm (default 2) of the target. Raw runs are cached one JSON line per
seed in results/raw-pool/<campaign>.<method>.jsonl; the table goes to results/<campaign>.md.
Never run from CI or tests.
"""
import argparse
import csv
import json
import math
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "optimize"))
import run_campaigns  # noqa: E402  (the harness binary and its runner)

RESULTS = HERE / "results"
TARGETS = {"cdse-pool-580": ("cdse-sim-600.csv", 580.0), "cdse-pool-470": ("cdse-sim-600.csv", 470.0)}


def run_one(campaign, method, seed):
    run_campaigns.campaign_path = lambda name: str(HERE / (name + ".qdx"))
    return run_campaigns.run_ours(campaign, method, seed)


def first_hit(row, target, within):
    """1-based experiment count of the first measured peak within `within` nm, or None. The
    harness reports proxies in SI units: the peak in metres."""
    for i, (status, proxies) in enumerate(zip(row["status"], row["proxies"])):
        peak = proxies.get("peak")
        if status == "ok" and peak is not None and abs(peak * 1e9 - target) <= within:
            return i + 1
    return None


def random_chance(table, target, within, budget):
    """The chance that `budget` picks without replacement from the table's rows hit the target."""
    rows = list(csv.DictReader(open(HERE / table, newline="")))
    hits = sum(1 for r in rows if r["peak"] and abs(float(r["peak"]) - target) <= within)
    n = len(rows)
    miss = math.comb(n - hits, budget) / math.comb(n, budget) if budget <= n - hits else 0.0
    return n, hits, 1.0 - miss


def raw(args, campaign, method):
    return Path(args.raw) / ("%s.%s.jsonl" % (campaign, method))


def load(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def run_all(args):
    if not args.no_build:
        run_campaigns.build()
    Path(args.raw).mkdir(parents=True, exist_ok=True)
    for method in args.methods.split(","):
        path = raw(args, args.campaign, method)
        done = {r.get("seed") for r in load(path)}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if seed in done:
                continue
            t0 = time.time()
            try:
                row = run_one(args.campaign, method, seed)
            except Exception as e:  # recorded, never hidden
                row = {"method": method, "seed": seed,
                       "error": "%s: %s %s" % (type(e).__name__, e, (getattr(e, "stderr", "") or "")[-1000:])}
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")
            print("%s %s seed %d (%.0f s)%s" % (args.campaign, method, seed, time.time() - t0,
                                                " ERROR " + row["error"][:300] if "error" in row else ""),
                  file=sys.stderr, flush=True)


def report(args):
    table, target = TARGETS[args.campaign]
    seeds = set(range(args.first_seed, args.first_seed + args.seeds))
    lines = ["| method | runs | reached within %g nm | median experiments | failed experiments (median per run) | ms / suggestion |" % args.within,
             "|---|---|---|---|---|---|"]
    budget = None
    for method in args.methods.split(","):
        rows = [r for r in load(raw(args, args.campaign, method)) if r.get("seed") in seeds]
        errors = [r for r in rows if "error" in r]
        rows = [r for r in rows if "error" not in r]
        if not rows:
            lines.append("| %s | 0 | – | – | – | – |" % method)
            continue
        budget = rows[0]["budget"]
        hits = [first_hit(r, target, args.within) for r in rows]
        reached = [h for h in hits if h is not None]
        # A run that never reaches counts as infinite: the median is "> budget" when half miss.
        ordered = sorted(h if h is not None else math.inf for h in hits)
        med = statistics.median(ordered)
        failed = statistics.median(sum(s != "ok" for s in r["status"]) for r in rows)
        ms = [m for r in rows for m in r.get("ms_per_suggestion", [])]
        lines.append("| %s | %d%s | %d/%d | %s | %g | %s |" % (
            method, len(rows), " (%d errors)" % len(errors) if errors else "", len(reached), len(rows),
            "> budget" if math.isinf(med) else "%g" % med, failed,
            "%.2f" % statistics.median(ms) if ms else "–"))
    n, hits, chance = random_chance(table, target, args.within, budget or 40)
    text = "\n".join([
        "# %s, seeds %d–%d" % (args.campaign, args.first_seed, args.first_seed + args.seeds - 1), "",
        "Target peak %g nm; %d of the table's %d rows are within %g nm; random picks reach one "
        "in %d experiments with probability %.3f (exact, without replacement)." % (
            target, hits, n, args.within, budget or 40, chance), ""] + lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("%s-seeds%d-%d%s.md" % (args.campaign, args.first_seed, args.first_seed + args.seeds - 1,
                                             args.suffix))
    out.write_text(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--campaign", default="cdse-pool-580", choices=sorted(TARGETS))
    ap.add_argument("--methods", default="bayesian,bayesian_composite,bayesian_score,bayesian_impute,random")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--within", type=float, default=2.0)
    ap.add_argument("--raw", default=str(RESULTS / "raw"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--binary", help="the campaign_bench binary to run (default: the release build)")
    ap.add_argument("--suffix", default="", help="appended to the table's file name (another comparison)")
    ap.add_argument("--report", action="store_true", help="the table from the raw runs only")
    args = ap.parse_args()
    if args.binary:
        run_campaigns.BINARY = Path(args.binary)
    if not args.report:
        run_all(args)
    report(args)


if __name__ == "__main__":
    main()
