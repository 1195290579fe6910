"""Benchmark of the pure cycle core and of the replay reader (not a test).

Measures, over five-minute cycles of a dataset (synthetic by default):
- dataset load (CSV parsing and the per-candle 24 h statistics);
- snapshots: ``ReplayDataset.snapshot_at`` + ``finalize_snapshot`` per cycle, and the
  range method ``ReplayDataset.snapshots`` when the code has it;
- universe: ``select_universe`` per cycle, and ``select_universes`` for the range;
- the fold ``run_cycles`` (plan → intents → fills → ledger) over all cycles;
- the whole pure pipeline (range snapshots → universes → fold), as marginal cycles/s;
- the payload round trip the Dagster assets add (serialize + parse) per cycle.

Each timing is the best of ``--repeat`` runs after a full collection, in CPU seconds of this
process (other work on a shared machine does not skew it), with the garbage collector on as
in a real run; the rate with it off is shown next to it. Usage::

    python scripts/bench_cycle.py [--days 1] [--pairs 12] [--step 5] [--repeat 3]
    python scripts/bench_cycle.py --dataset DIR      # an existing dataset, e.g. real pairs
    python scripts/bench_cycle.py --days 20 --pairs 10 --keep /tmp/synth10x20  # reuse it later
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TypeVar

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.synth import DEFAULT_PAIRS, init_replay_dataset
from btcbot_pipeline.domain import universe as universe_module
from btcbot_pipeline.domain.cycle import run_cycles
from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.domain.payloads import dumps, snapshot_from_payloads, symbol_payload
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.settings import load_settings

DEMO = dict(
    STAGE7_ENABLED="true",
    KILL_SWITCH="false",
    DRY_RUN_TRY_BALANCE="10000",
    STAGE7_UNIVERSE_SIZE="5",
    MAX_ORDERS_PER_CYCLE="5",
    NOTIONAL_CAP_TRY_PER_CYCLE="10000",
)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
T = TypeVar("T")


GC_OFF: dict[str, float] = {}


def best_of(repeat: int, work: Callable[[], T], label: str = "") -> tuple[float, T]:
    """Best wall time of ``repeat`` runs, each after a full collection, the result of the last.

    The cyclic garbage collector is part of the cost (every object a stage keeps is walked
    again at each full collection), so it stays on; the best run with it off is kept in
    :data:`GC_OFF` under ``label`` to show the pure CPU cost next to it.
    """
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        t0 = time.process_time()
        result = work()
        best = min(best, time.process_time() - t0)
    if label:
        off = float("inf")
        for _ in range(repeat):
            result = None
            gc.collect()
            gc.disable()
            try:
                t0 = time.process_time()
                result = work()
                off = min(off, time.process_time() - t0)
            finally:
                gc.enable()
        GC_OFF[label] = off
    return best, result  # type: ignore[return-value]


def report(label: str, cycles: int, seconds: float) -> None:
    off = GC_OFF.get(label)
    extra = "" if off is None else f"; gc off {cycles / off:>9,.0f} cycles/s"
    print(
        f"{label:26} {cycles} cycles in {seconds:7.3f} s = {cycles / seconds:>9,.0f} cycles/s "
        f"({seconds / cycles * 1e3:.3f} ms/cycle{extra})"
    )


def load_dataset(args: argparse.Namespace) -> ReplayDataset:
    if args.dataset:
        path = Path(args.dataset)
    else:
        path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "replay"
        if not (path / "orderbook").is_dir():
            symbols = sorted(DEFAULT_PAIRS)[: args.pairs]
            t0 = time.process_time()
            init_replay_dataset(path, seed=42, start=START, minutes=args.days * 1440, symbols=symbols)
            print(f"synth: {len(symbols)} pairs x {args.days * 1440} rows in {time.process_time() - t0:.2f} s")
    seconds, dataset = best_of(args.repeat, lambda: ReplayDataset.load(path))
    rows = sum(1 for _ in (path / "orderbook").glob("*.csv"))
    print(f"load: {len(dataset.symbols)} symbols ({rows} book files) in {seconds:.3f} s")
    return dataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=1, help="synthetic dataset length")
    parser.add_argument("--pairs", type=int, default=12, help="synthetic pairs (first N default pairs)")
    parser.add_argument("--dataset", default=None, help="benchmark this dataset folder instead of a synthetic one")
    parser.add_argument("--keep", default=None, help="write the synthetic dataset here and reuse it next time")
    parser.add_argument("--step", type=int, default=5, help="minutes between cycles")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    params = load_settings(None, **DEMO).cycle_params()
    lookback, age = params.universe.vol_lookback, params.max_data_age_s
    dataset = load_dataset(args)
    first = dataset.start.replace(second=0, microsecond=0)
    count = int((dataset.end - first).total_seconds() // (60 * args.step)) + 1
    times = [first + timedelta(minutes=args.step * k) for k in range(count)]

    def per_cycle_snapshots() -> list:
        return [
            finalize_snapshot(dataset.snapshot_at(t, vol_lookback=lookback, max_data_age_s=age), max_data_age_s=age)
            for t in times
        ]

    seconds, snapshots = best_of(args.repeat, per_cycle_snapshots, "snapshots (per cycle)")
    report("snapshots (per cycle)", len(times), seconds)
    bulk_snapshots = getattr(dataset, "snapshots", None)
    if bulk_snapshots is not None:
        seconds, ranged = best_of(
            args.repeat, lambda: bulk_snapshots(times, vol_lookback=lookback, max_data_age_s=age), "snapshots (range)"
        )
        report("snapshots (range)", len(times), seconds)
        assert ranged == snapshots, "range snapshots differ from per-cycle snapshots"
        snapshots = ranged  # keep one set alive: a second one would slow every later collection
        del ranged
    snapshots = [exclude_unusable_rules(s, params.rules) for s in snapshots]

    seconds, selections = best_of(
        args.repeat, lambda: [select_universe(s, params.universe) for s in snapshots], "universe (per cycle)"
    )
    report("universe (per cycle)", len(times), seconds)
    select_universes = getattr(universe_module, "select_universes", None)
    if select_universes is not None:
        seconds, ranged_sel = best_of(
            args.repeat, lambda: select_universes(snapshots, params.universe), "universe (range)"
        )
        report("universe (range)", len(times), seconds)
        assert list(ranged_sel) == selections, "range universes differ from per-cycle universes"
        del ranged_sel

    opening = LedgerState.opening(params.start_capital_try)
    seconds, results = best_of(
        args.repeat, lambda: run_cycles(snapshots, selections, opening, params), "fold run_cycles"
    )
    report("fold run_cycles", len(times), seconds)
    final = results[-1].metrics
    print(f"{'':26} {sum(len(r.fills) for r in results)} fills, final equity {final.equity_try:.2f} TRY")

    if bulk_snapshots is not None and select_universes is not None:
        del snapshots, selections, results

        def pipeline() -> list:
            snaps = [
                exclude_unusable_rules(s, params.rules)
                for s in bulk_snapshots(times, vol_lookback=lookback, max_data_age_s=age)
            ]
            return run_cycles(snaps, select_universes(snaps, params.universe), opening, params)

        seconds, _ = best_of(args.repeat, pipeline, "pipeline (range + fold)")
        report("pipeline (range + fold)", len(times), seconds)

    sample = [
        finalize_snapshot(dataset.snapshot_at(t, vol_lookback=lookback, max_data_age_s=age), max_data_age_s=age)
        for t in times[:288]
    ]
    t0 = time.process_time()
    for snap in sample:
        texts = [dumps(symbol_payload(s)) for s in snap.symbols]
        snapshot_from_payloads(snap.cycle_ts, [json.loads(t) for t in texts])
    report("snapshot payload trip", len(sample), time.process_time() - t0)


if __name__ == "__main__":
    main()
