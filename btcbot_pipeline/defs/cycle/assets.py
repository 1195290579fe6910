"""The seven cycle assets, built by one factory for both graphs.

:func:`build_cycle_assets` turns a :class:`CycleGraph` into one ``multi_asset`` step whose
seven keys ``market_snapshot → universe → portfolio_plan → order_intents →
simulated_fills → ledger_snapshot → cycle_trace`` are computed together by
:func:`btcbot_pipeline.engine.run_window` (stages handed on in memory; a chunk's tables
written in one transaction). The same factory builds the dry-run graph (group ``cycle``,
one partition per cycle) and one backtest graph per spec (group ``backtest_<name>``, one
partition per UTC day or week). Every asset is range-aware (``partition_keys``) and
single-run; each partition gets its own materialization, check results (:mod:`.checks`)
and log line. Transient failures are retried (:data:`CYCLE_RETRY`); what a retry cannot
fix raises ``dg.Failure(allow_retries=False)``. More: ``docs/cycle.md``.
"""

# No `from __future__ import annotations`: Dagster reads the parameter annotations at runtime.

import logging
import os
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Callable, Iterator

import dagster as dg

from btcbot_pipeline import alerting
from btcbot_pipeline.defs.cycle import metadata
from btcbot_pipeline.defs.cycle.checks import (
    ChunkChecks,
    Limits,
    Tally,
    check_outputs,
    check_spec,
    utc,
)
from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.cycle.partitions import cycle_step_seconds, cycle_ticks, ui_partitions
from btcbot_pipeline.defs.cycle.resources import BookResource, MarketDataResource, SettingsResource
from btcbot_pipeline.domain.oms.venue import SIMULATED
from btcbot_pipeline.engine import (
    PROGRESS_LOGGER,
    ChunkDone,
    EngineError,
    GateStopped,
    Partition,
    PartitionOutputs,
    run_window,
)
from btcbot_pipeline.logs import ROOT_LOGGER
from btcbot_pipeline.quality.rules import SUITES
from btcbot_pipeline.quality.worker import gates_for
from btcbot_pipeline.settings import BotSettings, SettingsError
from btcbot_pipeline.settings.names import unknown_setting_names
from btcbot_pipeline.storage.book import Book, BookError, Window
from btcbot_pipeline.storage.identity import run_identity

GROUP = "cycle"
progress = logging.getLogger(PROGRESS_LOGGER)
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Transient failures (book locked past DuckDBResource's own ~100 s of retries, an exchange
# read timing out): three more attempts after 10 s, 20 s, 40 s. Deterministic refusals
# raise dg.Failure(allow_retries=False) and are never retried.
CYCLE_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)
STAGES = (
    "market_snapshot",
    "universe",
    "portfolio_plan",
    "order_intents",
    "simulated_fills",
    "ledger_snapshot",
    "cycle_trace",
)

_DESCRIPTIONS = {
    "market_snapshot": "Every candidate symbol at each cycle time: top of book, 24 h ticker, recent closes, exchange "
    "rules; only data stamped at or before the cycle. A symbol with bad or stale data stays with its skip reason.",
    "universe": "Universe Selection v1: eligible TRY pairs scored on liquidity, spread and volatility; the top "
    "STAGE7_UNIVERSE_SIZE are the cycle's universe.",
    "portfolio_plan": "Portfolio Policy v1: targets and SELL-first actions with skip reasons, under the cycle's "
    "risk mode.",
    "order_intents": "LIMIT intents on the exchange's tick and lot grids with deterministic client_order_id.",
    "simulated_fills": "Dry-run fills at mark ± slippage with fees, plus the simulated order trail.",
    "ledger_snapshot": "The book after each cycle, carried from the previous cycle: cash, positions, PnL, fees, "
    "drawdown.",
    "cycle_trace": "The decision trace of each cycle (universe, mode, every decision with its reason, plan, intents, "
    "rules stats, parameters, ledger), written in the same transaction as the ledger.",
}


