"""The seven cycle assets, partitioned by cycle time.

``market_snapshot → universe → [portfolio_plan → order_intents → simulated_fills →
ledger_snapshot] → cycle_trace``

The four bracketed stages are one ``multi_asset``: the plan of cycle *t* needs the ledger
of cycle *t − 1*, so inside a range the stages must alternate cycle by cycle; Dagster
cannot express "plan(t) after ledger(t−1)" between separate assets without a cycle in
the graph. Each of the four is still its own asset with its own table and metadata.

Every asset is range-aware (``partition_keys`` / ``partition_time_window``, never
``partition_key``) and single-run, so ``--partition-range A...B`` replays a window in one
run, in order. Rows land in the DuckDB book, replacing the window's previous rows.
"""

# No `from __future__ import annotations`: Dagster reads the parameter annotations at runtime.

import json
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterator

import dagster as dg

from btcbot_pipeline.adapters.btcturk.account import opening_for_settings, opening_metadata
from btcbot_pipeline.adapters.replay.dataset import ReplayDatasetError
from btcbot_pipeline.defs.cycle import metadata
from btcbot_pipeline.defs.cycle.checks import check_spec, gate, gate_params
from btcbot_pipeline.defs.cycle.partitions import cycle_times
from btcbot_pipeline.defs.cycle.resources import BookResource, MarketDataResource, SettingsResource
from btcbot_pipeline.domain.cycle import run_cycles
from btcbot_pipeline.domain.ledger import LedgerIntegrityError
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.payloads import (
    snapshot_from_payloads,
    state_from_payload,
    universe_from_payload,
)
from btcbot_pipeline.domain.risk import RiskClear, RiskState
from btcbot_pipeline.domain.risk import state_from_payload as risk_state_from_payload
from btcbot_pipeline.domain.rules import exclude_unusable_rules
from btcbot_pipeline.domain.trace import build_trace
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe
from btcbot_pipeline.quality.rules import (
    FILLS_SUITE,
    INTENTS_SUITE,
    LEDGER_SUITE,
    MARKET_SUITE,
    PLAN_SUITE,
    TRACE_SUITE,
    UNIVERSE_SUITE,
    market_frame,
    trace_frame,
    trading_frames,
    universe_frame,
)
from btcbot_pipeline.settings import BotSettings, SettingsError
from btcbot_pipeline.storage.book import Book, Window
from btcbot_pipeline.storage.rows import cycle_rows, market_rows, trace_rows, universe_rows

GROUP = "cycle"
SINGLE_RUN = dg.BackfillPolicy.single_run()


def _window(context: dg.AssetExecutionContext) -> Window:
    tw = context.partition_time_window
    return Window(tw.start, tw.end)


def _enabled(settings: SettingsResource) -> BotSettings:
    try:
        cfg = settings.get()
    except SettingsError as exc:
        raise dg.Failure(description=f"invalid settings:\n{exc}") from None
    if not cfg.stage7_enabled:
        raise dg.Failure(
            description="STAGE7_ENABLED is false: the Stage 7 dry-run cycle is disabled. "
            "Set STAGE7_ENABLED=true (with DRY_RUN=true), e.g. `cp .env.example .env`."
        )
    return cfg


def _by_cycle(rows: list[tuple[datetime, str]]) -> dict[datetime, list[Any]]:
    grouped: dict[datetime, list[Any]] = defaultdict(list)
    for ts, text in rows:
        grouped[ts].append(json.loads(text))
    return grouped


def _require(grouped: dict[datetime, list[Any]], times: list[datetime], upstream: str) -> None:
    missing = [t for t in times if t not in grouped]
    if missing:
        raise dg.Failure(
            description=f"{upstream} has no rows for {len(missing)} cycle(s) of this window, first {missing[0].isoformat()}: "
            f"materialize {upstream} for the same partitions first"
        )


