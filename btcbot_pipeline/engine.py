"""The cycle engine: a window of cycles through all seven stages, in process, into one book.

Both graphs call :func:`run_window` from their one asset step. It claims the book for the
run's kind (a book never carries state from another kind or source), carries the ledger,
risk state and operator clears from the last cycle before the window, then runs the
window in chunks of whole partitions (:data:`CHUNK_CYCLES`), each in one transaction of
the book and computed in batches (:data:`BATCH_CYCLES`), every stage handed to the next in
memory, the book written on a thread of its own while the next batch is computed. Each
gate suite validates a chunk once before it commits; a failed ERROR
expectation rolls the chunk back and stops the window (:class:`GateStopped`), earlier
chunks staying committed. It refuses, writing nothing, a window inside the book's chain
(:class:`ChainError`) or a book that fails its check (:class:`BookCheckError`). Progress
is reported per chunk (:class:`ChunkDone`). More: ``docs/backtests.md``, ``docs/cycle.md``.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterator, Protocol, Sequence

import pyarrow as pa

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.account import OpeningBalances, opening_metadata
from btcbot_pipeline.domain.adaptation import AdaptationState
from btcbot_pipeline.domain.adaptation.fold import AdaptedCycle, run_adaptive
from btcbot_pipeline.domain.cycle import CycleResult, cycle_id_for, run_cycles
from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
from btcbot_pipeline.domain.ledger import LedgerIntegrityError, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.oms.venue import SIMULATED, Venue
from btcbot_pipeline.domain.payloads import (
    dumps,
    from_payload,
    ledger_state_from_payload,
    ledger_state_payload,
    order_payload,
    risk_state_from_payload,
    risk_state_payload,
    to_payload,
    universe_payload,
)
from btcbot_pipeline.domain.risk import RiskClear, RiskState
from btcbot_pipeline.domain.trace import CycleTrace, build_trace
from btcbot_pipeline.domain.universe import UniverseSelection, select_universes
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.quality.rules import (
    CHAIN_SUITE,
    SUITES,
    Frame,
    GateParams,
    GateResult,
    Suite,
    chain_frame,
    gate_failure_rows,
    window_frames,
)
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import Book, BookIdentity, Window, arrow_tables
from btcbot_pipeline.storage.rows import (
    Columns,
    CyclePayloads,
    Row,
    adaptation_rows,
    chain_digest,
    cycle_rows,
    from_rows,
    market_rows,
    trace_rows,
    universe_rows,
)
from btcbot_pipeline.storage.seal import Digested, seal_from
from btcbot_pipeline.storage.verify import verify_book

# Default largest chunk validated and committed at once (GATE_CHUNK_CYCLES).
CHUNK_CYCLES = 2880
# Cycles computed and written at a time inside a chunk's transaction (four UTC days of
# five-minute cycles): bounds the Python objects alive at once; fewer, larger inserts.
BATCH_CYCLES = 1152
# What those objects scale with is symbols × cycles: a wider market gets fewer cycles a
# batch (:func:`batch_cycles`). 10 symbols keep BATCH_CYCLES; 100 real-data pairs over 20
# days peaked at ~990 MiB in batches of 1,152 cycles, ~750 MiB in batches of one day.
BATCH_SYMBOL_CYCLES = 11_520
# Progress lines (a batch computed, a chunk committed): the asset also logs them to
# Dagster; the `btcbot backtest` command prints this Python logger on the terminal.
PROGRESS_LOGGER = "btcbot.progress"

Snapshots = Callable[[list[datetime]], list[MarketSnapshot]]


class EngineError(BtcbotError):
    """The window cannot run (ledger integrity, an upstream input missing)."""


class ChainError(EngineError):
    """The window lies inside or before the book's chain of cycles: running it alone would
    leave the later cycles starting from a state that no longer exists."""


class BookCheckError(EngineError):
    """The book fails its check (:func:`btcbot_pipeline.storage.verify.verify_book`): a run
    will not carry on from rows that are not what earlier runs committed."""


# The cycles whose rows a run recomputes before it carries on from the book (the book-wide
# SQL checks cover every cycle; `btcbot verify` recomputes all rows).
RUN_CHECK_CYCLES = 12
_SHOWN_FINDINGS = 5


def refuse_broken_book(book: Book, *, cycles: int = RUN_CHECK_CYCLES) -> None:
    """Refuse to run on a book that fails its check, naming the first findings."""
    report = verify_book(book.con, rows_last=cycles)
    errors = report.errors()
    if not errors:
        return
    shown = "\n  ".join(f.line() for f in errors[:_SHOWN_FINDINGS])
    more = f"\n  … and {len(errors) - _SHOWN_FINDINGS} more" if len(errors) > _SHOWN_FINDINGS else ""
    raise BookCheckError(
        f"the book fails its check ({len(errors)} finding{'s' if len(errors) != 1 else ''}): its rows are not what "
        f"earlier runs committed, so this run will not carry on from it. Nothing was written.\n  {shown}{more}\n"
        "`btcbot verify` lists every finding; restore the book from a copy, or rebuild it from its first cycle."
    )


# How a caller names the run that rebuilds the chain from a window's first partition
# through the partition of the book's last cycle (a command line for the user).
Rebuild = Callable[[str, datetime], str]


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition of the run: its key, its window and its cycle times (in order)."""

    key: str
    window: Window
    times: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class CycleOutputs:
    """Everything one chunk computed, in memory, before it is gated and written."""

    snapshots: list[MarketSnapshot]
    selections: list[UniverseSelection]
    results: list[CycleResult]
    traces: list[CycleTrace]
    rows: dict[str, Columns]
    carried_from: str | None
    opening: dict[str, str] | None
    gap_cycles: int = 0  # cycle times skipped before the first cycle (see compute)
    adapted: list[AdaptedCycle] | None = None  # per cycle, when parameters adapt


