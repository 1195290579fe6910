"""One trading cycle after universe selection, as a pure function of its inputs.

:func:`run_cycle` takes the cycle's market snapshot, its universe and the ledger carried
from the previous cycle and runs, in order: risk-mode decision → portfolio plan → order
intents → execution (the cycle's venue: the simulation unless told otherwise) → ledger.
:func:`run_cycles` folds it over consecutive cycles,
each starting from the ledger the previous one left, which is how a range of partitions
is replayed in one Dagster run and how a backtest runs. The fold also carries the risk
budget (:mod:`~btcbot_pipeline.domain.risk`): each cycle's base mode is the decision the
previous cycle took from its closing equity, and an operator clear applies at the first
cycle of the fold.

Orders open from earlier cycles (the limit model's resting ones) count as done for the
plan (:func:`_after_open_orders`); one the market has left behind is replaced
(:func:`_stale`), one the plan wants smaller is amended (:mod:`~btcbot_pipeline.domain.amend`:
the plan is built again without it), one it no longer wants is dropped (:func:`_wanted`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Collection, Iterable, Iterator, Mapping, NamedTuple, Sequence

from btcbot_pipeline.domain import amend, utc
from btcbot_pipeline.domain.exchange_rules import EffectiveRules, resolve_rules, rules_stats
from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.intents import OrderIntent, build_intents
from btcbot_pipeline.domain.knobs import apply_knobs
from btcbot_pipeline.domain.ledger import LedgerMetrics, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor
from btcbot_pipeline.domain.oms import Bar, OmsEvent, OmsStep, OrderStatus, SimOrder
from btcbot_pipeline.domain.oms.venue import SIMULATED, ExecutionRequest, Venue
from btcbot_pipeline.domain.params import CycleParams, InvalidMetadataPolicy
from btcbot_pipeline.domain.plan import PortfolioPlan, build_plan
from btcbot_pipeline.domain.risk import (
    NO_INPUTS,
    RiskClear,
    RiskDecision,
    RiskState,
    apply_clear,
    decide_with_text,
    limits_text,
    uses_inputs,
)
from btcbot_pipeline.domain.risk_inputs import risk_inputs
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe
from btcbot_pipeline.domain.vocabulary import Mode, Side, combine_modes

cycle_id_for = utc.cycle_id
"""``2026-01-01T00:30Z`` → ``20260101T003000Z``: the cycle's id (:func:`.utc.cycle_id`)."""


@dataclass(frozen=True, slots=True)
class ModeDecision:
    base: Mode
    override: Mode | None
    final: Mode
    reasons: tuple[str, ...]


def decide_mode(
    base: Mode,
    *,
    kill_switch: bool,
    rules: Iterable[EffectiveRules],
    policy: InvalidMetadataPolicy,
    market_degraded: str | None = None,
    base_reasons: tuple[str, ...] = (),
) -> ModeDecision:
    """The cycle's final mode: ``base`` tightened by the kill switch, a degraded market
    snapshot and the metadata policy. Never looser than ``base``. ``base_reasons`` (the
    risk budget's) come first in the reasons."""
    reasons: list[str] = list(base_reasons)
    overrides: list[Mode] = []
    if market_degraded is not None:
        overrides.append(Mode.OBSERVE_ONLY)
        reasons.append(f"market_data_degraded:{market_degraded}")
    if kill_switch:
        overrides.append(Mode.OBSERVE_ONLY)
        reasons.append("kill_switch")
    if policy is InvalidMetadataPolicy.OBSERVE_ONLY_CYCLE:
        unusable = sorted(r.symbol for r in rules if not r.usable)
        if unusable:
            overrides.append(Mode.OBSERVE_ONLY)
            reasons.append("rules_unavailable:" + ",".join(unusable))
    override = combine_modes(Mode.NORMAL, *overrides) if overrides else None
    return ModeDecision(base=base, override=override, final=combine_modes(base, override), reasons=tuple(reasons))


class _KeptStats:
    """The slot a :class:`CycleResult` keeps its ``rules_stats`` in: a slot of a base
    class, not a field, so no equality, ``repr`` or ``replace`` sees it (a result built
    otherwise than by the fold, or copied, computes it when read)."""

    __slots__ = ("_rules_stats",)