@dataclass(frozen=True)
class CycleGraph:
    """One graph of the seven assets.

    ``calendar``: the graph's keys and their UTC windows (Dagster is given
    :attr:`partitions_def`, the same keys: see :func:`.partitions.ui_partitions`).
    ``cycle_cron``: ``None`` for one cycle per partition (at its window start); a cron for
    coarse partitions holding every tick of it inside their window, clipped to ``span``.
    ``resources``: the keys of the settings, market-data and book resources.
    """

    calendar: dg.TimeWindowPartitionsDefinition
    kind: str = "dry_run"
    name: str = ""
    key_prefix: tuple[str, ...] = ()
    group: str = GROUP
    cycle_cron: str | None = None
    span: tuple[datetime, datetime] | None = None
    resources: tuple[str, str, str] = ("settings", "market_data", "book")
    # The venue resource's key (the live graph's BTCTurk venue); None: the simulation.
    venue: str | None = None
    # Extra metadata for the graph's LAST partition's cycle_trace (a backtest's report and
    # chart): read from the open book while the chunk holding it is gated, and made once
    # that chunk is committed, by calling what it returned.
    final_report: Callable[[Book], Callable[[], dict[str, Any]]] | None = None
    retry_policy: dg.RetryPolicy | None = CYCLE_RETRY

    @cached_property
    def partitions_def(self) -> dg.PartitionsDefinition:
        """What Dagster and its UI see: the calendar's keys, a static list once it ends."""
        return ui_partitions(self.calendar)

    @property
    def last_key(self) -> str | None:
        """The graph's last partition (of a finite calendar: its end; else the last closed)."""
        return self.partitions_def.get_last_partition_key()

    @property
    def module(self) -> str:
        """The code location's module (``dagster … -m``) that holds this graph."""
        return {
            "backtest": "btcbot_pipeline.backtest_definitions",
            "live": "btcbot_pipeline.live_definitions",
        }.get(self.kind, "btcbot_pipeline.definitions")

    @property
    def tags(self) -> dict[str, str]:
        """Tags of every asset of the graph (values: letters, digits, ``_``)."""
        return {"btcbot/graph": self.kind, **({"btcbot/backtest": self.name} if self.name else {})}

    def description(self, stage: str) -> str:
        where = (
            f"Backtest {self.name}, one partition per UTC day or week of cycles: " if self.kind == "backtest" else ""
        )
        return where + _DESCRIPTIONS[stage]

    def report_while_gated(self, book: Book, group: tuple[Partition, ...]) -> Callable[[], dict[str, Any]] | None:
        """The final report, built from the chunk holding the graph's last partition while
        its gates run (it reads the chunk's rows in the open transaction); its metadata
        once called, after the commit."""
        if self.final_report is None or group[-1].key != self.last_key:
            return None
        return self.final_report(book)

    def rebuild_command(self, first_key: str, last_cycle: datetime) -> str:
        """The one run that rewrites this graph's book from ``first_key`` through the
        partition of its last cycle (see :func:`btcbot_pipeline.engine.refuse_inside_chain`)."""
        last_key = self.calendar.get_partition_key_for_timestamp(last_cycle.timestamp())
        return (
            f"dagster asset materialize -m {self.module} --select 'group:{self.group}' "
            f"--partition-range {first_key}...{last_key}"
        )

    def key(self, stage: str) -> dg.AssetKey:
        return dg.AssetKey([*self.key_prefix, stage])

    def partitions(self, keys: list[str]) -> list[Partition]:
        out = []
        for key in keys:
            tw = self.calendar.time_window_for_partition_key(key)
            if self.cycle_cron is None:
                times: tuple[datetime, ...] = (tw.start,)
            else:
                lo, hi = (
                    (tw.start, tw.end)
                    if self.span is None
                    else (max(tw.start, self.span[0]), min(tw.end, self.span[1]))
                )
                times = tuple(cycle_ticks(self.cycle_cron, lo, hi))
            out.append(Partition(key, Window(tw.start, tw.end), times))
        return out


STAGE7_DISABLED = (
    "STAGE7_ENABLED is false: the Stage 7 dry-run cycle is disabled. "
    "Set STAGE7_ENABLED=true (with DRY_RUN=true), e.g. `cp .env.example .env`."
)


def _enabled(settings: SettingsResource, context: dg.AssetExecutionContext, kind: str = "dry_run") -> BotSettings:
    try:
        cfg = settings.get()
    except SettingsError as exc:
        raise dg.Failure(description=f"invalid settings:\n{exc}", allow_retries=False) from None
    # LOG_LEVEL: the level of this bot's loggers in the run (Dagster's own log is dagster.yaml's)
    logging.getLogger(ROOT_LOGGER).setLevel(cfg.log_level)
    if kind == "live":
        # The live cycle (the seeds' Stage 4) is not the Stage 7 dry-run: its own checks
        # are preflight's. Its orders rest on the exchange, so the book follows the limit
        # model's rules (sells do not fund buys in their cycle; fills within the limit).
        return cfg.model_copy(update={"stage7_fill_model": "limit"})
    if not cfg.stage7_enabled:
        raise dg.Failure(description=STAGE7_DISABLED, allow_retries=False)
    # A misspelt name (DRY_RUNN) is read by nobody: say so in the run's log, not only in doctor.
    if settings.env_file is not None:
        for unknown in unknown_setting_names(os.environ, settings.env_file):
            context.log.warning(f"{unknown.message()} (fix: {unknown.fix()})")
    return cfg


