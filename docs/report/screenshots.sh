#!/usr/bin/env bash
# Regenerates the report screenshots in docs/report/: runs four campaigns on the simulated lab
# (one objective, a Pareto front, a pool with a choice, most experiments failing) and
# photographs each bundle's report.html with headless Chromium in a 1400 px window, as two
# 1400 × 3000 px pictures: the top of the page, and the next 3000 px (the second shifted up by
# a style added to a copy of the page; the page itself is unchanged).
#
# Usage: docs/report/screenshots.sh        (from anywhere; needs cargo and chromium)
# QDX=path/to/qdx uses that binary instead of building one.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [[ -z "${QDX:-}" ]]; then
  cargo build --quiet --release --bin qdx
  QDX="${CARGO_TARGET_DIR:-$root/target}/release/qdx"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

shoot() { # shoot NAME CAMPAIGN
  local name=$1 campaign=$2 page
  "$QDX" run -q "$campaign" --out "$work/$name" > /dev/null
  page="$work/$name/report.html"
  for part in 1 2; do
    local shown="$page"
    if [[ $part == 2 ]]; then
      shown="$work/$name/report-part2.html"
      sed 's|</head>|<style>body{position:relative;top:-2900px}</style></head>|' "$page" > "$shown"
    fi
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
      --user-data-dir="$work/profile" --window-size=1400,3000 \
      --screenshot="docs/report/$name-$part.png" "file://$shown" 2> /dev/null
  done
  echo "docs/report/$name-1.png, docs/report/$name-2.png: $campaign"
}

shoot single docs/report/campaigns/cspbx3-plqy.qdx
shoot pareto docs/report/campaigns/cspbx3-pareto.qdx
shoot pool examples/suzuki-pool.qdx
shoot failures docs/report/campaigns/cspbx3-failures.qdx