@dataclass(frozen=True, slots=True)
class CycleResult(_KeptStats):
    """Everything one cycle decided. ``rules_stats`` and ``events`` are derived from
    ``rules`` and ``fills`` when read: a backtest keeps thousands of results, and every
    object they hold is one more for the garbage collector to walk again and again.
    (The fold gives ``rules_stats`` to its results: one dict per distinct rules tuple.)"""

    cycle_id: str
    cycle_ts: datetime
    mode: ModeDecision
    rules: tuple[EffectiveRules, ...]
    plan: PortfolioPlan
    intents: tuple[OrderIntent, ...]
    fills: tuple[SimulatedFill, ...]
    metrics: LedgerMetrics
    state: LedgerState  # the ledger after this cycle, carried into the next
    risk: RiskDecision | None = None  # the risk budget's decision for the next cycle
    # The simulated OMS's cycle: every order it touched (final status), its events and
    # idempotency rows; ``None`` only for results built without the OMS (old payloads).
    oms: OmsStep | None = None

    @property
    def rules_stats(self) -> dict[str, object]:
        """:func:`~btcbot_pipeline.domain.exchange_rules.rules_stats` of ``rules``; the
        fold's results with the same rules share one dict: read it, don't change it."""
        try:
            return self._rules_stats  # type: ignore[no-any-return]
        except AttributeError:  # a result built otherwise than by the fold
            stats = rules_stats(self.rules)
            _keep_stats(self, stats)
            return stats

    @property
    def events(self) -> tuple[OmsEvent, ...]:
        return () if self.oms is None else self.oms.events

    @property
    def orders(self) -> tuple[SimOrder, ...]:
        return () if self.oms is None else self.oms.orders


_keep_stats = _KeptStats._rules_stats.__set__  # type: ignore[attr-defined]  # frozen: through the slot


def run_cycle(
    snapshot: MarketSnapshot,
    selection: UniverseSelection,
    state: LedgerState,
    params: CycleParams,
    risk: RiskState | None = None,
    clear: RiskClear | None = None,
    venue: Venue = SIMULATED,
) -> CycleResult:
    """Stages 3–6 of one cycle (plan → intents → execution on ``venue`` → ledger), its
    mode decision and the risk budget's decision for the next cycle.

    ``risk`` is the risk state the previous cycle left (``None``: a fresh budget);
    ``clear`` an operator clear applied before this cycle's mode is decided.
    """
    return _Fold(params, venue).cycle(snapshot, selection, state, risk, clear)


def run_cycles(
    snapshots: Sequence[MarketSnapshot],
    selections: Sequence[UniverseSelection],
    state: LedgerState,
    params: CycleParams,
    risk: RiskState | None = None,
    clear: RiskClear | None = None,
    venue: Venue = SIMULATED,
) -> list[CycleResult]:
    """Fold :func:`run_cycle` over consecutive cycles (``snapshots`` in time order),
    carrying the ledger and the risk state; ``clear`` applies at the first cycle."""
    if len(snapshots) != len(selections):
        raise ValueError(f"{len(snapshots)} snapshots but {len(selections)} universe selections")
    fold = _Fold(params, venue)
    results: list[CycleResult] = []
    for snapshot, selection in zip(snapshots, selections):
        if selection.cycle_ts != snapshot.cycle_ts:
            raise ValueError(f"universe of {selection.cycle_ts} paired with snapshot of {snapshot.cycle_ts}")
        result = fold.cycle(snapshot, selection, state, risk, clear)
        results.append(result)
        state, clear = result.state, None
        risk = result.risk.state if result.risk is not None else None
    return results


