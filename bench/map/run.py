#!/usr/bin/env python3
"""Mapping benchmark (issue 20): experiments the example's map needs to reach its level, and the
largest sd of a Sobol design of the same size (never run by CI or the tests).

    python3 bench/map/run.py [QDX] [SEEDS...]     # QDX defaults to target/debug/qdx

For each seed: (1) the example as written (bayesian, max_variance) until `sd <= 1.5 nm`; (2) the
same with `integrated_variance`; (3) `optimizer sobol` with the level, how many experiments the
same stop rule needs; (4) `optimizer sobol` with the experiment budget set to (1)'s count and an
unreachable level: the largest sd of map.csv after a Sobol design of the same size. The sd is
the map's own (noise-free posterior sd of the peak, nm) over map.csv's grid, the quantity the
stop level is checked against.
"""
import csv, json, pathlib, re, subprocess, sys, tempfile

root = pathlib.Path(__file__).resolve().parents[2]
qdx = sys.argv[1] if len(sys.argv) > 1 else str(root / "target/debug/qdx")
seeds = [int(s) for s in sys.argv[2:]] or [1, 2, 3, 4, 5]
example = (root / "examples/maceiczyk-2014-map.qdx").read_text()


def run(text, seed, tmp):
    f = pathlib.Path(tmp) / f"c{seed}-{abs(hash(text))}.qdx"
    f.write_text(text)
    out = pathlib.Path(tmp) / f"b{seed}-{abs(hash(text))}"
    subprocess.run([qdx, "run", str(f), "--seed", str(seed), "--out", str(out)],
                   check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text())
    with open(out / "map.csv") as fh:
        sds = [float(r["peak sd [nm]"]) for r in csv.DictReader(fh)]
    return manifest["experiments"], max(sds), manifest["stop_reason"]


def variant(optimizer, budget=None, level=None):
    t = re.sub(r"optimizer bayesian \{[^}]*\}", optimizer, example)
    if budget is not None:
        t = t.replace("experiments 40", f"experiments {budget}")
    if level is not None:
        t = t.replace("until sd <= 1.5 nm", f"until sd <= {level} nm")
    return t


rows = []
with tempfile.TemporaryDirectory() as tmp:
    for seed in seeds:
        n_mv, sd_mv, why = run(example, seed, tmp)
        n_iv, sd_iv, _ = run(variant("optimizer bayesian { acquisition integrated_variance }"), seed, tmp)
        n_so, sd_so, _ = run(variant("optimizer sobol"), seed, tmp)
        _, sd_same, _ = run(variant("optimizer sobol", budget=n_mv, level=0.001), seed, tmp)
        rows.append((seed, n_mv, sd_mv, n_iv, sd_iv, n_so, sd_so, sd_same))
        print(f"seed {seed}: max_variance {n_mv} exp (max sd {sd_mv:.2f} nm); "
              f"integrated_variance {n_iv} ({sd_iv:.2f}); sobol to the level {n_so} ({sd_so:.2f}); "
              f"sobol of {n_mv} experiments: max sd {sd_same:.2f} nm", flush=True)
mean = lambda k: sum(r[k] for r in rows) / len(rows)
print(f"mean over {len(rows)} seeds: max_variance {mean(1):.1f} experiments, integrated_variance "
      f"{mean(3):.1f}, sobol {mean(5):.1f}; sobol of the max_variance size: max sd {mean(7):.2f} nm "
      f"(level 1.5 nm)")