@dataclass(frozen=True, slots=True)
class PartitionDone:
    """One partition of a passing chunk: ``summary`` is what the caller's ``summarize``
    made of its cycles' outputs (the outputs themselves are not kept)."""

    partition: Partition
    summary: Any
    equity_try: Decimal  # after the partition's last cycle


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """A chunk passed its gates and is committed to the book."""

    partitions: tuple[PartitionDone, ...]
    gates: tuple[GateResult, ...]
    seconds: float
    extra: Any = None  # what ``while_gated`` returned for this chunk
    after: Any = None  # what ``after_chunk`` returned for it
    checkpoint: Future[None] | None = None  # the writer's checkpoint after it, under way

    @property
    def cycles(self) -> int:
        return sum(len(p.partition.times) for p in self.partitions)

    def book_idle(self) -> None:
        """Wait until the book's writer is done with it (the checkpoint after the window's last
        chunk): call it before using the book while holding this outcome (see :func:`run_window`)."""
        if self.checkpoint is not None:
            self.checkpoint.result()


@dataclass(frozen=True, slots=True)
class GateStopped:
    """A chunk failed an ERROR expectation: nothing of it was written."""

    partitions: tuple[Partition, ...]
    gates: tuple[GateResult, ...]
    failure_rows: tuple[tuple[Any, ...], ...]
    after: Any = None  # what ``after_chunk`` returned for it

    @property
    def first_failure(self) -> tuple[Any, ...]:
        return min(self.failure_rows, key=lambda r: (r[0], r[3], r[4]))


class Gates(Protocol):
    """The gate suites' runner (:mod:`btcbot_pipeline.quality.worker`: in this process or a worker)."""

    def frame(self, suite: Suite, frame: Frame) -> Any: ...

    def submit(self, suite: Suite, frames: list[Any]) -> Callable[[], tuple[GateResult, Frame]]: ...


@dataclass(frozen=True, slots=True)
class PartitionOutputs:
    """One partition's cycles, for its summary (Dagster metadata)."""

    snapshots: Sequence[MarketSnapshot]
    selections: Sequence[UniverseSelection]
    results: Sequence[CycleResult]
    traces: Sequence[CycleTrace]
    carried_from: str | None
    opening: dict[str, str] | None
    gap_cycles: int = 0  # cycle times skipped between the carried ledger and this partition


Summarize = Callable[[Partition, PartitionOutputs], Any]
WhileGated = Callable[[Book, tuple[Partition, ...]], Any]
# (book, the chunk's partitions, stopped by its gates): see run_window
AfterChunk = Callable[[Book, tuple[Partition, ...], bool], Any]


@dataclass(frozen=True, slots=True)
class RunTimes:
    """What ``run_metrics`` records of the run itself: its Dagster run id and how long the
    batch's snapshots took (the other stages are timed where they run)."""

    run_id: str = ""
    market_s: float = 0.0