class _Fold:
    """What stays the same from cycle to cycle of one fold: the params, and equal mode
    decisions and rules tuples shared between cycles rather than rebuilt (they are
    immutable, and fewer objects kept means less garbage-collector work)."""

    __slots__ = ("params", "venue", "_modes", "_rules", "_stats", "_limits_text", "_reads_inputs")

    def __init__(self, params: CycleParams, venue: Venue = SIMULATED) -> None:
        self.params = params
        self.venue = venue
        self._limits_text = limits_text(params.risk)
        # the later limits' inputs are read only when one of them is set (a backtest's hot path)
        self._reads_inputs = uses_inputs(params.risk)
        self._modes: dict[tuple[Mode, Mode | None, Mode, tuple[str, ...]], ModeDecision] = {}
        self._rules: dict[tuple[int, ...], tuple[EffectiveRules, ...]] = {}
        # id of a tuple kept in _rules (unique while the fold keeps it) → its rules_stats:
        # the payloads read each result's, and consecutive cycles mostly share their rules
        self._stats: dict[int, dict[str, object]] = {}

    def cycle(
        self,
        snapshot: MarketSnapshot,
        selection: UniverseSelection,
        state: LedgerState,
        risk: RiskState | None,
        clear: RiskClear | None,
    ) -> CycleResult:
        params = self.params
        if risk is None:  # a fresh budget: anchored at the equity the ledger carries in
            if all(s in state.marks for s in state.holdings):
                equity = state.cash_try + sum((h.qty * state.marks[s] for s, h in state.holdings.items()), Decimal(0))
            else:  # an opening book with holdings not marked yet
                equity = state.start_capital_try
            risk = RiskState(peak_equity_try=max(equity, state.peak_equity_try or equity), last_equity_try=equity)
        if clear is not None:
            risk = apply_clear(risk, clear)
        cycle_ts = snapshot.cycle_ts
        cycle_id = cycle_id_for(cycle_ts)
        holdings = state.quantities()
        by_symbol: dict[str, SymbolSnapshot] = {}
        marks_now: dict[str, Decimal] = {}
        untradable: dict[str, str] = {}
        for symbol_snapshot in snapshot.symbols:
            symbol = symbol_snapshot.symbol
            by_symbol[symbol] = symbol_snapshot
            if symbol_snapshot.skip_reason is None:
                mark = symbol_snapshot.mark  # computed once per snapshot (the market rows read it too)
                if mark is not None:
                    marks_now[symbol] = mark
            else:
                untradable[symbol] = symbol_snapshot.skip_reason or "unknown"
        for symbol in holdings:
            if symbol not in by_symbol:
                untradable[symbol] = "not_in_snapshot"

        considered = sorted(set(selection.selected) | set(holdings) | {o.symbol for o in state.oms.open_orders})
        resolved = self._shared_rules(
            tuple(resolve_rules(s, by_symbol[s].rules if s in by_symbol else None, params.rules) for s in considered)
        )
        mode = self._shared_mode(
            decide_mode(
                combine_modes(params.base_mode, risk.mode),
                kill_switch=params.kill_switch,
                rules=resolved,
                policy=params.rules.invalid_metadata_policy,
                market_degraded=snapshot.degraded_reason,
                base_reasons=risk.reasons if risk.mode is not Mode.NORMAL or clear is not None else (),
            )
        )
        valuation = dict(state.marks)
        valuation.update(marks_now)
        # Open orders (the limit model's resting orders, throttled or retried ones) count
        # as done for the plan: their cash and quantity are reserved, so it never orders twice.
        oms = state.oms
        book = _OpenBook(state.cash_try, holdings, holdings, ZERO)
        replaced = released = frozenset[str]()

        def plan_from(book: _OpenBook) -> PortfolioPlan:
            plan = build_plan(
                cycle_ts=cycle_ts,
                universe=selection.selected,
                marks=valuation,
                cash_try=book.cash,
                holdings=book.planned,
                untradable=untradable,
                policy=params.policy,
                execution=params.execution,
                mode=mode.final,
                sells_fund_buys=params.oms.fill_model == "seed",
                proceeds_due_try=book.proceeds_due,
            )
            # COOLDOWN_SECONDS, MIN_PROFIT_BPS (domain/knobs.py): the same plan while unset
            return apply_knobs(
                plan, params.risk, holdings=state.holdings, last_orders=risk.last_orders, execution=params.execution
            )

        if oms.open_orders and not params.kill_switch:  # the kill switch replaces nothing
            # An open order whose limit the market has left behind is replaced: cancelled,
            # and its remaining quantity planned again at this cycle's prices (new id).
            replaced = _stale(oms.open_orders, marks_now, params.execution.order_offset_bps, params.oms.reprice_bps)
            book = _after_open_orders(state, params.execution.fees_bps, replaced)
        plan = plan_from(book)
        if oms.open_orders and not params.kill_switch:
            # A resting order the plan wants smaller is amended, not answered with an
            # opposite order: planned again without it, then cancelled (domain/amend.py).
            released = amend.released(oms.open_orders, plan, replaced)
            if released:
                book = _after_open_orders(state, params.execution.fees_bps, replaced | released)
                plan = plan_from(book)
        intents: tuple[OrderIntent, ...] = ()
        if mode.final is not Mode.OBSERVE_ONLY:  # no intents then, nor their rules lookup
            intents = build_intents(
                cycle_id=cycle_id,
                plan=plan,
                rules={r.symbol: r for r in resolved},
                holdings=book.sellable,
                execution=params.execution,
                mode=mode.final,
            )
        simulated = self.venue.execute(
            oms,
            ExecutionRequest(
                cycle_id=cycle_id,
                cycle_ts=cycle_ts,
                intents=intents,
                bars=_Bars(by_symbol, marks_now),
                # only open orders are measured against what the plan still wants
                wanted=_wanted(plan, holdings, valuation, mode.final) if oms.open_orders else frozenset(),
                params=params.oms,
                allow_buys=mode.final.allows_buy,
                cancel_ids=replaced | released,
                # the amend's reasons: amended (planned again smaller) or plan_dropped
                cancel_reasons=amend.cancel_reasons(oms.open_orders, released, intents) if released else {},
                # KILL_SWITCH (the seeds' semantics): nothing placed, nothing cancelled
                frozen=params.kill_switch,
                holdings=holdings,
            ),
        )
        fills = simulated.fills
        after, metrics = state.apply_fills(fills).close_cycle(cycle_id, cycle_ts, marks_now, simulated.state)
        decision = decide_with_text(
            risk,
            cycle_ts,
            metrics.equity_try,
            params.risk,
            self._limits_text,
            Mode.NORMAL,
            None if clear is None else clear.clear_id,
            risk_inputs(snapshot, metrics, state, intents) if self._reads_inputs else NO_INPUTS,
        )
        result = CycleResult(
            cycle_id=cycle_id,
            cycle_ts=cycle_ts,
            mode=mode,
            rules=resolved,
            plan=plan,
            intents=intents,
            fills=fills,
            metrics=metrics,
            state=after,
            risk=decision,
            oms=simulated,
        )
        stats = self._stats.get(id(resolved))
        if stats is None:
            stats = self._stats[id(resolved)] = rules_stats(resolved)
        _keep_stats(result, stats)
        return result

    def _shared_mode(self, mode: ModeDecision) -> ModeDecision:
        key = (mode.base, mode.override, mode.final, mode.reasons)
        return self._modes.setdefault(key, mode)

    def _shared_rules(self, resolved: tuple[EffectiveRules, ...]) -> tuple[EffectiveRules, ...]:
        # Keyed by identity: the stored tuple holds its rules, so their ids stay unique.
        return self._rules.setdefault(tuple(map(id, resolved)), resolved)


