#!/usr/bin/env bash
# Quick start: set up, make a replay dataset, materialize one cycle of all seven assets
# through Dagster into the DuckDB book, and print the cycle summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

PARTITION="${1:-2026-01-01T00:30}"
# The demo profile (dry-run, Stage 7 enabled, kill switch off) lives in .env.example.
[ -f .env ] || cp .env.example .env
export DAGSTER_HOME="$PWD/dagster_home"
dataset=$(.venv/bin/python -c 'from btcbot_pipeline.settings import load_settings; print(load_settings().replay_dataset_path)')

if [ ! -d "$dataset" ]; then
  .venv/bin/btcbot replay-init --dataset "$dataset" --seed 42
fi
.venv/bin/btcbot replay-validate --dataset "$dataset" | tail -n 1
log="$DAGSTER_HOME/last_materialize.log"
echo "materializing cycle $PARTITION (all seven assets) ..."
if ! .venv/bin/dagster asset materialize -m btcbot_pipeline.definitions --select '*' --partition "$PARTITION" >"$log" 2>&1; then
  grep -E 'Failure|Error|error' "$log" | tail -n 20 >&2
  echo "materialization failed; full log: $log" >&2
  exit 1
fi
grep -o 'RUN_SUCCESS.*' "$log" | tail -n 1
.venv/bin/btcbot summary --partition "$PARTITION"
