#!/usr/bin/env python3
"""Writes cdse-sim-600.csv, the CdSe pool of the pool benchmark, from a run of the simulated lab.

    python3 bench/pools/make_pool.py [--qdx PATH]

Runs `qdx run bench/pools/cdse-pool-source.qdx` (600 Sobol syntheses on the simulated CdSe lab)
into a scratch folder and turns its observations.csv into a table `simulate table` reads: the
three variables in the campaign's units (uL/min, uL/min, degC) and the three proxies (nm, nm,
integrated counts). A synthesis the run records as failed (no measurable PL peak) keeps its
inputs and leaves every output empty: a failed synthesis measured nothing, and an empty output
cell is how a table records a failure. Deterministic: the campaign's seed fixes the design and
the simulator's noise, so the same qdx gives the same file.
"""
import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
INPUTS = [("cd_rate", "cd_rate [uL/min]"), ("se_rate", "se_rate [uL/min]"),
          ("temperature", "temperature [degC]")]
OUTPUTS = [("peak", "peak [nm]"), ("fwhm", "fwhm [nm]"), ("intensity", "intensity")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qdx", default=None, help="the qdx binary (default: cargo run --release)")
    ap.add_argument("--out", default=str(HERE / "cdse-sim-600.csv"))
    args = ap.parse_args()
    qdx = [args.qdx] if args.qdx else ["cargo", "run", "--release", "-q", "--"]
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle"
        run = subprocess.run(qdx + ["run", str(HERE / "cdse-pool-source.qdx"), "--out", str(bundle)],
                             cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"qdx run failed ({run.returncode}):\n{run.stderr}")
        rows = list(csv.DictReader(open(bundle / "observations.csv", newline="")))
    failed = 0
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([name for name, _ in INPUTS + OUTPUTS])
        for r in rows:
            ok = r["status"] == "ok"
            failed += not ok
            w.writerow([r[col] for _, col in INPUTS] + [r[col] if ok else "" for _, col in OUTPUTS])
    print(f"{args.out}: {len(rows)} syntheses, {failed} failed")


if __name__ == "__main__":
    main()