def _stale(
    orders: Sequence[SimOrder], marks: Mapping[str, Decimal], offset_bps: Decimal, reprice_bps: Decimal | None
) -> frozenset[str]:
    """Open orders to replace: acknowledged ones (not those waiting to be sent) the market
    has moved away from, their limit more than ``reprice_bps`` behind the limit the intents
    stage would give them at this cycle's mark (mark ∓ ``STAGE7_ORDER_OFFSET_BPS``): a BUY
    below it, a SELL above. A market moving towards an order fills it instead. ``None``: never."""
    if reprice_bps is None:
        return frozenset()
    out = set()
    with localcontext(MONEY_CONTEXT):
        offset, band = bps_factor(offset_bps), bps_factor(reprice_bps)
        for o in orders:
            mark = marks.get(o.symbol)
            if mark is None or o.status not in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED) or o.origin != "bot":
                continue  # (an external order on a live account is never the bot's to replace)
            if o.side is Side.BUY:  # the market went up, away from the BUY
                now = mark * (ONE - offset)
                behind = now - o.price_try
            else:  # down, away from the SELL
                now = mark * (ONE + offset)
                behind = o.price_try - now
            if behind > now * band:
                out.add(o.client_order_id)
    return frozenset(out)


class _Bars(Mapping[str, Bar]):
    """The cycle's bars: one per symbol with a mark, built when the venue looks it up. A
    venue asks only for the symbols it has orders in, a few of the snapshot's, and
    building every bar every cycle took 7 % of a backtest's fold."""

    __slots__ = ("_snapshots", "_marks")

    def __init__(self, snapshots: Mapping[str, SymbolSnapshot], marks: Mapping[str, Decimal]) -> None:
        self._snapshots, self._marks = snapshots, marks

    def __getitem__(self, symbol: str) -> Bar:
        mark, s = self._marks[symbol], self._snapshots[symbol]
        return Bar(symbol, mark, s.best_bid, s.best_ask, s.bar_low, s.bar_high, s.bar_volume)

    def __iter__(self) -> Iterator[str]:
        return iter(self._marks)

    def __len__(self) -> int:
        return len(self._marks)


