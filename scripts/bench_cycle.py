"""Benchmark of the pure cycle core and of the replay reader (not a test).

Measures, over one day of five-minute cycles of a synthetic dataset:
- snapshot building (``ReplayDataset.snapshot_at`` + ``finalize_snapshot``) per cycle;
- the pure core (universe → plan → intents → fills → ledger) per cycle, as cycles/s;
- the payload round trip the Dagster assets add (serialize + parse) per cycle.

Usage: python scripts/bench_cycle.py [--minutes 1440] [--step 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.domain.cycle import run_full_cycle
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.domain.payloads import dumps, snapshot_from_payloads, symbol_payload
from btcbot_pipeline.settings import load_settings

DEMO = dict(STAGE7_ENABLED="true", KILL_SWITCH="false", DRY_RUN_TRY_BALANCE="10000", STAGE7_UNIVERSE_SIZE="5",
            MAX_ORDERS_PER_CYCLE="5", NOTIONAL_CAP_TRY_PER_CYCLE="10000")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=1440)
    parser.add_argument("--step", type=int, default=5, help="minutes between cycles")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    params = load_settings(None, **DEMO).cycle_params()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay"
        t0 = time.perf_counter()
        init_replay_dataset(path, seed=42, start=start, minutes=args.minutes)
        t1 = time.perf_counter()
        dataset = ReplayDataset.load(path)
        t2 = time.perf_counter()
    print(f"dataset: {len(dataset.symbols)} symbols x {args.minutes} rows; synth {t1 - t0:.2f} s, load {t2 - t1:.2f} s")

    times = [start + timedelta(minutes=m) for m in range(0, args.minutes, args.step)]
    t0 = time.perf_counter()
    snapshots = [finalize_snapshot(dataset.snapshot_at(t, vol_lookback=params.universe.vol_lookback, max_data_age_s=params.max_data_age_s), max_data_age_s=params.max_data_age_s) for t in times]
    snap_s = time.perf_counter() - t0
    print(f"snapshots: {len(times)} cycles in {snap_s:.3f} s = {len(times) / snap_s:,.0f} cycles/s")

    best = float("inf")
    for _ in range(args.repeat):
        state = LedgerState.opening(params.start_capital_try)
        risk = None
        t0 = time.perf_counter()
        fills = 0
        for snap in snapshots:
            result = run_full_cycle(snap, state, params, risk)
            state = result.state
            risk = result.risk.state if result.risk is not None else None  # carry the risk budget
            fills += len(result.fills)
        best = min(best, time.perf_counter() - t0)
    print(f"pure core: {len(snapshots)} cycles in {best:.3f} s = {len(snapshots) / best:,.0f} cycles/s ({fills} fills, final equity {state.cash_try + sum(h.qty * state.marks[s] for s, h in state.holdings.items()):.2f} TRY)")

    t0 = time.perf_counter()
    for snap in snapshots:
        texts = [dumps(symbol_payload(s)) for s in snap.symbols]
        snapshot_from_payloads(snap.cycle_ts, [json.loads(t) for t in texts])
    rt = time.perf_counter() - t0
    print(f"snapshot payload round trip: {len(snapshots) / rt:,.0f} cycles/s")


if __name__ == "__main__":
    main()
