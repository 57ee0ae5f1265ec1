#!/usr/bin/env bash
# Checks our SAC update against PyTorch on identical weights, minibatches and noise (three updates, the
# quadruped's sizes): SACReferenceDump writes them, scripts/sac-update-vs-pytorch.py redoes the updates with
# torch autograd and compares every gradient. Needs a Python with torch and numpy:
#   scripts/check-sac-against-pytorch.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-python3}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
SAC_DUMP="$dir" swift test --filter SACReferenceDump >/dev/null
"$python" scripts/sac-update-vs-pytorch.py "$dir"