@dataclass
class Carry:
    """What the window starts from: the book's last cycle before it, or nothing (opening)."""

    state: LedgerState | None
    carried_ts: datetime | None  # the carried ledger's cycle time
    risk: RiskState | None
    clear: RiskClear | None = None
    # the parameter adaptation's state the carried cycle left (None: not adapting then)
    adaptation: AdaptationState | None = None

    @property
    def carried_from(self) -> str | None:
        """The carried cycle's id, ``None`` when the book opens."""
        return None if self.carried_ts is None else cycle_id_for(self.carried_ts)

    @property
    def digest(self) -> str | None:
        """The chain digest of the state this window really starts from (re-serialised from
        the objects, not copied from the book's text), ``None`` when the book opens."""
        if self.state is None:
            return None
        risk = None if self.risk is None else dumps(risk_state_payload(self.risk))
        return chain_digest(dumps(ledger_state_payload(self.state)), risk)


def chunks(partitions: Sequence[Partition], limit: int = CHUNK_CYCLES) -> list[tuple[Partition, ...]]:
    """Consecutive whole partitions, at most ``limit`` cycles a chunk (a larger partition is a
    chunk alone): as few chunks as filling each up to ``limit`` makes, as even as the
    partitions allow.

    Even, because a run's last chunk is closed (sealed, gated, committed) and reported on
    with nothing left to compute beside it: a 20-day backtest from 05:00 filled 2,820 +
    2,880 + 60 cycles, and the second chunk's close then waited with only 60 cycles to
    compute meanwhile, before the third's own close; 1,956 + 2,016 + 1,788 overlaps all but
    the last close with computing."""
    filled = _filled(partitions, limit)
    count = len(filled)
    if count <= 1:
        return filled
    low, high = -(-sum(len(p.times) for p in partitions) // count), limit  # the smallest cap keeping count
    while low < high:
        middle = (low + high) // 2
        if len(_filled(partitions, middle)) <= count:
            high = middle
        else:
            low = middle + 1
    return _filled(partitions, low)


def _filled(partitions: Sequence[Partition], limit: int) -> list[tuple[Partition, ...]]:
    """Consecutive whole partitions, each group filled up to ``limit`` cycles before the next."""
    out: list[tuple[Partition, ...]] = []
    current: list[Partition] = []
    size = 0
    for p in partitions:
        if current and size + len(p.times) > limit:
            out.append(tuple(current))
            current, size = [], 0
        current.append(p)
        size += len(p.times)
    if current:
        out.append(tuple(current))
    return out


def carry_in(book: Book, window: Window) -> Carry:
    """The ledger and risk state the last cycle before ``window`` closed with, and the
    operator clears no decision outside it applied yet (a re-run of the window applies them again)."""
    last = book.last_ledger_state(window.start)
    pending = book.pending_clears(window)
    adapted = book.query("SELECT state_json FROM params_active WHERE cycle_ts = ?", [last[0]]) if last else []
    return Carry(
        state=ledger_state_from_payload(json.loads(last[1])) if last else None,
        carried_ts=last[0] if last else None,
        risk=risk_state_from_payload(json.loads(last[2])) if last and last[2] is not None else None,
        clear=RiskClear(",".join(c for c, _ in pending), "; ".join(r for _, r in pending)) if pending else None,
        adaptation=from_payload(AdaptationState, json.loads(adapted[0][0])) if adapted else None,
    )


def compute(
    snapshots: list[MarketSnapshot],
    carry: Carry,
    cfg: BotSettings,
    active_params: dict[str, Any],
    missed: Callable[[datetime, datetime], int] | None = None,
    run: RunTimes | None = None,
    *,
    opening_balances: OpeningBalances,
    venue: Venue = SIMULATED,
) -> CycleOutputs:
    """All stages of consecutive cycles from ``carry``: pure computation, nothing written.

    ``run``: the run's id and the snapshots' time, for ``run_metrics`` (each stage's time is
    shared evenly by the batch's cycles); ``opening_balances``: what a new book (no ``carry``)
    opens with, the venue's account or ``DRY_RUN_TRY_BALANCE``; ``venue``: where the orders go."""
    run = run or RunTimes()
    clock = time.perf_counter()
    params = cfg.cycle_params()
    adaptation = cfg.adaptation_params()
    snapshots = [exclude_unusable_rules(s, params.rules) for s in snapshots]
    selections = [] if adaptation.enabled else select_universes(snapshots, params.universe)
    universe_s, clock = time.perf_counter() - clock, time.perf_counter()
    opening = None
    state = carry.state
    if state is None:  # a new book opens from the exchange's balances or DRY_RUN_TRY_BALANCE
        opened = opening_balances(snapshots[0])
        state, opening = opened.state, opening_metadata(opened)
    adapted: list[AdaptedCycle] | None = None
    try:
        if adaptation.enabled:  # each cycle with the parameters in force (its universe too)
            selections, results, adapted = run_adaptive(
                snapshots, state, params, adaptation, carry.adaptation, risk=carry.risk, clear=carry.clear, venue=venue
            )
        else:
            results = run_cycles(snapshots, selections, state, params, risk=carry.risk, clear=carry.clear, venue=venue)
    except LedgerIntegrityError as exc:
        raise EngineError(f"ledger integrity error: {exc}") from None
    trading_s, clock = time.perf_counter() - clock, time.perf_counter()
    rows: dict[str, Columns] = {**market_rows(snapshots), **universe_rows(selections)}
    payloads = [CyclePayloads.of(res) for res in results]
    # Cycle times skipped between the carried ledger and this batch (a missed run, a gap in
    # the partitions): recorded as gap_cycles on the first cycle; its gate warns.
    gap = missed(carry.carried_ts, snapshots[0].cycle_ts) if missed is not None and carry.carried_ts is not None else 0
    rows.update(cycle_rows(results, carry.carried_from, gap, carry.digest))
    per_cycle_params = _adapted_params(adapted) if adapted is not None else None
    traces, run_metrics = _traces(
        snapshots, selections, results, payloads, opening, carry.carried_from, active_params, per_cycle_params
    )
    n = len(results)
    per_cycle = (
        run.run_id,
        *(round(1000 * t / n, 3) for t in (run.market_s, universe_s, trading_s, time.perf_counter() - clock)),
    )
    run_metrics = [(*row, *per_cycle, None, None) for row in run_metrics]
    rows.update(trace_rows(traces, from_rows("run_metrics", run_metrics), [r.cycle_ts for r in results]))
    if adapted is not None:
        rows.update(adaptation_rows(results, adapted, first=carry.adaptation is None))
    return CycleOutputs(snapshots, selections, results, traces, rows, carry.carried_from, opening, gap, adapted)


def _traces(
    snapshots: Sequence[MarketSnapshot],
    selections: Sequence[UniverseSelection],
    results: Sequence[CycleResult],
    payloads: Sequence[CyclePayloads],
    opening: dict[str, str] | None,
    carried_from: str | None,
    active_params: dict[str, Any],
    per_cycle_params: list[dict[str, Any]] | None = None,
) -> tuple[list[CycleTrace], list[Row]]:
    """Each cycle's trace from its stages' payloads, handed over in memory (``per_cycle_params``:
    when parameters adapt, each cycle's own, with its version and change)."""
    traces: list[CycleTrace] = []
    run_metrics: list[Row] = []
    first = carried_from is None
    for k, (snap, sel, res, pay) in enumerate(zip(snapshots, selections, results, payloads)):
        skipped = [{"symbol": s.symbol, "reason": s.skip_reason} for s in snap.symbols if s.skip_reason]
        ledger = dict(pay.metrics)
        if first and opening:
            ledger["opening"] = opening
        first = False
        fills = pay.fills
        trace = build_trace(
            market={
                "candidates": len(snap.symbols),
                "skipped": skipped,
                "source": snap.source,
                "degraded_reason": snap.degraded_reason,
            },
            universe=universe_payload(sel),
            plan=pay.plan,
            intents=pay.intents,
            fills=fills,
            ledger=ledger,
            active_params=active_params if per_cycle_params is None else per_cycle_params[k],
            orders=[order_payload(o) for o in res.orders],
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
                len(fills),
                res.metrics.equity_try,
                max((s.staleness_s for s in snap.symbols if s.staleness_s is not None), default=None),
            )
        )
    return traces, run_metrics


