#!/usr/bin/env bash
# The front-end and runtime benchmarks (issue figures). Never run by CI or the tests.
#
#   bench/run.sh            # builds release, prints medians and ratios
#   BASE=/path/to/old/qdx bench/run.sh   # also times an older build on the same commands,
#                                        # interleaved, and prints new/old ratios
#
# Figures: median wall time of N runs of the same command, measured in this script, next to
# a peer command run the same way in the same script (ratios mean more than absolute times on
# a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
QDX=${QDX:-target/release/qdx}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { # command... ; prints the median wall time in ms of $RUNS runs
  python3 - "$RUNS" "$@" <<'PY'
import subprocess, sys, time, statistics
runs = int(sys.argv[1]); cmd = sys.argv[2:]
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t0) * 1000)
print(f"{statistics.median(times):.1f} {min(times):.1f} {max(times):.1f}")
PY
}

RUNS=${RUNS:-7}
python3 bench/gen_10k.py 1620 > "$work/big.qdx"
python3 bench/gen_10k.py 160 > "$work/small.qdx"
lines_big=$(wc -l < "$work/big.qdx"); lines_small=$(wc -l < "$work/small.qdx")
$QDX check "$work/big.qdx" > /dev/null
read -r check_big check_big_min check_big_max <<< "$(median $QDX check "$work/big.qdx")"
read -r check_small _ _ <<< "$(median $QDX check "$work/small.qdx")"
read -r fmt_big _ _ <<< "$(median $QDX fmt --check "$work/big.qdx")"
read -r noop _ _ <<< "$(median $QDX --version)"
echo "qdx check, ${lines_big}-line campaign: median ${check_big} ms (min ${check_big_min}, max ${check_big_max}) over ${RUNS} runs"
echo "  peer: qdx fmt --check (parse + print + re-parse) on the same file: ${fmt_big} ms; check/fmt = $(python3 -c "print(round(${check_big}/${fmt_big},2))")"
echo "  peer: qdx check, ${lines_small}-line campaign: ${check_small} ms; big/small = $(python3 -c "print(round(${check_big}/${check_small},2))")"
echo "  peer: qdx --version (process start): ${noop} ms"

RUNS=${RUNS_RUN:-5}
rm -rf "$work/runs"; mkdir -p "$work/runs"
i=0
run_once() { i=$((i+1)); $QDX run "$1" -q --out "$work/runs/$i" > /dev/null; }
export -f run_once 2>/dev/null || true
read -r run200 run200_min run200_max <<< "$(median bash -c "d=\$(mktemp -d); $QDX run bench/campaigns/cspbx3-200.qdx -q --out \$d/b; rm -rf \$d")"
read -r plan200 _ _ <<< "$(median $QDX plan bench/campaigns/cspbx3-200.qdx)"
read -r bo _ _ <<< "$(median bash -c "d=\$(mktemp -d); $QDX run examples/cspbx3-orange.qdx -q --out \$d/b; rm -rf \$d")"
d=$(mktemp -d); $QDX run bench/campaigns/cspbx3-200.qdx -q --out "$d/b" > /dev/null
spectra=$(ls "$d/b/spectra" | wc -l); size=$(du -sh "$d/b" | cut -f1); rm -rf "$d"
echo "qdx run, 200-experiment CsPbX3 campaign (Sobol design, 2 channels x 1024 px, ${spectra} spectrum files, bundle ${size}): median ${run200} ms (min ${run200_min}, max ${run200_max}) over ${RUNS} runs"
echo "  peer: qdx plan of the same campaign: ${plan200} ms; run/plan = $(python3 -c "print(round(${run200}/${plan200},2))")"
echo "  peer: qdx run examples/cspbx3-orange.qdx (Bayesian optimisation, stops at its condition): ${bo} ms"

# Against an older build (BASE): each command timed with both binaries in alternation, so a
# busy machine slows both alike.
if [ -n "${BASE:-}" ]; then
  RUNS=${RUNS_BASE:-9}
  pair() { # label command-with-QDX-placeholder...
    local label=$1; shift
    python3 - "$RUNS" "$QDX" "$BASE" "$label" "$@" <<'PY'
import subprocess, sys, time, statistics, tempfile, shutil
runs = int(sys.argv[1]); new, old, label = sys.argv[2], sys.argv[3], sys.argv[4]; cmd = sys.argv[5:]
times = {new: [], old: []}
for _ in range(runs):
    for exe in (new, old):
        scratch = tempfile.mkdtemp()
        argv = [a.replace("@QDX@", exe).replace("@OUT@", scratch + "/b") for a in cmd]
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[exe].append((time.perf_counter() - t0) * 1000)
        shutil.rmtree(scratch)
n, o = statistics.median(times[new]), statistics.median(times[old])
print(f"{label}: new {n:.1f} ms, base {o:.1f} ms (medians of {runs}); new/base = {n/o:.2f}")
PY
  }
  echo "against BASE=$BASE:"
  pair "qdx check, ${lines_big}-line campaign" @QDX@ check "$work/big.qdx"
  pair "qdx plan, 200-experiment campaign" @QDX@ plan bench/campaigns/cspbx3-200.qdx
  pair "qdx run, 200-experiment campaign" @QDX@ run bench/campaigns/cspbx3-200.qdx -q --out @OUT@
  pair "qdx run examples/cspbx3-orange.qdx" @QDX@ run examples/cspbx3-orange.qdx -q --out @OUT@
fi