def build_cycle_assets(
    calendar: dg.TimeWindowPartitionsDefinition, graph: CycleGraph | None = None
) -> list[dg.AssetsDefinition]:
    """The seven assets of ``graph`` (default: the dry-run graph over ``calendar``)."""
    g = graph or CycleGraph(calendar)
    # A chain: each stage's only dependency is the stage before it. Dagster's UI launches a
    # backfill of a non-subsettable multi-asset by walking these edges from the root and
    # then requires every key's target to be *identical*; a key reached by two edges (the
    # plan from the universe and the snapshot, the ledger from the fills and itself) got
    # an equal subset in another internal form, and the launch was refused or not
    # depending on the webserver's string hash seed. With one path per key every target is
    # the root's own. The ledger's carry from the cycle before is the engine's (``carried_from``
    # in its metadata and the chain gate), not a Dagster edge.
    deps = {stage: [g.key(before)] for before, stage in zip(STAGES, STAGES[1:])} | {STAGES[0]: []}
    specs = [
        dg.AssetSpec(
            g.key(stage),
            deps=deps[stage],
            group_name=g.group,
            kinds={"duckdb"},
            description=g.description(stage),
            skippable=True,
            owners=OWNERS,
            tags={**g.tags, "btcbot/stage": stage},
        )
        for stage in STAGES
    ]
    settings_key, market_key, book_key = g.resources
    prefix = "_".join(g.key_prefix)

    @dg.multi_asset(
        name=f"{prefix}_cycle" if prefix else "cycle",
        specs=specs,
        partitions_def=g.partitions_def,
        backfill_policy=SINGLE_RUN,
        can_subset=False,
        check_specs=[check_spec(suite, g.key(suite.asset), g.partitions_def) for suite in SUITES.values()],
        required_resource_keys={settings_key, market_key, book_key, *([g.venue] if g.venue else [])},
        retry_policy=g.retry_policy,
        op_tags=g.tags,
        description="Every stage of the partitions' cycles in one step, in cycle order, gated and written per chunk "
        "(see the seven assets).",
    )
    def cycle(context: dg.AssetExecutionContext) -> Iterator[Any]:
        """All stages of the partitions' cycles, in order, from the last ledger before them."""
        settings: SettingsResource = getattr(context.resources, settings_key)
        market: MarketDataResource = getattr(context.resources, market_key)
        book: BookResource = getattr(context.resources, book_key)
        if g.kind == "live":  # the arm state: the first lines of every live run
            _arm_state(settings, context)
        cfg = _enabled(settings, context, g.kind)
        split = split_backfill(context, g)
        if split:
            _say(context, split, error=True)
            raise dg.Failure(description=split, allow_retries=False)
        parts = g.partitions(context.partition_keys)
        identity = run_identity(
            cfg,
            kind=g.kind,
            name=g.name or book.name(),
            source=market.source,
            dataset=market.location(),
            window=g.span,
        )
        # per cycle with excluded symbols, what the snapshot stage excluded and why (to
        # name every reason in a market gate failure; a chunk's cycles cleared once it commits)
        tally: dict[datetime, Tally] = {}
        checks = ChunkChecks(
            g.key,
            Limits(
                cfg.stage7_max_excluded_share,
                cfg.stage7_max_spread_bps,
                cfg.stage7_max_data_age_sec,
                cfg.stage7_universe_size,
            ),
            market=lambda ts: tally.get(utc(ts)),
        )

        def after_chunk(b: Book, group: tuple[Partition, ...], stopped: bool) -> _AfterChunk:
            """On the book's thread, once the chunk committed or was stopped (see run_window)."""
            alerts = alerting.chunk_alerts(b, Window(group[0].window.start, group[-1].window.end), cfg, identity)
            if stopped or g.kind != "live":
                return _AfterChunk(alerts)
            # this UTC day's realized PnL, from its day-start baseline
            return _AfterChunk(alerts, {p.key: metadata.realized_today(b, p.times[-1]) for p in group if p.times})

        def snapshots(times: list[datetime]) -> list[Any]:
            bars = {} if bar_seconds is None else {"bar_seconds": bar_seconds}
            snaps = market.snapshots(
                times, vol_lookback=cfg.stage7_vol_lookback, max_data_age_s=cfg.stage7_max_data_age_sec, **bars
            )
            for snap in snaps:
                excluded = [
                    s.skip_reason
                    for s in snap.symbols
                    if s.skip_reason and not s.skip_reason.startswith("rules_unavailable:")
                ]
                if excluded:
                    tally[utc(snap.cycle_ts)] = (len(snap.symbols), Counter(excluded))
            return snaps

        total = sum(len(p.times) for p in parts)
        cycles = 0
        # The limit fill model meets resting orders with the trades since the previous cycle.
        bar_seconds = (
            cycle_step_seconds(cfg.cycle_cron, parts[0].window.start) if cfg.stage7_fill_model == "limit" else None
        )
        try:
            venue = getattr(context.resources, g.venue).open(cfg, context.log) if g.venue else nullcontext(SIMULATED)
            with venue as v, gates_for(total, cfg.gate_validator) as gates, book.open() as b:
                for outcome in run_window(
                    b,
                    parts,
                    cfg=cfg,
                    identity=identity,
                    snapshots=snapshots,
                    opening_balances=market.opening_balances(cfg),
                    gates=gates,
                    summarize=_figures,
                    progress=lambda line: _say(context, line),
                    while_gated=g.report_while_gated,
                    after_chunk=after_chunk,
                    missed=lambda after, first: len(cycle_ticks(cfg.cycle_cron, after, first)) - 1,
                    rebuild=g.rebuild_command,
                    run_id=context.run_id,
                    venue=v,
                    width=market.width(),
                ):
                    if isinstance(outcome, GateStopped):
                        # only this chunk's partitions: later ones never ran (Dagster shows them not executed)
                        yield from checks.evaluations(outcome.partitions, outcome.gates, outcome)
                        stop = checks.stop_description(outcome)
                        # the gate_failure alerts (posted here: a signal can end a POST on this thread)
                        raised = alerting.deliver_chunk_alerts(b, outcome.after.alerts, cfg, identity)
                        alerting.log_chunk_alerts(raised, context.log)
                        progress.error(stop)  # the run's log shows it once, as the Failure's description
                        raise dg.Failure(
                            description=stop,
                            metadata={"failed_checks": sorted({r[3] for r in outcome.failure_rows})},
                            allow_retries=False,  # the same rows fail the same gate again
                        )
                    cycles += outcome.cycles
                    _say(
                        context,
                        f"{outcome.partitions[-1].partition.key}: {cycles}/{total} cycles committed to the book, "
                        f"equity {metadata.money(outcome.partitions[-1].equity_try)} TRY",
                    )
                    yield from _materializations(g, outcome, context)
                    yield from checks.evaluations([p.partition for p in outcome.partitions], outcome.gates)
                    # the next chunk's first batch may already be computed: keep its cycles
                    committed_end = outcome.partitions[-1].partition.window.end
                    for ts in [ts for ts in tally if ts < committed_end]:
                        del tally[ts]
                    if identity.kind != "backtest":  # posted here: a signal can end a POST on this thread
                        outcome.book_idle()
                    raised = alerting.deliver_chunk_alerts(b, outcome.after.alerts, cfg, identity)
                    alerting.log_chunk_alerts(raised, context.log)
        except (BookError, EngineError) as exc:
            # the book refused this run (another kind, its chain of cycles) or the ledger
            # failed its integrity check: a retry would meet the same refusal
            raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from None
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as exc:
            # Dagster answers an interrupt (SIGTERM, SIGINT) with a retry when the op has a retry
            # policy (CYCLE_RETRY): the cycle would run again 10 s later and post its alerts
            # again. End the run instead: the chunk under way was rolled back, the book closed.
            raise dg.Failure(
                description=f"run interrupted ({type(exc).__name__}); not retried", allow_retries=False
            ) from exc
        yield from check_outputs(context.assets_def)

    return [cycle]


