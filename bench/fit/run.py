#!/usr/bin/env python3
"""Prior-mean benchmark (issue 20): experiments to the target of examples/cdse-kinetic-prior.qdx
with and without `prior_mean growth` (never run by CI or the tests).

    python3 bench/fit/run.py [QDX] [SEEDS...]     # QDX defaults to target/release/qdx

For each seed, `qdx run --seed N` of (1) the example as written and (2) the example without its
`prior_mean` line (the same composite GP of `exciton`, with a constant mean); each stops when
the first exciton is within 1 nm of 480 nm, or at the budget of 15 experiments. Prints one row
per seed: experiments run, whether the stop condition was met, and the wall time per
experiment (the whole run: the simulated lab, the GP fits and, with the prior mean, the model's
refit before each suggestion and its evaluations in the acquisition).
"""
import json, pathlib, statistics, subprocess, sys, tempfile, time

root = pathlib.Path(__file__).resolve().parents[2]
qdx = sys.argv[1] if len(sys.argv) > 1 else str(root / "target/release/qdx")
seeds = [int(s) for s in sys.argv[2:]] or list(range(1, 11))
example = (root / "examples/cdse-kinetic-prior.qdx").read_text()
variants = {
    "prior mean": example,
    "constant mean": example.replace("  prior_mean growth\n", ""),
}
assert variants["constant mean"] != example


def run(text, seed, tmp, name):
    f = pathlib.Path(tmp) / f"{name.replace(' ', '-')}-{seed}.qdx"
    f.write_text(text)
    out = pathlib.Path(tmp) / f"{name.replace(' ', '-')}-{seed}"
    start = time.perf_counter()
    subprocess.run([qdx, "run", str(f), "--seed", str(seed), "--out", str(out)],
                   check=True, capture_output=True)
    wall = time.perf_counter() - start
    manifest = json.loads((out / "manifest.json").read_text())
    n = manifest["experiments"]
    met = "stop condition" in manifest.get("stop_reason", "")
    return n, met, wall / max(n, 1)


with tempfile.TemporaryDirectory() as tmp:
    results = {name: [] for name in variants}
    print("seed | " + " | ".join(f"{n}: experiments, met, s/experiment" for n in variants))
    for seed in seeds:
        row = []
        for name, text in variants.items():
            r = run(text, seed, tmp, name)
            results[name].append(r)
            row.append(f"{r[0]:3d} {'yes' if r[1] else 'no ':3s} {r[2]:.3f}")
        print(f"{seed:4d} | " + " | ".join(row), flush=True)
    for name, rs in results.items():
        ns = [r[0] for r in rs]
        print(f"{name}: median {statistics.median(ns)} experiments, mean {statistics.mean(ns):.1f}, "
              f"target met in {sum(r[1] for r in rs)}/{len(rs)}, "
              f"median {statistics.median(r[2] for r in rs):.3f} s per experiment")
