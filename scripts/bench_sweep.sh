#!/usr/bin/env bash
# Sweep figures (docs/deploy.md): the 8 members of examples/sweep_real10.yaml over the README's
# 20-day real-data window, through a local PostgreSQL instance's queue with 2 runs at once and
# with 1, then the same 8 specs one after the other with `btcbot backtest` (no queue); each
# member's book fingerprinted against its sequential twin. Whole commands, wall seconds.
#
#   bash scripts/bench_sweep.sh [DATASET] [WORKDIR] [PORT]
#
# DATASET defaults to data/real10 (btcbot replay-import --ohlcv ../shared/data/binance-5m-2018
# --quote TRY --rate 100000 --dataset data/real10). Needs initdb/pg_ctl (scripts/local-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=$(realpath "${1:-data/real10}")
work=${2:-/tmp/btcbot-bench-sweep}
port=${3:-55499}
source .venv/bin/activate
rm -rf "$work/bt" "$work/seq" "$work/home"
mkdir -p "$work/home"
cp dagster_home/postgres/dagster.yaml "$work/home/"
scripts/local-postgres.sh start "$work/pg" "$port" >/dev/null
trap 'scripts/local-postgres.sh stop "$work/pg" >/dev/null' EXIT
eval "$(scripts/local-postgres.sh env "$work/pg" "$port")"
window=(--start 2018-01-10T05:00 --end 2018-01-30T05:00 --params examples/backtest.env)

seconds() { python -c "import time; print(f'{time.time() - $1:.1f}')"; }

for runs in 2 1; do
  t0=$(python -c 'import time; print(time.time())')
  DAGSTER_HOME=$work/home BACKTEST_DIR=$work/bt DAGSTER_MAX_CONCURRENT_RUNS=$runs \
    btcbot sweep --dataset "$dataset" "${window[@]}" --grid examples/sweep_real10.yaml --name real10_grid \
    >"$work/sweep_$runs.out"
  echo "btcbot sweep, DAGSTER_MAX_CONCURRENT_RUNS=$runs: $(seconds "$t0") s"
done

t0=$(python -c 'import time; print(time.time())')
python - "$work" <<'PY' >"$work/members.txt"
import json, sys
manifest = json.load(open(f"{sys.argv[1]}/bt/sweeps/real10_grid/sweep.json"))
for member in manifest["members"]:
    print(member["name"], *(f"--set {k}={v}" for k, v in sorted(member["params"].items())))
PY
while read -r name sets; do
  # shellcheck disable=SC2086  # the --set pairs split on purpose
  BACKTEST_DIR=$work/seq btcbot backtest --dataset "$dataset" "${window[@]}" --name "${name/__/_}" $sets \
    >"$work/seq_$name.out"
done <"$work/members.txt"
echo "btcbot backtest of the same 8, one after the other: $(seconds "$t0") s"

python - "$work" <<'PY'
import sys
from pathlib import Path
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
work = Path(sys.argv[1])
books = sorted((work / "bt/sweeps/real10_grid").glob("*.duckdb"))
same = [fingerprint_book(b).digest == fingerprint_book(work / "seq" / f"{b.stem.replace('__', '_')}.duckdb").digest for b in books]
print(f"member books identical to their sequential twins: {sum(same)} of {len(books)}")
PY
cat "$work/sweep_2.out" | sed -n '/^member /,/^leaderboard csv/p'