@dataclass(frozen=True)
class _AfterChunk:
    """What a chunk's step reads from the book once the chunk is closed: its alerts and,
    for a live graph, each partition's realized PnL today (partition key → figures)."""

    alerts: alerting.ChunkAlerts
    realized_today: dict[str, dict[str, Any]] = field(default_factory=dict)


def _materializations(
    g: CycleGraph, outcome: ChunkDone, context: dg.AssetExecutionContext
) -> Iterator[dg.AssetMaterialization]:
    """Each committed partition's seven materializations (and its log line)."""
    for p in outcome.partitions:
        if p.summary is None:
            continue
        if outcome.extra is not None and p.partition.key == g.last_key:
            p.summary.figures["cycle_trace"].update(outcome.extra())
        if p.partition.key in outcome.after.realized_today:
            p.summary.figures["ledger_snapshot"].update(outcome.after.realized_today[p.partition.key])
        for stage in STAGES:
            yield dg.AssetMaterialization(
                asset_key=g.key(stage), partition=p.partition.key, metadata=p.summary.figures[stage]
            )
        context.log.info(p.summary.line)


def _arm_state(settings: SettingsResource, context: dg.AssetExecutionContext) -> None:
    from btcbot_pipeline.preflight import arm_state_lines

    try:
        lines = arm_state_lines(settings.get())
    except SettingsError as exc:
        lines = [f"arm state unknown: settings refused ({str(exc).splitlines()[0]})"]
    for line in lines:
        _say(context, line)


