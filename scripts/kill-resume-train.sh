#!/usr/bin/env bash
# Kills `mbc train` with SIGKILL at random moments (twice per round), continues each run with --resume, and
# checks that the final policy is byte-identical to an uninterrupted run of the same seed and the metrics rows
# equal (wall-clock columns aside).
#   scripts/kill-resume-train.sh [path/to/mbc] [rounds]      (default .build/release/mbc, 5 rounds)
set -euo pipefail
MBC=${1:-.build/release/mbc}
ROUNDS=${2:-5}
ARGS=(--config configs/sac-pendulum.yaml --set totalSteps=3000 --set randomSteps=500 --set "sac.hidden=[64,64]"
      --set logInterval=200 --set checkpointInterval=400 --set evaluationInterval=1000 --set evaluationEpisodes=2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
"$MBC" train "${ARGS[@]}" --run-dir "$tmp/reference" > /dev/null 2>&1
duration=$(( $(date +%s) - start + 1 ))
# metrics.csv without the wall_time and time/* columns
strip() { awk -F, 'NR==1 { for (i = 1; i <= NF; i++) if ($i != "wall_time" && $i !~ /^time\//) keep[i] = 1 }
                   { s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s "," $i; print s }' "$1"; }
ok=0
for r in $(seq 1 "$ROUNDS"); do
  dir="$tmp/killed-$r"
  kills=0
  "$MBC" train "${ARGS[@]}" --run-dir "$dir" > /dev/null 2>&1 &
  pid=$!
  while [ "$kills" -lt 2 ]; do
    sleep "$(awk -v seed="$RANDOM" -v d="$duration" 'BEGIN { srand(seed); printf "%.2f", rand() * d * 0.6 }')"
    if kill -9 "$pid" 2> /dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2> /dev/null || true
    [ "$kills" -ge 2 ] && break
    "$MBC" train --resume "$dir" > /dev/null 2>&1 &
    pid=$!
  done
  "$MBC" train --resume "$dir" > /dev/null 2>&1
  if cmp -s "$tmp/reference/policy.safetensors" "$dir/policy.safetensors" \
     && diff <(strip "$tmp/reference/metrics/metrics.csv") <(strip "$dir/metrics/metrics.csv") > /dev/null; then
    ok=$((ok + 1)); echo "round $r: killed $kills times, resumed: identical policy and metrics"
  else
    echo "round $r: killed $kills times, resumed: DIFFERENT from the uninterrupted run"
  fi
done
echo "$ok/$ROUNDS identical (uninterrupted run: $duration s)"
[ "$ok" -eq "$ROUNDS" ]
