"""Portfolio Policy v1 (seed Stage 7 PR-3).

From the selected universe, mark prices and the carried book, :func:`build_plan` decides
target notionals and the actions that move the book towards them:

1. ``equity = cash + Σ qty × mark`` (+ the proceeds due from resting SELLs, whose
   quantity the caller took off the holdings); the cash target is ``min(TRY_CASH_TARGET,
   TRY_CASH_MAX, equity)`` and ``investable = equity - cash target``.
2. Equal weights over the universe: each symbol targets ``investable / N``, clipped to
   ``MAX_POSITION_NOTIONAL_TRY``; what the clip leaves over stays in cash (implicit cash
   weight). Held symbols outside the universe target zero.
3. Actions are ordered SELL first (largest first), then BUY in universe rank order, and
   allocated in that order, so SELL-first holds during turnover allocation and the
   max-order cut, not only in the final display: a BUY can never take the turnover or
   order slot a SELL needed.
4. Each action passes, in order: mode gating (``observe_only``,
   ``mode_reduce_risk_only``), tradability (``not_tradable:<reason>``),
   ``missing_mark_price``, ``min_notional``, ``max_orders``, ``turnover_cap`` (clipped to
   what is left, skipped below the minimum) and, for BUYs, ``insufficient_cash`` (buys are
   paid from cash above the target plus the proceeds of this cycle's sells (only when they
   fill at once: the seed fill model), net of the
   worst-case offset, slippage and fee), and last ``out_of_range:est_qty``: a quantity
   (estimated, or held after a BUY) above :data:`~btcbot_pipeline.domain.bounds.MAX_QUANTITY`
   that the book could not store (a notional over a mark of 1e-12).
5. The rebalance band (``STAGE7_REBALANCE_BAND_BPS``, ``b``): a held universe symbol whose
   weight is within ``b`` bps of its target weight, ``|value - target| / equity ≤ b / 10_000``
   (weights as in the allocations: notional over equity; the edge counts as inside), gets
   no trade: its action is SKIPPED ``within_band``, before every other gate (the policy
   does not want the trade, whatever the mode). Outside the band it trades all the way
   back to the target, not to the band's edge (as LEAN's minimum-order-margin threshold
   and the usual threshold rebalancers do): a position left at the edge would cross it
   again at the next small move, so the band would trade as often as no band, only in
   smaller orders that pay the same minimums and fees; back at the target, the next trade
   waits for a drift of a whole band. Entering and leaving the universe are not drift and
   always trade (a dust position outside the universe never lingers). ``b = 0`` is the
   seeds' plan exactly: every drift is traded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Mapping, Sequence

from btcbot_pipeline.domain.bounds import MAX_QUANTITY
from btcbot_pipeline.domain.money import ONE, ZERO, bps_factor
from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams
from btcbot_pipeline.domain.vocabulary import Mode, Side

_CENT = Decimal("0.01")
_WEIGHT_GRID = Decimal("1E-8")


class ActionStatus(StrEnum):
    PLANNED = "PLANNED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class Allocation:
    symbol: str
    weight: Decimal
    target_notional_try: Decimal
    current_notional_try: Decimal


@dataclass(frozen=True, slots=True)
class PlanAction:
    """One desired trade.

    PLANNED: ``notional_try`` is what allocation granted and ``est_qty`` its quantity at
    the mark. SKIPPED: nothing is traded; ``notional_try`` is what the action wanted (its
    desired notional) and ``est_qty`` that at the mark (a full exit: the holding), 0 when
    there is no mark or the quantity is beyond what the book stores. Only PLANNED rows
    count towards caps, budgets and intents (:attr:`PortfolioPlan.planned`)."""

    symbol: str
    side: Side
    desired_notional_try: Decimal
    notional_try: Decimal
    est_qty: Decimal
    mark_price_try: Decimal | None
    reason: str
    status: ActionStatus
    skip_reason: str | None = None
    full_exit: bool = False


@dataclass(frozen=True, slots=True)
class PortfolioPlan:
    cycle_ts: datetime
    mode: Mode
    cash_try: Decimal
    equity_try: Decimal
    cash_target_try: Decimal
    investable_try: Decimal
    allocations: tuple[Allocation, ...]
    actions: tuple[PlanAction, ...]
    notes: tuple[str, ...] = ()

    @property
    def planned(self) -> tuple[PlanAction, ...]:
        return tuple(a for a in self.actions if a.status is ActionStatus.PLANNED)


def _floor_cent(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_FLOOR)


def _drafts(
    universe: Sequence[str],
    held: Mapping[str, Decimal],
    marks: Mapping[str, Decimal],
    target: Decimal,
    weight_in: Decimal,
    weight_out: Decimal,
    band_try: Decimal,
) -> tuple[list[Allocation], list[_Draft], list[_Draft]]:
    """Each symbol's allocation (the universe's in rank order, then the other holdings by
    name) and the SELL and BUY drafts that would move it to its goal. A rebalance of a held
    universe symbol whose value is within ``band_try`` of its goal (``ZERO``: no band) is
    drafted already skipped ``within_band``."""
    allocations: list[Allocation] = []
    sells: list[_Draft] = []
    buys: list[_Draft] = []
    in_universe = len(universe)
    members = set(universe)
    for index, symbol in enumerate(list(universe) + sorted(s for s in held if s not in members)):
        mark = marks.get(symbol)
        qty = held.get(symbol, ZERO)
        current = qty * mark if mark is not None else ZERO
        goal, weight = (target, weight_in) if index < in_universe else (ZERO, weight_out)
        allocations.append(Allocation(symbol, weight, goal, current))
        if mark is None:
            if qty > ZERO:
                sells.append((symbol, _SELL, ZERO, None, "exit_universe", False, None))
            continue
        delta = goal - current
        # drift of a held position that stays in the universe (entries and exits always trade)
        in_band = _IN_BAND if band_try > ZERO and qty > ZERO and goal > ZERO and abs(delta) <= band_try else None
        if delta < ZERO:
            full_exit = goal == ZERO
            reason = "exit_universe" if full_exit else "rebalance_down"
            desired = (-delta).quantize(_CENT, rounding=ROUND_FLOOR)
            sells.append((symbol, _SELL, desired, mark, reason, full_exit, in_band))
        elif delta > ZERO:
            reason = "enter_universe" if qty == ZERO else "rebalance_up"
            buys.append((symbol, _BUY, delta.quantize(_CENT, rounding=ROUND_FLOOR), mark, reason, False, in_band))
    return allocations, sells, buys


def _gate(
    mode: Mode,
    side: Side,
    untradable: str | None,
    mark: Decimal | None,
    desired: Decimal,
    minimum: Decimal,
    orders_full: bool,
) -> str | None:
    """The first gate a draft fails, in order: mode, tradability, a mark, the minimum
    notional, the order count (``None``: it passes them all)."""
    if mode is Mode.OBSERVE_ONLY:
        return "observe_only"
    if side is _BUY and mode is Mode.REDUCE_RISK_ONLY:
        return "mode_reduce_risk_only"
    if untradable is not None:
        return f"not_tradable:{untradable}"
    if mark is None:
        return "missing_mark_price"
    if desired < minimum:
        return "min_notional"
    if orders_full:
        return "max_orders"
    return None


def build_plan(
    *,
    cycle_ts: datetime,
    universe: Sequence[str],
    marks: Mapping[str, Decimal],
    cash_try: Decimal,
    holdings: Mapping[str, Decimal],
    untradable: Mapping[str, str],
    policy: PolicyParams,
    execution: ExecutionParams,
    mode: Mode,
    sells_fund_buys: bool = True,
    proceeds_due_try: Decimal = ZERO,
) -> PortfolioPlan:
    """Build the cycle's plan (see the module docstring for the rules).

    Args:
        universe: selected symbols in rank order (all tradable this cycle).
        marks: mark price per symbol, including the last known mark of every holding.
        cash_try: TRY cash before this cycle's trades.
        holdings: base quantity held per symbol (zero quantities are ignored).
        untradable: reason per symbol that cannot be traded this cycle.
        mode: the cycle's final risk mode.
        sells_fund_buys: this cycle's SELLs pay for its BUYs (they fill at once: the seed
            fill model). ``False`` under the limit model, where a SELL may rest for cycles:
            BUYs are paid from the cash the book has, never from proceeds yet to come.
        proceeds_due_try: what SELLs resting on the exchange bring when they fill (their
            quantity is already off ``holdings``): counted in equity, so in the targets,
            never in the cash BUYs may spend.
    """
    held = {s: q for s, q in holdings.items() if q > ZERO}
    missing_marks = sorted([s for s in held if s not in marks])
    equity = cash_try + proceeds_due_try + sum([q * marks[s] for s, q in held.items() if s in marks], ZERO)
    cash_target = max(ZERO, min(policy.try_cash_target, policy.try_cash_max, equity))
    investable = max(ZERO, equity - cash_target)
    per_symbol = _floor_cent(investable / len(universe)) if universe else ZERO
    target = min(per_symbol, policy.max_position_notional_try)
    # Every universe symbol has the same goal, every other one zero: two weights per cycle.
    weight_in = (target / equity).quantize(_WEIGHT_GRID) if equity > ZERO else ZERO
    weight_out = (ZERO / equity).quantize(_WEIGHT_GRID) if equity > ZERO else ZERO

    band_try = equity * bps_factor(policy.rebalance_band_bps) if equity > ZERO else ZERO
    allocations, sells, buys = _drafts(universe, held, marks, target, weight_in, weight_out, band_try)
    sells.sort(key=_sell_order)

    # Worst case per TRY of planned notional: a BUY limit sits `offset` below the mark, so
    # its quantity is up to 1/(1-offset) of notional/mark, then fills at mark×(1+slip) plus
    # fee; a SELL returns at least (1-slip)(1-fee) of its notional. Computed at the first
    # order that passes the gates: an OBSERVE_ONLY cycle needs neither.
    buy_cost: Decimal | None = None
    sell_proceeds = ZERO
    budget = cash_try - cash_target
    remaining_cap = policy.notional_cap_try_per_cycle
    minimum = policy.min_order_notional_try
    max_orders = policy.max_orders_per_cycle
    orders = 0
    actions: list[PlanAction] = []
    for symbol, side, desired, mark, reason, draft_exit, preset in sells + buys:
        skip = preset or _gate(mode, side, untradable.get(symbol), mark, desired, minimum, orders >= max_orders)
        notional = desired
        if skip is None:
            notional = min(notional, remaining_cap)
            if notional < minimum:
                skip = "turnover_cap"
        if skip is None:
            if buy_cost is None:
                fees, slip = bps_factor(execution.fees_bps), bps_factor(execution.slippage_bps)
                offset = bps_factor(execution.order_offset_bps)
                buy_cost = (ONE + slip) * (ONE + fees) / (ONE - offset)
                sell_proceeds = (ONE - slip) * (ONE - fees)
            if side is _BUY:
                affordable = _floor_cent(budget / buy_cost) if budget > ZERO else ZERO
                notional = min(notional, affordable)
                if notional < minimum:
                    skip = "insufficient_cash"
        est_qty = ZERO
        full_exit = False
        if skip is None:
            assert mark is not None
            full_exit = draft_exit and notional == desired
            est_qty = held[symbol] if full_exit else notional / mark
            if side is _BUY and held.get(symbol, ZERO) + est_qty > MAX_QUANTITY:
                skip = "out_of_range:est_qty"
        if skip is not None:
            # keep what it wanted (the trace and the book show a skipped size, not a 0)
            wanted = _wanted_qty(desired, mark, held.get(symbol, ZERO) if draft_exit else None)
            actions.append(PlanAction(symbol, side, desired, desired, wanted, mark, reason, _SKIPPED, skip, draft_exit))
            continue
        orders += 1
        remaining_cap -= notional
        if side is _SELL:
            if sells_fund_buys:
                budget += notional * sell_proceeds
        else:
            budget -= notional * buy_cost  # type: ignore[operator]
        actions.append(PlanAction(symbol, side, desired, notional, est_qty, mark, reason, _PLANNED, None, full_exit))

    notes = [f"missing_mark_price:{s}" for s in missing_marks]
    # The allocations' goals in order: the target per universe symbol, then zeros.
    implied_cash = equity - sum([target] * len(universe) + [ZERO] * (len(allocations) - len(universe)), ZERO)
    if implied_cash > policy.try_cash_max:
        notes.append("cash_above_max: per-symbol caps or a small universe leave cash above TRY_CASH_MAX")
    return PortfolioPlan(
        cycle_ts=cycle_ts,
        mode=mode,
        cash_try=cash_try,
        equity_try=equity,
        cash_target_try=cash_target,
        investable_try=investable,
        allocations=tuple(allocations),
        actions=tuple(actions),
        notes=tuple(notes),
    )


def _wanted_qty(desired: Decimal, mark: Decimal | None, exit_qty: Decimal | None) -> Decimal:
    """The quantity a skipped action wanted: the whole holding for a full exit, else its
    notional at the mark; 0 without a mark or beyond :data:`MAX_QUANTITY` (the book could
    not store it)."""
    if exit_qty is not None:
        return exit_qty
    if mark is None or mark <= ZERO:
        return ZERO
    qty = desired / mark
    return qty if qty <= MAX_QUANTITY else ZERO


# A desired trade before allocation: symbol, side, desired notional, mark, reason, full exit,
# and a skip decided before allocation (``within_band``) or None. A plain tuple: each
# becomes exactly one PlanAction once allocation has decided.
_Draft = tuple[str, Side, Decimal, Decimal | None, str, bool, str | None]
_IN_BAND = "within_band"


def _sell_order(draft: _Draft) -> tuple[Decimal, str]:
    return -draft[2], draft[0]  # largest first, then by symbol


# Enum members as module constants: `Side.BUY` is a class-attribute lookup on every use.
_BUY, _SELL = Side.BUY, Side.SELL
_PLANNED, _SKIPPED = ActionStatus.PLANNED, ActionStatus.SKIPPED
