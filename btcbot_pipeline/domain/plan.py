"""Portfolio Policy v1 (seed Stage 7 PR-3).

From the selected universe, mark prices and the carried book, :func:`build_plan` decides
target notionals and the actions that move the book towards them:

1. ``equity = cash + Σ qty × mark``; the cash target is ``min(TRY_CASH_TARGET,
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
   paid from cash above the target plus the proceeds of this cycle's sells, net of the
   worst-case offset, slippage and fee).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Mapping, Sequence

from btcbot_pipeline.domain.modes import Mode
from btcbot_pipeline.domain.money import ONE, ZERO, bps_factor
from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams

_CENT = Decimal("0.01")
_WEIGHT_GRID = Decimal("1E-8")


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


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
    """One desired trade. ``notional_try`` is what allocation granted (0 if skipped)."""

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
) -> PortfolioPlan:
    """Build the cycle's plan (see the module docstring for the rules).

    Args:
        universe: selected symbols in rank order (all tradable this cycle).
        marks: mark price per symbol, including the last known mark of every holding.
        cash_try: TRY cash before this cycle's trades.
        holdings: base quantity held per symbol (zero quantities are ignored).
        untradable: reason per symbol that cannot be traded this cycle.
        mode: the cycle's final risk mode.
    """
    held = {s: q for s, q in holdings.items() if q > ZERO}
    missing_marks = sorted(s for s in held if s not in marks)
    equity = cash_try + sum((q * marks[s] for s, q in held.items() if s in marks), ZERO)
    cash_target = max(ZERO, min(policy.try_cash_target, policy.try_cash_max, equity))
    investable = max(ZERO, equity - cash_target)
    per_symbol = _floor_cent(investable / len(universe)) if universe else ZERO
    target = min(per_symbol, policy.max_position_notional_try)

    allocations: list[Allocation] = []
    sells: list[PlanAction] = []
    buys: list[PlanAction] = []
    for symbol in list(universe) + sorted(s for s in held if s not in universe):
        mark = marks.get(symbol)
        qty = held.get(symbol, ZERO)
        current = qty * mark if mark is not None else ZERO
        goal = target if symbol in universe else ZERO
        weight = (goal / equity).quantize(_WEIGHT_GRID) if equity > ZERO else ZERO
        allocations.append(Allocation(symbol, weight, goal, current))
        if mark is None:
            if qty > ZERO:
                sells.append(_draft(symbol, Side.SELL, ZERO, None, "exit_universe"))
            continue
        delta = goal - current
        if delta < ZERO:
            full_exit = goal == ZERO
            reason = "exit_universe" if full_exit else "rebalance_down"
            sells.append(_draft(symbol, Side.SELL, _floor_cent(-delta), mark, reason, full_exit=full_exit, qty=qty))
        elif delta > ZERO:
            reason = "enter_universe" if qty == ZERO else "rebalance_up"
            buys.append(_draft(symbol, Side.BUY, _floor_cent(delta), mark, reason))
    sells.sort(key=lambda a: (-a.desired_notional_try, a.symbol))

    fees, slip, offset = bps_factor(execution.fees_bps), bps_factor(execution.slippage_bps), bps_factor(execution.order_offset_bps)
    # Worst case per TRY of planned notional: a BUY limit sits `offset` below the mark, so
    # its quantity is up to 1/(1-offset) of notional/mark, then fills at mark×(1+slip) plus
    # fee; a SELL returns at least (1-slip)(1-fee) of its notional.
    buy_cost = (ONE + slip) * (ONE + fees) / (ONE - offset)
    sell_proceeds = (ONE - slip) * (ONE - fees)
    budget = cash_try - cash_target
    remaining_cap = policy.notional_cap_try_per_cycle
    orders = 0
    actions: list[PlanAction] = []
    for draft in sells + buys:
        skip = _gate(draft, mode, untradable, policy)
        notional = draft.desired_notional_try
        if skip is None and orders >= policy.max_orders_per_cycle:
            skip = "max_orders"
        if skip is None:
            notional = min(notional, remaining_cap)
            if notional < policy.min_order_notional_try:
                skip = "turnover_cap"
        if skip is None and draft.side is Side.BUY:
            affordable = _floor_cent(budget / buy_cost) if budget > ZERO else ZERO
            notional = min(notional, affordable)
            if notional < policy.min_order_notional_try:
                skip = "insufficient_cash"
        if skip is not None:
            actions.append(_skipped(draft, skip))
            continue
        orders += 1
        remaining_cap -= notional
        if draft.side is Side.SELL:
            budget += notional * sell_proceeds
        else:
            budget -= notional * buy_cost
        assert draft.mark_price_try is not None
        full_exit = draft.full_exit and notional == draft.desired_notional_try
        est_qty = held[draft.symbol] if full_exit else notional / draft.mark_price_try
        actions.append(replace(draft, notional_try=notional, est_qty=est_qty, full_exit=full_exit))

    notes = [f"missing_mark_price:{s}" for s in missing_marks]
    implied_cash = equity - sum((a.target_notional_try for a in allocations), ZERO)
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


def _draft(
    symbol: str,
    side: Side,
    notional: Decimal,
    mark: Decimal | None,
    reason: str,
    *,
    full_exit: bool = False,
    qty: Decimal = ZERO,
) -> PlanAction:
    return PlanAction(
        symbol=symbol,
        side=side,
        desired_notional_try=notional,
        notional_try=notional,
        est_qty=qty,
        mark_price_try=mark,
        reason=reason,
        status=ActionStatus.PLANNED,
        full_exit=full_exit,
    )


def _gate(draft: PlanAction, mode: Mode, untradable: Mapping[str, str], policy: PolicyParams) -> str | None:
    if mode is Mode.OBSERVE_ONLY:
        return "observe_only"
    if draft.side is Side.BUY and mode is Mode.REDUCE_RISK_ONLY:
        return "mode_reduce_risk_only"
    if draft.symbol in untradable:
        return f"not_tradable:{untradable[draft.symbol]}"
    if draft.mark_price_try is None:
        return "missing_mark_price"
    if draft.desired_notional_try < policy.min_order_notional_try:
        return "min_notional"
    return None


def _skipped(draft: PlanAction, reason: str) -> PlanAction:
    return replace(draft, notional_try=ZERO, est_qty=ZERO, status=ActionStatus.SKIPPED, skip_reason=reason)
