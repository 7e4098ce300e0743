#!/bin/bash
# usage: run_all.sh LABEL BENCH_BIN CAMPAIGN_BIN [extra bench args]
L=$1; BB=$2; CB=$3; shift 3
O=/work/escape-runs/$L; mkdir -p $O
D=/work/shared/bench-data
cd /work/wt-escape
for s in $(seq 100 ${LAST:-119}); do
  $CB examples/cspbx3-orange.qdx --method bayesian --seed $s > $O/cspbx3.$s.json
  $CB examples/cdse-krishnadasan.qdx --method bayesian --seed $s > $O/cdse.$s.json
done
$BB --problem hartmann6_noisy --strategy bayesian --first-seed 100 --seeds ${NS:-30} --budget 60 "$@" > $O/hartmann6_noisy.jsonl
$BB --problem branin --strategy bayesian --first-seed 100 --seeds ${NS:-30} --budget 30 "$@" > $O/branin.jsonl
$BB --problem hartmann6 --strategy bayesian --first-seed 100 --seeds ${NS:-30} --budget 60 "$@" > $O/hartmann6.jsonl
for p in photo_pce10 crossed_barrel hplc; do
  $BB --problem $p --strategy bayesian --first-seed 100 --seeds 30 --budget 50 --data $D "$@" > $O/$p.jsonl
done
$BB --problem suzuki_i --strategy bayesian --first-seed 100 --seeds 30 --budget 40 --data $D "$@" > $O/suzuki_i.jsonl
echo done > $O/DONE
