"""Books for the reporting tests, built without Dagster.

:func:`make_book` runs the pure cycle core over a synthetic replay dataset and writes the
rows the cycle assets would write (same row builders, same :meth:`Book.replace_window`),
so a test gets a realistic book of a few dozen cycles in well under a second.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import duckdb

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.domain.cycle import CycleResult, run_cycles
from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.domain.payloads import (
    fill_payload,
    intent_payload,
    metrics_payload,
    plan_payload,
    universe_payload,
)
from btcbot_pipeline.domain.trace import build_trace
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.storage.book import Book, Window
from btcbot_pipeline.storage.rows import Row, cycle_rows, market_rows, trace_rows, universe_rows
from btcbot_pipeline.testing.cycle_harness import DEMO

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_book(
    path: Path,
    dataset: Path,
    *,
    cycles: int,
    overrides: Mapping[str, str] | None = None,
    start: datetime = START,
    step_minutes: int = 5,
) -> Path:
    """Write ``cycles`` cycles from ``start`` (every ``step_minutes``) of ``dataset`` to a
    new book at ``path``, with the demo settings plus ``overrides``."""
    cfg = load_settings(None, **{**DEMO, **(overrides or {})})
    params = cfg.cycle_params()
    replay = ReplayDataset.load(dataset)
    times = [start + timedelta(minutes=step_minutes * i) for i in range(cycles)]
    snapshots = [
        exclude_unusable_rules(
            finalize_snapshot(
                replay.snapshot_at(t, vol_lookback=params.universe.vol_lookback, max_data_age_s=params.max_data_age_s),
                max_data_age_s=params.max_data_age_s,
            ),
            params.rules,
        )
        for t in times
    ]
    selections = [select_universe(s, params.universe) for s in snapshots]
    results = run_cycles(snapshots, selections, LedgerState.opening(params.start_capital_try), params)
    rows: dict[str, list[Row]] = {**market_rows(snapshots), **universe_rows(selections), **cycle_rows(results, None)}
    rows.update(_trace_tables(snapshots, selections, results, params.as_dict()))
    with duckdb.connect(str(path)) as con:
        Book(con).replace_window(Window(times[0], times[-1] + timedelta(minutes=step_minutes)), rows)
    return path


def _trace_tables(
    snapshots: Sequence[MarketSnapshot],
    selections: Sequence[UniverseSelection],
    results: Sequence[CycleResult],
    active_params: dict[str, Any],
) -> dict[str, list[Row]]:
    # The cycle_trace stage, fed from the domain objects in memory.
    traces, run_metrics = [], []
    for snap, sel, res in zip(snapshots, selections, results):
        skipped = [{"symbol": s.symbol, "reason": s.skip_reason} for s in snap.symbols if s.skip_reason]
        trace = build_trace(
            market={
                "candidates": len(snap.symbols),
                "skipped": skipped,
                "source": snap.source,
                "degraded_reason": snap.degraded_reason,
            },
            universe=universe_payload(sel),
            plan=plan_payload(res),
            intents=[intent_payload(i) for i in res.intents],
            fills=[fill_payload(f) for f in res.fills],
            ledger=metrics_payload(res.metrics),
            active_params=active_params,
        )
        traces.append(trace)
        planned = sum(1 for i in res.intents if i.planned)
        run_metrics.append(
            (
                res.cycle_ts,
                res.cycle_id,
                res.mode.final.value,
                len(snap.symbols),
                len(snap.symbols) - len(skipped),
                len(sel.selected),
                planned,
                len(res.intents) - planned,
                len(res.fills),
                res.metrics.equity_try,
                0,
                "test-run",
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,  # data age, then how the run went (not fingerprinted)
            )
        )
    return trace_rows(traces, run_metrics)


def _ts(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute)


# book_info as the lead's storage schema declares it; created here when Book.ensure_schema
# does not (a schema without it), so the tests read the same columns either way.
_BOOK_INFO = (
    "CREATE TABLE IF NOT EXISTS book_info (kind VARCHAR, name VARCHAR, source VARCHAR, dataset_path VARCHAR, "
    "dataset_fingerprint VARCHAR, params_hash VARCHAR, params_json VARCHAR, code_version VARCHAR, created_at "
    "TIMESTAMP, window_start TIMESTAMP, window_end TIMESTAMP)"
)


def tiny_book(path: Path) -> Path:
    """Four cycles whose figures can be checked by hand (see test_report.py)."""
    with duckdb.connect(str(path)) as con:
        Book(con).ensure_schema()
        con.execute(_BOOK_INFO)
        con.execute(
            "INSERT INTO book_info (kind, name, source, dataset_path, dataset_fingerprint, params_hash, params_json, "
            "code_version, created_at, window_start, window_end) VALUES ('backtest', 'tiny', 'replay', 'data/replay', "
            "'abc123', 'p1', '{}', '0.1.0+test', '2026-02-01 12:00:00', '2026-01-01 00:00:00', '2026-01-01 00:20:00')"
        )
        ledger = [  # minute, equity, net, realized, unrealized, fees, slippage
            (0, "1000", "0", "0", "0", "0", "0"),
            (5, "1100", "100", "0", "105", "3", "2"),
            (10, "990", "-10", "10", "-6", "8", "6"),
            (15, "1050", "50", "30", "40", "12.5", "7.5"),
        ]
        for minute, equity, net, realized, unrealized, fees, slippage in ledger:
            con.execute(
                "INSERT INTO ledger_metrics (cycle_ts, cycle_id, equity_try, start_capital_try, net_pnl_try, "
                "realized_pnl_try, unrealized_pnl_try, fees_try, slippage_try) VALUES (?, ?, ?, 1000, ?, ?, ?, ?, ?)",
                [_ts(minute), f"c{minute}", equity, net, realized, unrealized, fees, slippage],
            )
        for minute, mode in ((0, "NORMAL"), (5, "NORMAL"), (10, "REDUCE_RISK_ONLY"), (15, "NORMAL")):
            con.execute(
                "INSERT INTO cycle_trace (cycle_ts, cycle_id, final_mode) VALUES (?, ?, ?)",
                [_ts(minute), f"c{minute}", mode],
            )
        for minute, fill_id, notional in ((5, "f1", "400"), (10, "f2", "250.5"), (15, "f3", "349.5")):
            con.execute(
                "INSERT INTO fills (cycle_ts, fill_id, symbol, side, notional_try, fee_try) VALUES (?, ?, 'BTCTRY', "
                "'BUY', ?, '12.5')",
                [_ts(minute), fill_id, notional],
            )
        # four orders (one row per cycle that touched each): three filled, one rested
        # half filled and expired
        orders = (
            (5, "o1", "FILLED", "1"),
            (10, "o2", "FILLED", "1"),
            (15, "o3", "FILLED", "1"),
            (10, "o4", "PARTIALLY_FILLED", "0.5"),
            (15, "o4", "EXPIRED", "0.5"),
        )
        for minute, cid, status, filled in orders:
            con.execute(
                "INSERT INTO orders (cycle_ts, client_order_id, status, qty, filled_qty) VALUES (?, ?, ?, 1, ?)",
                [_ts(minute), cid, status, filled],
            )
        intents = [("PLANNED", None)] * 4 + [("SKIPPED", "min_notional")] * 2 + [("SKIPPED", "insufficient_cash")]
        for status, reason in intents:
            con.execute(
                "INSERT INTO order_intents (cycle_ts, status, skip_reason) VALUES (?, ?, ?)", [_ts(5), status, reason]
            )
        for status, reason in (("SKIPPED", "observe_only"), ("SKIPPED", "observe_only"), ("PLANNED", None)):
            con.execute(
                "INSERT INTO plan_actions (cycle_ts, status, skip_reason) VALUES (?, ?, ?)", [_ts(10), status, reason]
            )
        for check in ("check_a", "check_b"):
            con.execute(
                "INSERT INTO gate_failures (cycle_ts, cycle_id, asset, check_name) VALUES (?, 'c20', 'universe', ?)",
                [_ts(20), check],
            )
    return path