def backfill_windows(partitions_def: dg.PartitionsDefinition, keys: list[str]) -> list[dg.PartitionKeyRange]:
    """The contiguous windows of ``keys``, as Dagster splits a single-run backfill into runs."""
    return list(partitions_def.subset_with_partition_keys(keys).get_partition_key_ranges(partitions_def))


def split_backfill(context: dg.AssetExecutionContext, g: CycleGraph) -> str | None:
    """Why this run must not write, if it is one of the runs of a backfill that selected
    several separate windows of cycles (single partitions apart, *missing only* around
    materialized ones), else ``None``.

    Dagster runs such a backfill as one run per window. A book is one chain of cycles:
    the windows' runs would carry state across the gaps between them, or be refused by
    the chain if a later one ran first. So every run of it refuses, before writing
    anything, and says what to select instead.
    """
    backfill_id = context.run.tags.get("dagster/backfill")
    backfill = context.instance.get_backfill(backfill_id) if backfill_id else None
    if backfill is None:
        return None
    if backfill.is_asset_backfill:
        data = backfill.asset_backfill_data or backfill.get_asset_backfill_data(context.job_def.asset_layer.asset_graph)
        subset = data.target_subset.partitions_subsets_by_asset_key.get(g.key(STAGES[0]))
        keys = list(subset.get_partition_keys()) if subset is not None else []
    else:
        keys = list(backfill.partition_names or [])
    windows = backfill_windows(g.partitions_def, keys)
    if len(windows) < 2:
        return None
    shown = ", ".join(w.start if w.start == w.end else f"{w.start}…{w.end}" for w in windows[:4])
    more = f" and {len(windows) - 4} more" if len(windows) > 4 else ""
    return (
        f"this backfill selected {len(windows)} separate windows of partitions ({shown}{more}): a book is one "
        f"chain of cycles, so a backfill must be one window, run in one run. Nothing was written. Launch one "
        f"contiguous range instead (every partition from {windows[0].start} through {windows[-1].end}), or each "
        f"window on its own, oldest first."
    )


def _say(context: dg.AssetExecutionContext, line: str, *, error: bool = False) -> None:
    """A progress line: in the run's Dagster log, and on the terminal of `btcbot backtest`."""
    (context.log.error if error else context.log.info)(line)
    (progress.error if error else progress.info)(line)


@dataclass(frozen=True)
class Summary:
    """One partition's metadata per asset and its log line."""

    figures: dict[str, dict[str, Any]]
    line: str


def _figures(partition: Partition, out: PartitionOutputs) -> Summary:
    """Each asset's metadata for one partition, from that partition's own cycles."""
    figures = metadata.partition_figures(
        snapshots=out.snapshots,
        selections=out.selections,
        results=out.results,
        traces=out.traces,
        carried_from=out.carried_from,
    )
    if out.opening:  # the partition that opened the book says from what
        figures["ledger_snapshot"].update(out.opening)
    # cycle times between the carried ledger and this partition's first cycle that never ran
    figures["ledger_snapshot"]["gap_cycles"] = out.gap_cycles
    return Summary(figures, metadata.summary_line(partition.key, out.results, out.selections, out.snapshots))
