#!/usr/bin/env python3
"""Parallel lines with batch suggestions vs one line, on the simulated lab: experiments and lab
time to the target.

Builds two campaigns from `examples/chan-2010-parallel-screen.qdx` (simulated CdSe, target
peak 560 nm, narrow line): `1 line` (its `lines` entry removed: one line, `batch 1`) and
`2 lines` (`lines a, b`: batch 2, one experiment per line at the same time), with the same
budget of experiments and no stop condition, runs each for seeds 0..N-1 with the qdx binary,
and reads each bundle's `observations.csv`. Never run in CI.

    cargo build --release --bin qdx
    python3 bench/lines/run.py --seeds 5 [--qdx target/release/qdx] [--budget 30] [--lines 1,2,3]

The target is the campaign's own stop condition, `peak within 2 nm and fwhm <= 35 nm` (the
condition is taken out of the campaigns so that every run spends its budget and the first hit
is read from the table). A run reaches it at its first `ok` row that meets it: the lab time
there (`lab_time_end [s]`) and the experiments started by then (`lab_time_start [s]` at most
that time, so a batch's other lines count as spent).
"""

import argparse
import csv
import statistics
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLE = ROOT / "examples" / "chan-2010-parallel-screen.qdx"
TARGET_NM, WITHIN_NM, FWHM_NM = 560.0, 2.0, 35.0


def campaign(lines, budget):
    text = EXAMPLE.read_text()
    text = text.replace("  stop when peak within 2 nm and fwhm <= 35 nm\n", "")
    text = text.replace("experiments 24,", f"experiments {budget},")
    text = text.replace("time 8 h", "time 200 h")
    text = text.replace("reagent total 40 mL", "reagent total 400 mL")
    if lines == 1:
        text = text.replace("  lines a, b, c\n", "")
    else:
        names = ", ".join("abcdefgh"[:lines])
        text = text.replace("lines a, b, c", f"lines {names}")
    return text


def first_hit(bundle):
    rows = list(csv.DictReader(open(bundle / "observations.csv")))
    for r in rows:
        if r["status"] != "ok" or not r["peak [nm]"] or not r["fwhm [nm]"]:
            continue
        if abs(float(r["peak [nm]"]) - TARGET_NM) <= WITHIN_NM and float(r["fwhm [nm]"]) <= FWHM_NM:
            t = float(r["lab_time_end [s]"])
            started = sum(1 for x in rows if float(x["lab_time_start [s]"]) <= t)
            return started, t / 3600.0
    return None, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--qdx", default=str(ROOT / "target" / "release" / "qdx"))
    ap.add_argument("--lines", default="1,2", help="comma-separated line counts to run")
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for lines in [int(v) for v in args.lines.split(",")]:
            path = tmp / f"lines{lines}" / "campaign.qdx"
            path.parent.mkdir()
            path.write_text(campaign(lines, args.budget))
            hits, hours, total = [], [], []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                out = tmp / f"out-{lines}-{seed}"
                subprocess.run(
                    [args.qdx, "run", str(path), "--seed", str(seed), "--out", str(out), "-q"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                n, h = first_hit(out)
                rows = list(csv.DictReader(open(out / "observations.csv")))
                total.append(max(float(r["lab_time_end [s]"] or 0) for r in rows) / 3600.0)
                print(f"{lines} line(s) seed {seed}: target at experiment {n}, {h if h is None else round(h, 2)} h; whole run {total[-1]:.2f} h")
                if n is not None:
                    hits.append(n)
                    hours.append(h)
            med = lambda xs: round(statistics.median(xs), 2) if xs else None
            print(
                f"== {lines} line(s): reached {len(hits)}/{args.seeds}; median experiments {med(hits)}, "
                f"median lab time to target {med(hours)} h; median whole run {med(total)} h"
            )


if __name__ == "__main__":
    main()
