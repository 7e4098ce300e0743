#!/bin/bash
L=$1; BB=$2; CB=$3
O=/work/escape-runs/conf-$L; mkdir -p $O
cd /work/wt-escape
for s in $(seq 160 219); do
  $CB examples/cspbx3-orange.qdx --method bayesian --seed $s > $O/cspbx3.$s.json
  $CB examples/cdse-krishnadasan.qdx --method bayesian --seed $s > $O/cdse.$s.json
done
$BB --problem hartmann6_noisy --strategy bayesian --first-seed 160 --seeds 60 --budget 60 > $O/hartmann6_noisy.jsonl
