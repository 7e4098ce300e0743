#!/bin/bash
# campaigns 100-159, analytic 100-159, no pools
L=$1; BB=$2; CB=$3; shift 3
O=/work/escape-runs/big-$L; mkdir -p $O
cd /work/wt-escape
for s in $(seq 100 159); do
  $CB examples/cspbx3-orange.qdx --method bayesian --seed $s > $O/cspbx3.$s.json
  $CB examples/cdse-krishnadasan.qdx --method bayesian --seed $s > $O/cdse.$s.json
done
$BB --problem hartmann6_noisy --strategy bayesian --first-seed 100 --seeds 60 --budget 60 > $O/hartmann6_noisy.jsonl
$BB --problem branin --strategy bayesian --first-seed 100 --seeds 60 --budget 30 > $O/branin.jsonl
$BB --problem hartmann6 --strategy bayesian --first-seed 100 --seeds 60 --budget 60 > $O/hartmann6.jsonl