class _OpenBook(NamedTuple):
    """What the plan works from while orders are open (:func:`_after_open_orders`)."""

    cash: Decimal  # the cash less what the open BUYs may still spend
    planned: dict[str, Decimal]  # holdings as if the open orders had filled
    sellable: dict[str, Decimal]  # what the intents may still sell
    proceeds_due: Decimal  # what the open SELLs bring when they fill


def _after_open_orders(state: LedgerState, fees_bps: Decimal, replaced: Collection[str] = ()) -> _OpenBook:
    """What the plan works from while orders are open: cash less what the open BUYs may
    still spend; holdings as if the open orders had filled (BUYs added, SELLs taken off);
    what the intents may still sell (holdings less the open SELLs); and what the open SELLs
    bring when they fill at their limits, Σ remaining × limit × (1 - fee rate): still the
    book's equity, so its targets do not shrink while a SELL rests, but not cash a BUY may
    spend yet. Orders being replaced this cycle do not count: the plan orders their
    remainder again."""
    oms = state.oms
    fee = bps_factor(fees_bps)
    with localcontext(MONEY_CONTEXT):
        kept = tuple(o for o in oms.open_orders if o.client_order_id not in replaced)
        cash = state.cash_try - replace(oms, open_orders=kept).reserved_cash_try(fees_bps)
        planned = state.quantities()
        sellable = dict(planned)
        due = ZERO
        for o in kept:
            if o.side is Side.BUY:
                planned[o.symbol] = planned.get(o.symbol, ZERO) + o.remaining_qty
            else:
                planned[o.symbol] = planned.get(o.symbol, ZERO) - o.remaining_qty
                sellable[o.symbol] = sellable.get(o.symbol, ZERO) - o.remaining_qty
                due += o.remaining_qty * o.price_try * (ONE - fee)
    return _OpenBook(cash, planned, sellable, due)


def _wanted(
    plan: PortfolioPlan, holdings: Mapping[str, Decimal], marks: Mapping[str, Decimal], mode: Mode
) -> frozenset[tuple[str, Side]]:
    """Which open orders the plan still wants: a BUY of a symbol whose target is above
    what the book holds (when the mode allows buying), a SELL of one whose target is below
    it. Nothing in OBSERVE_ONLY: every open order is cancelled."""
    if mode is Mode.OBSERVE_ONLY:
        return frozenset()
    targets = {a.symbol: a.target_notional_try for a in plan.allocations}
    out: set[tuple[str, Side]] = set()
    with localcontext(MONEY_CONTEXT):
        for symbol in set(targets) | set(holdings):
            held = holdings.get(symbol, ZERO) * marks[symbol] if symbol in marks else ZERO
            target = targets.get(symbol, ZERO)
            if target > held and mode.allows_buy:
                out.add((symbol, Side.BUY))
            if target < held:
                out.add((symbol, Side.SELL))
    return frozenset(out)


def run_full_cycle(
    snapshot: MarketSnapshot, state: LedgerState, params: CycleParams, risk: RiskState | None = None
) -> CycleResult:
    """All stages including universe selection: what a backtest runs per cycle. Pass the
    previous result's risk state as ``risk`` to carry the risk budget."""
    return run_cycle(snapshot, select_universe(snapshot, params.universe), state, params, risk)
