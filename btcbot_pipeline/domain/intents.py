"""Order intents (seed Stage 7 PR-4): planned actions as exchange-valid LIMIT orders.

For each planned action of the plan:

- price: SELL ``mark × (1 + offset)`` rounded *up*, BUY ``mark × (1 - offset)`` rounded
  *down*, onto the price grid (rounding away from the mark never makes the limit more
  aggressive than the offset asked for);
- quantity: ``notional / price`` rounded *down* onto the quantity grid; a full exit sells
  the whole holding (floored to the grid), and a SELL never exceeds the holding;
- validation after quantisation: ``qty_rounds_to_zero``, then ``min_notional``
  (``price × qty`` below the exchange minimum);
- cash guard: SELLs that pass add their exact simulated proceeds, and a BUY whose exact
  simulated cost (``qty × mark × (1 + slippage) × (1 + fee)``) would take cash below the
  plan's cash target is cut to fit, or skipped ``insufficient_cash``;
- rules: a symbol whose rules are unusable gets a SKIPPED intent with
  ``rules_unavailable:<status>``;
- range: a quantity above :data:`~btcbot_pipeline.domain.bounds.MAX_QUANTITY`, or a price
  or quantity with more digits on its grid than the decimal context holds (a tick of
  1e-18 under a price of 1e12), is SKIPPED ``out_of_range:qty`` / ``out_of_range:price``
  instead of stopping the cycle.

``client_order_id`` is ``s7:{cycle_id}:{symbol}:{side}:{hash}``; the hash is the first 12
hex digits of SHA-256 over ``cycle_id|symbol|side|price|qty|reason``, so the same inputs
always give the same id. ``OBSERVE_ONLY`` emits no intents; ``REDUCE_RISK_ONLY`` drops BUYs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Mapping

from btcbot_pipeline.domain.bounds import MAX_QUANTITY
from btcbot_pipeline.domain.exchange_rules import EffectiveRules
from btcbot_pipeline.domain.money import (
    ONE,
    ZERO,
    bps_factor,
    canonical,
    ceil_to_step,
    floor_to_step,
)
from btcbot_pipeline.domain.params import ExecutionParams
from btcbot_pipeline.domain.plan import PlanAction, PortfolioPlan
from btcbot_pipeline.domain.vocabulary import Mode, Side


class IntentStatus(StrEnum):
    PLANNED = "PLANNED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    cycle_id: str
    cycle_ts: datetime
    client_order_id: str
    symbol: str
    side: Side
    order_type: str
    price_try: Decimal | None
    qty: Decimal | None
    notional_try: Decimal | None
    mark_price_try: Decimal | None
    status: IntentStatus
    reason: str
    skip_reason: str | None
    rules_status: str

    @property
    def planned(self) -> bool:
        return self.status is IntentStatus.PLANNED


def client_order_id(
    cycle_id: str, symbol: str, side: Side, price: Decimal | None, qty: Decimal | None, reason: str
) -> str:
    """Deterministic client order id (see module docstring)."""
    price_text = canonical(price) if price is not None else ""
    qty_text = canonical(qty) if qty is not None else ""
    digest = hashlib.sha256(f"{cycle_id}|{symbol}|{side.value}|{price_text}|{qty_text}|{reason}".encode()).hexdigest()
    return f"s7:{cycle_id}:{symbol}:{side.value}:{digest[:12]}"


def _price_and_qty(
    action: PlanAction, mark: Decimal, rules: EffectiveRules, holdings: Mapping[str, Decimal], offset: Decimal
) -> tuple[Decimal | None, Decimal | None, str | None]:
    """The limit price (the mark ± the offset, on the tick grid, away from the market) and
    the quantity on the lot grid, before the cash guard; or the ``out_of_range:*`` reason
    a value too long for its grid gives."""
    assert rules.price_step is not None and rules.quantity_step is not None
    try:
        if action.side is Side.SELL:
            price = ceil_to_step(mark * (ONE + offset), rules.price_step)
            held = holdings.get(action.symbol, ZERO)
            wanted = held if action.full_exit else min(action.notional_try / price, held)
        else:
            price = floor_to_step(mark * (ONE - offset), rules.price_step)
            wanted = action.notional_try / price if price > ZERO else ZERO
    except InvalidOperation:  # more digits on the price grid than the context holds
        return None, None, "out_of_range:price"
    if wanted > MAX_QUANTITY:
        return price, None, "out_of_range:qty"
    try:
        return price, (floor_to_step(wanted, rules.quantity_step) if price > ZERO else ZERO), None
    except InvalidOperation:  # a quantity too long for its grid in this context
        return price, None, "out_of_range:qty"


def build_intents(
    *,
    cycle_id: str,
    plan: PortfolioPlan,
    rules: Mapping[str, EffectiveRules],
    holdings: Mapping[str, Decimal],
    execution: ExecutionParams,
    mode: Mode,
) -> tuple[OrderIntent, ...]:
    """Intents for the planned actions of ``plan``, in plan order (SELLs first)."""
    if mode is Mode.OBSERVE_ONLY:
        return ()
    offset = bps_factor(execution.order_offset_bps)
    slip, fee = bps_factor(execution.slippage_bps), bps_factor(execution.fees_bps)
    # Cash guard, after quantisation: the plan budgets with estimates, but a skipped SELL
    # brings no proceeds and a price floored to the tick buys a little more. The simulator
    # fills at mark × (1 ± slippage) plus fee, so these are the exact cash moves; a BUY is
    # cut to what keeps cash at or above the plan's cash target.
    budget = plan.cash_try - plan.cash_target_try
    intents: list[OrderIntent] = []
    for action in plan.planned:
        if action.side is Side.BUY and not mode.allows_buy:
            continue
        symbol_rules = rules.get(action.symbol)
        price = qty = notional = None
        skip: str | None = None
        status_text = symbol_rules.status.value if symbol_rules is not None else "missing"
        mark = action.mark_price_try
        if symbol_rules is None or not symbol_rules.usable:
            skip = f"rules_unavailable:{status_text}"
        elif mark is None:
            skip = "missing_mark_price"
        else:
            price, qty, skip = _price_and_qty(action, mark, symbol_rules, holdings, offset)
        if skip is None and mark is not None and price is not None and qty is not None and symbol_rules is not None:
            assert symbol_rules.quantity_step is not None and symbol_rules.min_notional_try is not None
            cash_short = False
            if action.side is Side.BUY and qty > ZERO:
                unit_cost = mark * (ONE + slip) * (ONE + fee)
                if qty * unit_cost > budget:
                    affordable = budget / unit_cost if budget > ZERO else ZERO
                    qty = floor_to_step(affordable, symbol_rules.quantity_step)
                    cash_short = True
            notional = price * qty
            if cash_short and (qty <= ZERO or notional < symbol_rules.min_notional_try):
                skip = "insufficient_cash"
            elif price <= ZERO or qty <= ZERO:
                skip = "qty_rounds_to_zero"
            elif notional < symbol_rules.min_notional_try:
                skip = "min_notional"
            elif action.side is Side.SELL:
                budget += qty * mark * (ONE - slip) * (ONE - fee)
            else:
                budget -= qty * mark * (ONE + slip) * (ONE + fee)
        intents.append(
            OrderIntent(
                cycle_id=cycle_id,
                cycle_ts=plan.cycle_ts,
                client_order_id=client_order_id(cycle_id, action.symbol, action.side, price, qty, action.reason),
                symbol=action.symbol,
                side=action.side,
                order_type="LIMIT",
                price_try=price,
                qty=qty,
                notional_try=notional,
                mark_price_try=mark,
                status=IntentStatus.SKIPPED if skip else IntentStatus.PLANNED,
                reason=action.reason,
                skip_reason=skip,
                rules_status=status_text,
            )
        )
    return tuple(intents)