def build_cycle_assets(partitions_def: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The cycle's assets over ``partitions_def`` (built from settings at load time)."""

    def times_of(context: dg.AssetExecutionContext) -> list[datetime]:
        return cycle_times(partitions_def, context.partition_keys)

    @dg.asset(partitions_def=partitions_def, backfill_policy=SINGLE_RUN, group_name=GROUP, kinds={"duckdb"},
              check_specs=[check_spec(MARKET_SUITE)])
    def market_snapshot(
        context: dg.AssetExecutionContext, settings: SettingsResource, market_data: MarketDataResource, book: BookResource
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        """Every candidate symbol at each cycle time: top of book, 24 h ticker stats, recent
        closes and exchange rules, seeing only data stamped at or before the cycle time.
        A symbol with bad or stale data stays in the table with its skip reason."""
        cfg = _enabled(settings)
        try:
            snapshots = market_data.snapshots(
                times_of(context), vol_lookback=cfg.stage7_vol_lookback, max_data_age_s=cfg.stage7_max_data_age_sec
            )
        except ReplayDatasetError as exc:
            raise dg.Failure(description=f"replay dataset unusable: {exc}") from None
        snapshots = [exclude_unusable_rules(snapshot, cfg.cycle_params().rules) for snapshot in snapshots]
        rows = market_rows(snapshots)
        with book.open() as b:
            yield from gate(b, _window(context), "market_snapshot", [(MARKET_SUITE, market_frame(rows["market_snapshot"], gate_params(cfg), rows["market_cycles"]))])
            b.replace_window(_window(context), rows, passed_stage="market_snapshot")
        yield dg.MaterializeResult(metadata=metadata.market(snapshots))

    @dg.asset(partitions_def=partitions_def, backfill_policy=SINGLE_RUN, group_name=GROUP, kinds={"duckdb"}, deps=[market_snapshot],
              check_specs=[check_spec(UNIVERSE_SUITE)])
    def universe(context: dg.AssetExecutionContext, settings: SettingsResource, book: BookResource) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        """Universe Selection v1: eligible TRY pairs scored on liquidity, spread and
        volatility; the top STAGE7_UNIVERSE_SIZE are the cycle's universe."""
        cfg, times, window = _enabled(settings), times_of(context), _window(context)
        with book.open() as b:
            snapshots = _snapshots(b, window, times)
            params = cfg.cycle_params().universe
            selections = [select_universe(snapshot, params) for snapshot in snapshots]
            rows = universe_rows(selections)
            yield from gate(b, window, "universe", [(UNIVERSE_SUITE, universe_frame(rows["universe"], gate_params(cfg)))])
            b.replace_window(window, rows, passed_stage="universe")
        yield dg.MaterializeResult(metadata=metadata.universe(selections))

    @dg.multi_asset(
        name="trading_cycle",
        specs=[
            dg.AssetSpec("portfolio_plan", deps=[universe, market_snapshot], group_name=GROUP, kinds={"duckdb"},
                         description="Portfolio Policy v1: targets and SELL-first actions with skip reasons, under the cycle's risk mode."),
            dg.AssetSpec("order_intents", deps=["portfolio_plan"], group_name=GROUP, kinds={"duckdb"},
                         description="LIMIT intents on the exchange's tick and lot grids with deterministic client_order_id."),
            dg.AssetSpec("simulated_fills", deps=["order_intents"], group_name=GROUP, kinds={"duckdb"},
                         description="Dry-run fills at mark ± slippage with fees, plus the simulated order trail."),
            dg.AssetSpec(
                "ledger_snapshot",
                deps=["simulated_fills", dg.AssetDep("ledger_snapshot", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))],
                group_name=GROUP,
                kinds={"duckdb"},
                description="The book after the cycle, carried from the previous cycle: cash, positions, PnL, fees, drawdown.",
            ),
        ],
        partitions_def=partitions_def,
        backfill_policy=SINGLE_RUN,
        can_subset=False,
        check_specs=[check_spec(PLAN_SUITE), check_spec(INTENTS_SUITE), check_spec(FILLS_SUITE), check_spec(LEDGER_SUITE)],
    )
    def trading_cycle(
        context: dg.AssetExecutionContext, settings: SettingsResource, book: BookResource
    ) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        """Plan → intents → fills → ledger, cycle by cycle from the last ledger before the window."""
        cfg, times, window = _enabled(settings), times_of(context), _window(context)
        params = cfg.cycle_params()
        with book.open() as b:
            snapshots, selections = _cycle_inputs(b, window, times)
            carried = b.last_ledger_state(window.start)
            # A new book opens from the exchange's balances (live source + credentials) or DRY_RUN_TRY_BALANCE.
            opening = None if carried else opening_for_settings(cfg, snapshots[0])
            state = state_from_payload(json.loads(carried[1])) if carried else opening.state
            carried_from = carried[0].strftime("%Y%m%dT%H%M%SZ") if carried else None
            risk, clear = _risk_inputs(b, window)
            try:
                results = run_cycles(snapshots, selections, state, params, risk=risk, clear=clear)
            except LedgerIntegrityError as exc:
                raise dg.Failure(description=f"ledger integrity error: {exc}") from None
            rows = cycle_rows(results, carried_from, opening_metadata(opening) or None)
            yield from gate(b, window, "trading_cycle", trading_frames(rows, results, gate_params(cfg)))
            b.replace_window(window, rows, passed_stage="trading_cycle")
        yield dg.MaterializeResult(asset_key="portfolio_plan", metadata=metadata.plan(results))
        yield dg.MaterializeResult(asset_key="order_intents", metadata=metadata.intents(results))
        yield dg.MaterializeResult(asset_key="simulated_fills", metadata=metadata.fills(results))
        yield dg.MaterializeResult(asset_key="ledger_snapshot", metadata={**metadata.ledger(results, carried_from), **opening_metadata(opening)})

    @dg.asset(partitions_def=partitions_def, backfill_policy=SINGLE_RUN, group_name=GROUP, kinds={"duckdb"}, deps=["ledger_snapshot"],
              check_specs=[check_spec(TRACE_SUITE)])
    def cycle_trace(context: dg.AssetExecutionContext, settings: SettingsResource, book: BookResource) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
        """The persisted decision trace of each cycle: universe and scores, mode
        (base/override/final), every decision with its reason, plan, intents, rules stats,
        active parameters and ledger metrics. Written in one transaction."""
        cfg, times, window = _enabled(settings), times_of(context), _window(context)
        with book.open() as b:
            traces, run_metrics = _traces(b, window, times, cfg.cycle_params().as_dict())
            rows = trace_rows(traces, run_metrics)
            yield from gate(b, window, "cycle_trace", [(TRACE_SUITE, trace_frame(rows["cycle_trace"], gate_params(cfg)))])
            b.replace_window(window, rows, passed_stage="cycle_trace")
        yield dg.MaterializeResult(metadata=metadata.trace(traces))

    return [market_snapshot, universe, trading_cycle, cycle_trace]


def _risk_inputs(b: Book, window: Window) -> tuple[RiskState | None, RiskClear | None]:
    """The risk state the last decision before the window left, and the operator clears
    not applied yet (applied together at the window's first cycle)."""
    carried = b.last_risk_state(window.start)
    risk = risk_state_from_payload(json.loads(carried[1])) if carried else None
    pending = b.pending_clears(window)
    clear = RiskClear(",".join(c for c, _ in pending), "; ".join(r for _, r in pending)) if pending else None
    return risk, clear


def _snapshots(b: Book, window: Window, times: list[datetime]) -> list[MarketSnapshot]:
    """The window's market snapshots read back from the book, one per cycle time."""
    cycles = _by_cycle(b.column_by_cycle("market_cycles", "payload", window))
    symbols = _by_cycle(b.column_by_cycle("market_snapshot", "payload", window))
    _require(cycles, times, "market_snapshot")
    return [snapshot_from_payloads(t, symbols.get(t, []), cycles[t][0]) for t in times]


def _cycle_inputs(b: Book, window: Window, times: list[datetime]) -> tuple[list[MarketSnapshot], list[UniverseSelection]]:
    snapshots = _snapshots(b, window, times)
    universes = _by_cycle(b.column_by_cycle("universe_selection", "payload", window))
    _require(universes, times, "universe")
    return snapshots, [universe_from_payload(universes[t][0]) for t in times]


def _traces(b: Book, window: Window, times: list[datetime], active_params: dict[str, Any]) -> tuple[list[Any], list[tuple[Any, ...]]]:
    markets = _by_cycle(b.column_by_cycle("market_snapshot", "payload", window))
    cycles = _by_cycle(b.column_by_cycle("market_cycles", "payload", window))
    universes = _by_cycle(b.column_by_cycle("universe_selection", "payload", window))
    plans = _by_cycle(b.column_by_cycle("portfolio_plan", "portfolio_plan_json", window))
    intents = _by_cycle(b.column_by_cycle("order_intents", "intent_json", window))
    fills = _by_cycle(b.column_by_cycle("fills", "payload", window))
    ledgers = _by_cycle(b.column_by_cycle("ledger_metrics", "metrics_json", window))
    _require(plans, times, "portfolio_plan")
    _require(ledgers, times, "ledger_snapshot")
    traces, run_metrics = [], []
    for t in times:
        symbols = markets.get(t, [])
        skipped = [{"symbol": s["symbol"], "reason": s["skip_reason"]} for s in symbols if s["skip_reason"]]
        trace = build_trace(
            market={
                "candidates": len(symbols),
                "skipped": skipped,
                "source": cycles[t][0]["source"] if t in cycles else None,
                "degraded_reason": cycles[t][0]["degraded_reason"] if t in cycles else None,
            },
            universe=universes[t][0],
            plan=plans[t][0],
            intents=intents.get(t, []),
            fills=fills.get(t, []),
            ledger=ledgers[t][0],
            active_params=active_params,
        )
        traces.append(trace)
        summary = json.loads(trace.intents_summary_json)
        run_metrics.append((
            t, trace.cycle_id, trace.final_mode, len(symbols), len(symbols) - len(skipped), len(universes[t][0]["selected"]),
            summary["planned"], summary["skipped"], summary["filled"], ledgers[t][0]["equity_try"],
        ))
    return traces, run_metrics
