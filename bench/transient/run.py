#!/usr/bin/env python3
"""Steady-state vs transient CdSe campaigns on the simulated lab: reagent and lab time to target.

Runs `cdse-steady.qdx`, `cdse-transient.qdx` and `cdse-chosen.qdx` (this folder) for seeds 0..N-1 with the qdx
binary, reads each bundle, and writes `results/runs.jsonl` (one line per run) and
`results/summary.md` (the table in README.md).

    cargo build --release --bin qdx
    python3 bench/transient/run.py --seeds 10 [--qdx target/release/qdx] [--keep DIR]

What is measured, from the bundle only:
- every measurement the lab made: a steady experiment's spectrum (`observations.csv`, at its
  `lab_time_end`) or a ramp's reading (`transient.csv`, at its `acquired` time), with its PL
  peak and integrated intensity;
- the reagent pumped up to a time: the journal's `set_rate` / `stop` commands integrated over
  lab time (every pump, both stocks), i.e. what the lab was told to pump, not the plan;
- the target, from the campaign's own objectives (`target peak = 560 nm within 4 nm`,
  `maximize intensity in 0 .. 400000`): a measurement with the peak within 4 nm of 560 nm and
  an intensity of at least 400 000, where the desirability of both is 1 (the best score the
  campaign can give), or of at least 360 000 (90 % of it). A run reaches it at its first such
  measurement: the lab time and reagent there, and the experiments started by then.
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGET_NM = 560.0
WITHIN_NM = 4.0
# The top of the campaign's `maximize intensity in 0 .. 400000`, and 90 % of it.
INTENSITIES = (400000.0, 360000.0)
# The campaigns, `cdse-{mode}.qdx`: steady state, the declared (full) ramp, the chosen ramp.
MODES = ("steady", "transient", "chosen")


def run(qdx, campaign, seed, out):
    subprocess.run(
        [qdx, "run", str(campaign), "--seed", str(seed), "--out", str(out), "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def pumped(journal):
    """[(t, total rate m^3/s from t on)], from the journaled pump commands."""
    rates, steps = {}, []
    with open(journal) as f:
        for line in f:
            r = json.loads(line)
            if r.get("event") != "command":
                continue
            if r.get("command") == "set_rate":
                rates[r["device"]] = r["rate"]
            elif r.get("command") == "stop" and r["device"] in rates:
                rates[r["device"]] = 0.0
            else:
                continue
            steps.append((r["t"], sum(rates.values())))
    return steps


def reagent_until(steps, t):
    """Volume pumped (m^3) from the start until lab time t."""
    total = 0.0
    for (t0, q), (t1, _) in zip(steps, steps[1:] + [(float("inf"), 0.0)]):
        if t0 >= t:
            break
        total += q * (min(t1, t) - t0)
    return total


def measurements(bundle, mode):
    """[(lab time s, experiment, peak nm, intensity)] in time order, ok measurements only."""
    out = []
    if mode != "steady":
        with open(bundle / "transient.csv") as f:
            for row in csv.DictReader(f):
                if row["peak [nm]"] and row["intensity"]:
                    out.append(
                        (
                            float(row["acquired [s]"]),
                            int(row["experiment"]),
                            float(row["peak [nm]"]),
                            float(row["intensity"]),
                        )
                    )
    else:
        with open(bundle / "observations.csv") as f:
            for row in csv.DictReader(f):
                if row["status"] == "ok" and row["peak [nm]"] and row["intensity"]:
                    out.append(
                        (
                            float(row["lab_time_end [s]"]),
                            int(row["experiment"]),
                            float(row["peak [nm]"]),
                            float(row["intensity"]),
                        )
                    )
    return sorted(out)


def on_target(m):
    return abs(m[2] - TARGET_NM) <= WITHIN_NM


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--qdx", default=str(ROOT / "target" / "release" / "qdx"))
    p.add_argument("--keep", help="keep the bundles in this folder")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated campaigns to run, of " + ", ".join(MODES)
    )
    a = p.parse_args()
    modes = [m for m in MODES if m in a.modes.split(",")]
    scratch = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="qdx-transient-"))
    runs = []
    for mode in modes:
        for seed in range(a.seeds):
            bundle = scratch / f"{mode}-{seed}"
            if not (bundle / "journal.jsonl").exists():
                run(a.qdx, HERE / f"cdse-{mode}.qdx", seed, bundle)
            steps = pumped(bundle / "journal.jsonl")
            ms = measurements(bundle, mode)
            end = max((t for t, _ in steps), default=0.0)
            runs.append(
                {
                    "mode": mode,
                    "seed": seed,
                    "measurements": ms,
                    "steps": steps,
                    "experiments": 1 + max((m[1] for m in ms), default=-1),
                    "lab_h": end / 3600.0,
                    "reagent_mL": reagent_until(steps, end) * 1e6,
                }
            )
            print(f"{mode} seed {seed}: {len(ms)} measurements", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    lines, rows = [], []
    for r in runs:
        reached = {}
        for level in INTENSITIES:
            hit = next((m for m in r["measurements"] if on_target(m) and m[3] >= level), None)
            reached[f"{level:.0f}"] = (
                None
                if hit is None
                else {
                    "lab_h": hit[0] / 3600.0,
                    "reagent_mL": reagent_until(r["steps"], hit[0]) * 1e6,
                    "experiments": hit[1] + 1,
                }
            )
        r["reached"] = reached
        lines.append(
            json.dumps(
                {
                    k: r[k]
                    for k in ("mode", "seed", "experiments", "lab_h", "reagent_mL", "reached")
                }
                | {"measurements": len(r["measurements"])}
            )
        )
    with open(Path(a.out) / "runs.jsonl", "w") as f:
        f.write("\n".join(lines) + "\n")
    head = (
        f"Seeds 0–{a.seeds - 1}; target: the peak within {WITHIN_NM:g} nm of {TARGET_NM:g} nm "
        "and the intensity at least as given; medians over the runs that reached it.\n\n"
        "| mode | measurements per run | whole run: lab h, reagent mL | intensity | reached "
        "| median lab h | median reagent mL | median experiments |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    for mode in modes:
        rs = [r for r in runs if r["mode"] == mode]
        for level in INTENSITIES:
            key = f"{level:.0f}"
            hits = [r["reached"][key] for r in rs if r["reached"][key]]
            rows.append(
                f"| {mode} | {median([len(r['measurements']) for r in rs]):g} "
                f"| {median([r['lab_h'] for r in rs]):.1f}, "
                f"{median([r['reagent_mL'] for r in rs]):.2f} "
                f"| ≥ {level:.0f} | {len(hits)}/{len(rs)} "
                f"| {median([h['lab_h'] for h in hits]):.2f} "
                f"| {median([h['reagent_mL'] for h in hits]):.3f} "
                f"| {median([h['experiments'] for h in hits]):g} |"
            )
    summary = head + "\n".join(rows) + "\n"
    with open(Path(a.out) / "summary.md", "w") as f:
        f.write(summary)
    print(summary)


if __name__ == "__main__":
    main()
