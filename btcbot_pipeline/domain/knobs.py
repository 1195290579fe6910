"""The original system's Stage 3/4 order knobs, applied to a cycle's plan (pure).

:func:`apply_knobs` takes the plan :func:`~btcbot_pipeline.domain.plan.build_plan` made and
turns the PLANNED actions a knob holds back into SKIPPED ones, before the intents stage
(which orders only PLANNED actions and re-checks cash, so a SELL held back here never pays
for a BUY):

- ``COOLDOWN_SECONDS`` (the original's Stage 3 risk policy): an action is held back,
  ``cooldown``, while the last order of the same symbol *and side* was placed less than
  that many seconds before this cycle (``cycle_ts - last < N``), BUY and SELL alike; the
  last orders are the risk state's ``last_orders``. The original keyed it by symbol and
  side too, and recorded the time each intent its risk policy let through. ``0``: off.
  (The original's default, 60, would never hold anything back between 5-minute cycles.)
- ``MIN_PROFIT_BPS`` (the original's Stage 4 risk policy): a SELL of a held symbol is held
  back, ``min_profit_threshold``, when its limit is below ``avg cost × (1 + (fees + slippage
  + MIN_PROFIT_BPS) / 10 000)``: the fee and slippage in bps are ``STAGE7_FEES_BPS`` and
  ``STAGE7_SLIPPAGE_BPS`` (the original's ``FEE_BPS_TAKER`` and ``SLIPPAGE_BPS_BUFFER``), the
  limit is ``mark × (1 + STAGE7_ORDER_OFFSET_BPS / 10 000)``, as the intents stage prices a
  SELL before rounding it up to the tick. ``None``: off (``0`` still asks for fees and
  slippage back). One departure: a cycle in ``REDUCE_RISK_ONLY`` sells below the threshold,
  since that mode exists to let a losing book exit; the original had no such mode (a
  breach of its Stage 4 limits refused every action).

``ENABLE_AUTO_KILL_SWITCH``, the third knob, acts on the mode, not on the plan: see
:mod:`~btcbot_pipeline.domain.risk`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Mapping, Sequence

from btcbot_pipeline.domain.bounds import MAX_QUANTITY
from btcbot_pipeline.domain.ledger import Holding
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor
from btcbot_pipeline.domain.params import ExecutionParams
from btcbot_pipeline.domain.plan import ActionStatus, PlanAction, PortfolioPlan
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.vocabulary import Mode, Side

COOLDOWN = "cooldown"
MIN_PROFIT = "min_profit_threshold"


def order_key(symbol: str, side: Side) -> str:
    """``BTCTRY:BUY``: the key of the risk state's ``last_orders``."""
    return f"{symbol}:{side.value}"


def cooldown_skip(
    symbol: str, side: Side, last_orders: Mapping[str, datetime], now: datetime, seconds: int
) -> str | None:
    """``cooldown`` when the last order of ``symbol`` on ``side`` is less than ``seconds`` old."""
    if seconds <= 0:
        return None
    last = last_orders.get(order_key(symbol, side))
    return COOLDOWN if last is not None and now - last < timedelta(seconds=seconds) else None


def required_sell_price(
    avg_cost_try: Decimal, min_profit_bps: Decimal, fees_bps: Decimal, slippage_bps: Decimal
) -> Decimal:
    """The lowest SELL limit that realises ``min_profit_bps`` over the average cost after
    fees and slippage: ``avg cost × (1 + (fees + slippage + min profit) / 10 000)``."""
    with localcontext(MONEY_CONTEXT):
        return avg_cost_try * (ONE + bps_factor(fees_bps + slippage_bps + min_profit_bps))


def min_profit_skip(
    side: Side,
    limit_try: Decimal | None,
    holding: Holding | None,
    min_profit_bps: Decimal | None,
    fees_bps: Decimal,
    slippage_bps: Decimal,
) -> str | None:
    """``min_profit_threshold`` for a SELL of a held symbol whose limit is below
    :func:`required_sell_price`; ``None`` otherwise (a BUY, nothing held, no limit, off)."""
    if min_profit_bps is None or side is not Side.SELL or limit_try is None:
        return None
    if holding is None or holding.qty <= ZERO:
        return None
    required = required_sell_price(holding.avg_cost_try, min_profit_bps, fees_bps, slippage_bps)
    return MIN_PROFIT if limit_try < required else None


def held_back(action: PlanAction, reason: str) -> PlanAction:
    """``action`` SKIPPED for ``reason``, shown as plan's skipped rows are: with the notional
    it wanted and that at the mark (a full exit: the quantity it would have sold)."""
    qty = action.est_qty
    if not action.full_exit:
        mark = action.mark_price_try
        qty = action.desired_notional_try / mark if mark is not None and mark > ZERO else ZERO
        qty = qty if qty <= MAX_QUANTITY else ZERO
    return replace(
        action,
        notional_try=action.desired_notional_try,
        est_qty=qty,
        status=ActionStatus.SKIPPED,
        skip_reason=reason,
    )


def apply_cooldown(
    actions: Sequence[PlanAction], last_orders: Mapping[str, datetime], now: datetime, seconds: int
) -> tuple[PlanAction, ...]:
    """``actions`` with each PLANNED one that :func:`cooldown_skip` holds back SKIPPED."""
    if seconds <= 0 or not last_orders:
        return tuple(actions)
    return tuple(
        held_back(a, reason)
        if a.status is ActionStatus.PLANNED
        and (reason := cooldown_skip(a.symbol, a.side, last_orders, now, seconds)) is not None
        else a
        for a in actions
    )


def apply_min_profit(
    actions: Sequence[PlanAction],
    holdings: Mapping[str, Holding],
    *,
    min_profit_bps: Decimal | None,
    execution: ExecutionParams,
    mode: Mode,
) -> tuple[PlanAction, ...]:
    """``actions`` with each PLANNED SELL that :func:`min_profit_skip` holds back SKIPPED
    (none in ``REDUCE_RISK_ONLY``: see the module docstring)."""
    if min_profit_bps is None or mode is not Mode.NORMAL:
        return tuple(actions)
    out: list[PlanAction] = []
    with localcontext(MONEY_CONTEXT):
        up = ONE + bps_factor(execution.order_offset_bps)
        for a in actions:
            reason = None
            if a.status is ActionStatus.PLANNED and a.side is Side.SELL and a.mark_price_try is not None:
                limit = a.mark_price_try * up
                reason = min_profit_skip(
                    a.side, limit, holdings.get(a.symbol), min_profit_bps, execution.fees_bps, execution.slippage_bps
                )
            out.append(a if reason is None else held_back(a, reason))
    return tuple(out)


def apply_knobs(
    plan: PortfolioPlan,
    limits: RiskLimits,
    *,
    holdings: Mapping[str, Holding],
    last_orders: Mapping[str, datetime],
    execution: ExecutionParams,
) -> PortfolioPlan:
    """``plan`` after ``COOLDOWN_SECONDS`` then ``MIN_PROFIT_BPS``; the same object when
    both are off or hold nothing back (so a book that never sets them is unchanged)."""
    if limits.order_cooldown_s <= 0 and limits.min_profit_bps is None:
        return plan
    actions = apply_cooldown(plan.actions, last_orders, plan.cycle_ts, limits.order_cooldown_s)
    actions = apply_min_profit(
        actions, holdings, min_profit_bps=limits.min_profit_bps, execution=execution, mode=plan.mode
    )
    if actions == plan.actions:
        return plan
    return replace(plan, actions=actions)