def _adapted_params(adapted: Sequence[AdaptedCycle]) -> list[dict[str, Any]]:
    """Each cycle's ``active_params``: the values in force, the version and the change it decided."""
    by_version: dict[int, dict[str, Any]] = {}
    out = []
    for a in adapted:
        base = by_version.get(a.version)
        if base is None:
            base = by_version[a.version] = a.params.as_dict()
        change = None if a.change is None else to_payload(a.change)
        out.append({**base, "adaptation": {"active_param_version": a.version, "param_change": change}})
    return out


def batches(partitions: Sequence[Partition], limit: int = BATCH_CYCLES) -> list[tuple[Partition, ...]]:
    return _filled(partitions, limit)


def batch_cycles(width: int | None) -> int:
    """Most cycles a batch holds for snapshots of ``width`` symbols (``None``: not known):
    about :data:`BATCH_SYMBOL_CYCLES` symbol-cycles, never more than :data:`BATCH_CYCLES`
    cycles. A batch is whole partitions all the same: one larger than this is a batch alone."""
    if width is None or width <= 0:
        return BATCH_CYCLES
    return max(1, min(BATCH_CYCLES, BATCH_SYMBOL_CYCLES // width))


def run_window(
    book: Book,
    partitions: Sequence[Partition],
    *,
    cfg: BotSettings,
    identity: BookIdentity,
    snapshots: Snapshots,
    opening_balances: OpeningBalances,
    gates: Gates,
    summarize: Summarize,
    chunk_cycles: int | None = None,
    progress: Callable[[str], None] | None = None,
    while_gated: WhileGated | None = None,
    after_chunk: AfterChunk | None = None,
    missed: Callable[[datetime, datetime], int] | None = None,
    rebuild: Rebuild | None = None,
    run_id: str = "",
    venue: Venue = SIMULATED,
    width: int | None = None,
) -> Iterator[ChunkDone | GateStopped]:
    """Run ``partitions`` (consecutive, in time order) into ``book``; yields each chunk's outcome.

    A chunk is computed in batches of about four days of cycles (fewer for snapshots of
    more than ten symbols, ``width``, when the caller knows it: :func:`batch_cycles`); each
    batch's rows go into the book inside the chunk's open transaction and its gate frames
    (narrow, typed) are kept; the suites then validate the whole chunk once and the
    transaction commits, or rolls back on an ERROR failure. Stops after the first :class:`GateStopped`. The book is
    written on a thread of its own while the next batch is computed (at most two batches
    held at once); a chunk's outcome is yielded before anything computed ahead of it.

    The book is the writer's while an outcome is yielded: once the window's last chunk has
    committed, the writer checkpoints the book (compresses the run's rows into the file)
    while the caller reports that chunk, instead of when the book closes, with nothing left
    to overlap. Earlier chunks stay in the write-ahead log until then: a checkpoint after
    each would compress the tables' last row groups again each time (a 20-day book: 50
    instead of 40 MB). So the caller does not use the book while it holds a
    :class:`ChunkDone` without calling its ``book_idle()`` first: what it needs from the
    book after a chunk (its alerts, say) it asks of ``after_chunk(book, partitions,
    stopped)``, which runs on the writer's thread once the chunk has committed, or has been
    stopped by its gates (rolled back, its failures recorded), and whose return value the
    outcome carries (``after``).
    ``while_gated(book, partitions)`` runs there too, in the chunk's open transaction while
    its gates validate (``extra``).

    Raises:
        ChainError: the book holds cycles after the window (see :func:`refuse_inside_chain`).
    """
    book.claim(identity)
    refuse_broken_book(book)
    refuse_inside_chain(book, partitions, rebuild)
    with (
        _fewer_collections(),
        _quick_handover(),
        _system_allocator(),
        book.memory_capped(BOOK_MEMORY_LIMIT),
        book.single_threaded(),
    ):
        yield from _run(
            book,
            partitions,
            cfg,
            snapshots,
            opening_balances,
            gates,
            summarize,
            (chunk_cycles or cfg.gate_chunk_cycles, batch_cycles(width)),
            progress,
            while_gated,
            after_chunk,
            missed,
            run_id,
            venue,
        )


def refuse_inside_chain(book: Book, partitions: Sequence[Partition], rebuild: Rebuild | None = None) -> None:
    """Refuse a window with later cycles in the book.

    Every cycle opens from the state the one before it closed with, so re-running a cycle
    inside the chain (other parameters, fixed data) or filling in a cycle before it would
    leave every later cycle carrying a state that is no longer the book's. We refuse, and
    name the one run that rebuilds the chain from the window's first partition through the
    book's last cycle (``rebuild``): the user chooses to rewrite those cycles."""
    later = book.cycles_from(partitions[-1].window.end)
    if later is None:
        return
    n, first, last = later
    first_key, last_key = partitions[0].key, partitions[-1].key
    window = first_key if first_key == last_key else f"{first_key}…{last_key}"
    how = (
        rebuild(first_key, last)
        if rebuild is not None
        else "run every partition from there through the last one in one run"
    )
    raise ChainError(
        f"the book holds {n} later cycle{'s' if n != 1 else ''} ({utc.minute_text(first)} … {utc.minute_text(last)} "
        "UTC) "
        f"carried on from the state {window} would replace: running it alone would break the book's chain. "
        f"Nothing was written. To rebuild from {first_key} through the book's last cycle, in one run: {how}"
    )


# Allocations between young collections while a run keeps a batch's objects alive.
QUIET_GC_THRESHOLD = 200_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often during a run, then restore the process's setting.

    A backtest keeps tens of thousands of small objects alive per batch, and Python's
    cyclic collector would walk them over and over (25–50 % of the fold's time measured);
    the cycles' objects form no reference cycles, so the memory they use is freed as soon
    as a batch is written either way."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], QUIET_GC_THRESHOLD), before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# Python's switch interval while the book's thread writes beside the computing one.
HANDOVER_S = 0.0002


@contextmanager
def _quick_handover() -> Iterator[None]:
    """Hand the GIL over sooner while the book's thread writes, then restore the process's setting.

    DuckDB takes the GIL back now and then while it scans a batch's Arrow tables; at
    Python's default switch interval (5 ms) each time waited for the computing thread's
    turn to end, and an insert that takes 0.08 s alone took several times that. A 20-day
    trading backtest: 11.8 s against 10.65 s wall (medians of 3 paired runs), same CPU."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, HANDOVER_S))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@contextmanager
def _system_allocator() -> Iterator[None]:
    """Arrow allocates from the C library's allocator during a run, then from the pool it had.

    pyarrow's default pool (mimalloc here) kept the pages of each batch's freed Arrow
    tables: built on the computing thread and freed on the writer's once inserted, they
    were not given back. A 20-day trading backtest peaked at 507 against 557 MiB, and took
    0.96x the wall time (6 paired runs)."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


# DuckDB's memory limit while a run writes the book (its default is 80 % of the machine's).
# Uncapped, DuckDB kept a run's committed rows and their cached blocks in memory until its
# next checkpoint (~130 MiB at a 20-day backtest's chunk commits); capped, it evicts them
# and the largest process peaked ~100 MiB lower, in the same time.
BOOK_MEMORY_LIMIT = "96MB"


def _run(
    book: Book,
    partitions: Sequence[Partition],
    cfg: BotSettings,
    snapshots: Snapshots,
    opening_balances: OpeningBalances,
    gates: Gates,
    summarize: Summarize,
    sizes: tuple[int, int],
    progress: Callable[[str], None] | None,
    while_gated: WhileGated | None,
    after_chunk: AfterChunk | None,
    missed: Callable[[datetime, datetime], int] | None,
    run_id: str,
    venue: Venue,
) -> Iterator[ChunkDone | GateStopped]:
    active = cfg.cycle_params().as_dict()
    gp = GateParams(cycle=cfg.cycle_params(), max_excluded_share=cfg.stage7_max_excluded_share)
    carry = carry_in(book, Window(partitions[0].window.start, partitions[-1].window.end))
    total, started = sum(len(p.times) for p in partitions), time.perf_counter()
    computed = 0

    def compute_batch(batch: tuple[Partition, ...], carry: Carry) -> CycleOutputs | None:
        nonlocal computed
        times = [t for p in batch for t in p.times]
        if not times:
            return None
        clock = time.perf_counter()
        snaps = snapshots(times)
        out = compute(
            snaps,
            carry,
            cfg,
            active,
            missed,
            RunTimes(run_id, time.perf_counter() - clock),
            opening_balances=opening_balances,
            venue=venue,
        )
        computed += len(times)
        if progress is not None:
            progress(
                f"{batch[-1].key}: {computed}/{total} cycles computed "
                f"({computed / (time.perf_counter() - started):,.0f} cycles/s), equity "
                f"{out.results[-1].metrics.equity_try:.2f} TRY"
            )
        return out

    # The book is written on one thread of its own, in order, while this one computes the
    # next batch: DuckDB releases the GIL while it inserts, seals and commits, so on two
    # cores the writes overlap the (pure Python) stages instead of following them. Only
    # one thread uses the connection at a time: this one touches the book only before the
    # first chunk; from then on every use of it is a task of the writer's, in order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="btcbot-book-writer") as writer:
        chunk_limit, batch_limit = sizes  # most cycles a chunk, a batch holds
        groups = chunks(partitions, chunk_limit)
        lookahead: tuple[tuple[Partition, ...], CycleOutputs | None] | None = None
        checkpointed: Future[None] = Future()
        checkpointed.set_result(None)  # until the window's last chunk has committed
        for n, group in enumerate(groups):
            t0 = time.perf_counter()
            window = Window(group[0].window.start, group[-1].window.end)
            group_batches = batches(group, batch_limit)
            frames = _ChunkFrames(gates, gp, len(group_batches))
            done: list[PartitionDone] = []
            next_carry = carry
            writer.submit(_open_chunk, book, window).result()
            digested = Digested(window.start)
            pending_insert: Future[None] | None = None
            try:
                for batch in group_batches:
                    if lookahead is not None and lookahead[0] == batch:
                        out, lookahead = lookahead[1], None
                    else:
                        out = compute_batch(batch, next_carry)
                    frames.add(out)
                    if out is None:
                        done += [PartitionDone(p, None, Decimal(0)) for p in batch]
                        continue
                    # Arrow is built here: from Decimals it holds the GIL, the writer's DuckDB does not
                    clock = time.perf_counter()
                    tables = arrow_tables(out.rows)
                    converted_s = time.perf_counter() - clock
                    out.rows.clear()  # in Arrow now: the Python values go before the next batch is made
                    if pending_insert is not None:
                        pending_insert.result()  # one batch in flight: bounded memory, errors seen here
                    pending_insert = writer.submit(_write_batch, book, batch, tables, converted_s, digested)
                    del tables  # the writer's alone now: freed once inserted, not after the next batch
                    done += _summaries(batch, out, summarize)
                    last = out.results[-1]
                    next_carry = Carry(
                        last.state,
                        last.cycle_ts,
                        last.risk.state if last.risk is not None else None,
                        adaptation=out.adapted[-1].state if out.adapted else None,
                    )
                    del out, last  # the batch's objects go before the next batch is computed
                closing = writer.submit(_close_chunk, book, group, window, frames, while_gated, after_chunk, digested)
                # the next chunk's first batch is computed while this one is sealed, gated and committed
                ahead_failed: BaseException | None = None
                if n + 1 < len(groups):
                    first = batches(groups[n + 1], batch_limit)[0]
                    try:
                        lookahead = (first, compute_batch(first, next_carry))
                    except BaseException as exc:
                        ahead_failed = exc  # raised after this chunk's outcome, as if the batch had not begun
                outcome = _closed(closing, pending_insert)
            except BaseException:
                _drain(writer)
                book.rollback()
                raise
            if isinstance(outcome, GateStopped):
                yield outcome
                return  # what was computed ahead (or its failure) is dropped with the window
            if n + 1 == len(groups):  # while the caller reports it (the writer is idle else)
                checkpointed = writer.submit(book.checkpoint)
            carry = next_carry
            yield ChunkDone(
                tuple(done), outcome.verdicts, time.perf_counter() - t0, outcome.extra, outcome.after, checkpointed
            )
            if ahead_failed is not None:
                raise ahead_failed
        checkpointed.result()


@dataclass(frozen=True, slots=True)
class _ChunkClosed:
    """A chunk passed its gates and committed (on the writer's thread): its verdicts and
    what ``while_gated`` and ``after_chunk`` returned."""

    verdicts: tuple[GateResult, ...]
    extra: Any
    after: Any


def _open_chunk(book: Book, window: Window) -> None:
    book.begin()
    book.clear_window(window)


def _write_batch(
    book: Book, batch: tuple[Partition, ...], tables: dict[str, Any], converted_s: float, digested: Digested
) -> None:
    """Insert a batch's Arrow tables (``write_ms``: their conversion and insert, per cycle),
    then digest its rows as stored for the chunk's seal."""
    clock = time.perf_counter()
    book.insert_rows(tables)
    n = sum(len(p.times) for p in batch)
    ms = round(1000 * (converted_s + time.perf_counter() - clock) / n, 3)
    written = Window(batch[0].window.start, batch[-1].window.end)
    book.record_durations(written, "write_ms", ms)
    digested.add(book.con, written.end)


class _ChunkFrames:
    """A chunk's gate frames, batch by batch (narrow, typed). Its suites go to the gates as
    soon as the last batch's frames are in, to validate beside that batch's write rather
    than after it; the chain suite, which reads the book as written, waits for the close."""

    def __init__(self, gates: Gates, gp: GateParams, batches: int) -> None:
        self._gates, self._gp, self._left = gates, gp, batches
        self._frames: dict[str, list[Any]] = {name: [] for name in SUITES if name != CHAIN_SUITE.name}
        self._pending: dict[str, Callable[[], tuple[GateResult, Frame]]] = {}

    def add(self, out: CycleOutputs | None) -> None:
        """One batch's frames (``None``: a batch without cycles)."""
        if out is not None:
            for suite, recs in window_frames(out.rows, out.results, self._gp):
                self._frames[suite.name].append(self._gates.frame(suite, recs))
        self._left -= 1
        if self._left == 0:
            self._pending = {name: self._gates.submit(SUITES[name], f) for name, f in self._frames.items()}
            self._frames = {}

    def verdicts(self, book: Book, window: Window) -> list[Callable[[], tuple[GateResult, Frame]]]:
        """Every suite's verdict to come, in :data:`SUITES` order, the chain's handed over now:
        it is checked over the book itself (the window's cycles as written, the cycle before
        it and the one after it, whoever wrote them)."""
        chain = [self._gates.frame(CHAIN_SUITE, chain_frame(book.chain(window)))]
        pending = {**self._pending, CHAIN_SUITE.name: self._gates.submit(CHAIN_SUITE, chain)}
        return [pending[name] for name in SUITES]


def _close_chunk(
    book: Book,
    group: tuple[Partition, ...],
    window: Window,
    frames: _ChunkFrames,
    while_gated: WhileGated | None,
    after_chunk: AfterChunk | None,
    digested: Digested,
) -> _ChunkClosed | GateStopped:
    clock = time.perf_counter()
    n_chunk = sum(len(p.times) for p in group)
    # Whatever else went wrong, a chunk is never sealed or committed without all its cycles.
    written = book.ledger_count(window)
    if written != n_chunk:
        raise EngineError(
            f"the book holds {written} of the {n_chunk} cycles of {group[0].key}…{group[-1].key} once written: "
            "not committed"
        )
    pending = frames.verdicts(book, window)
    # The chunk's rows are in the (open) transaction: work that reads them runs
    # while the gates validate (a backtest's report); it is dropped on a rollback.
    report_clock = time.perf_counter()
    extra = while_gated(book, group) if while_gated is not None else None
    # the rows as stored, for `btcbot verify` and the next run
    seal_from(book.con, window.start, digested=digested)
    report_s = time.perf_counter() - report_clock
    results = [result() for result in pending]
    if n_chunk:  # the gates' own time, not the report built while they ran
        book.record_durations(window, "gates_ms", round(1000 * (time.perf_counter() - clock - report_s) / n_chunk, 3))
    verdicts = tuple(r for r, _ in results)
    blocking = [(g, recs) for g, recs in results if g.blocking]
    if blocking:
        book.rollback()
        failures: list[tuple[Any, ...]] = []
        for g, recs in blocking:
            failures += gate_failure_rows(g, recs, cycle_id_for)
        book.record_gate_failure(window, failures)
        return GateStopped(group, verdicts, tuple(failures), after_chunk(book, group, True) if after_chunk else None)
    book.commit()
    return _ChunkClosed(verdicts, extra, after_chunk(book, group, False) if after_chunk else None)


def _closed(closing: Future[_ChunkClosed | GateStopped], last_write: Future[None] | None) -> _ChunkClosed | GateStopped:
    """The chunk's close, once its last batch's write is known to have gone in. A failed write
    is the chunk's error, not what the close queued behind it then met: a transaction DuckDB
    aborted ("Current transaction is aborted"), or, where the failure left it open, a commit
    without the batch's rows."""
    if last_write is not None:
        last_write.result()
    return closing.result()


def _drain(writer: ThreadPoolExecutor) -> None:
    """Wait for the writer's queued work (its errors are not this exception's cause)."""
    try:
        writer.submit(lambda: None).result()
    except BaseException:
        pass


def _summaries(batch: Sequence[Partition], out: CycleOutputs, summarize: Summarize) -> list[PartitionDone]:
    """Each partition's summary from its slice of the batch's outputs."""
    done: list[PartitionDone] = []
    i = 0
    carried = out.carried_from
    for p in batch:
        n = len(p.times)
        if n == 0:
            done.append(PartitionDone(p, None, Decimal(0)))
            continue
        view = PartitionOutputs(
            snapshots=out.snapshots[i : i + n],
            selections=out.selections[i : i + n],
            results=out.results[i : i + n],
            traces=out.traces[i : i + n],
            carried_from=carried,
            opening=out.opening if carried is None else None,
            gap_cycles=out.gap_cycles if i == 0 else 0,
        )
        done.append(PartitionDone(p, summarize(p, view), view.results[-1].metrics.equity_try))
        carried = view.results[-1].cycle_id
        i += n
    return done
