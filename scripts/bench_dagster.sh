#!/usr/bin/env bash
# Wall time of `dagster asset materialize` for one cycle, a 12-cycle range and a one-day
# range (288 cycles), each in one run, against a throwaway book and DAGSTER_HOME (sqlite).
# Not a test: a benchmark. Usage: bash scripts/bench_dagster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" && cp dagster_home/dagster.yaml "$work/home/"
export DAGSTER_HOME="$work/home" STATE_DB_PATH="$work/book.duckdb" REPLAY_DATASET_PATH="$work/replay"
export STAGE7_ENABLED=true DRY_RUN=true KILL_SWITCH=false DRY_RUN_TRY_BALANCE=10000 \
  STAGE7_UNIVERSE_SIZE=5 MAX_ORDERS_PER_CYCLE=5 NOTIONAL_CAP_TRY_PER_CYCLE=10000
.venv/bin/btcbot replay-init --dataset "$REPLAY_DATASET_PATH" --seed 42 >/dev/null

repo=$PWD
run() {  # label, then the partition flag and its value
  local label=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  # From the scratch folder, so a developer's .env cannot redirect the book.
  (cd "$work" && "$repo/.venv/bin/dagster" asset materialize -m btcbot_pipeline.definitions --select '*' "$@" >"$work/log" 2>&1) \
    || { tail -n 20 "$work/log"; exit 1; }
  t1=$(date +%s%N)
  printf '%-28s %6d ms\n' "$label" $(( (t1 - t0) / 1000000 ))
}
run "one cycle"                --partition 2026-01-01T00:30
run "one cycle (again)"        --partition 2026-01-01T00:35
run "12-cycle range, one run"  --partition-range 2026-01-01T01:00...2026-01-01T01:55
run "288-cycle day, one run"   --partition-range 2026-01-01T00:00...2026-01-01T23:55
