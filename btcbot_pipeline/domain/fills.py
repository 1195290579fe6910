"""Dry-run fill simulation (seed Stage 7 PR-1) and the simulated OMS trail.

Every PLANNED intent is treated as marketable and fills in full this cycle:

- baseline is the mark (mid) price of the symbol at the cycle;
- orders to buy fill at ``mark × (1 + slippage)``, orders to sell at
  ``mark × (1 - slippage)`` (``STAGE7_SLIPPAGE_BPS``);
- ``slippage_try = |fill price - mark| × qty`` is the cost of that move;
- ``fee_try = fill price × qty × STAGE7_FEES_BPS / 10_000``, charged in TRY.

Fill ids are ``s7:{cycle_id}:{client_order_id}``. Each filled order leaves two events,
``SUBMITTED`` then ``FILLED``, keyed ``{client_order_id}:{event}`` so re-running a cycle
cannot duplicate them. Nothing is simulated in ``OBSERVE_ONLY``; BUYs are not simulated in
``REDUCE_RISK_ONLY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, bps_factor
from btcbot_pipeline.domain.params import ExecutionParams
from btcbot_pipeline.domain.vocabulary import Mode, Side


@dataclass(frozen=True, slots=True)
class SimulatedFill:
    fill_id: str
    cycle_id: str
    cycle_ts: datetime
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    mark_price_try: Decimal
    fill_price_try: Decimal
    notional_try: Decimal
    fee_try: Decimal
    slippage_try: Decimal


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: str
    cycle_id: str
    cycle_ts: datetime
    client_order_id: str
    event_type: str
    status_after: str


def simulate_fills(
    intents: tuple[OrderIntent, ...], execution: ExecutionParams, mode: Mode
) -> tuple[tuple[SimulatedFill, ...], tuple[OrderEvent, ...]]:
    """Fills and OMS events for the PLANNED intents (see the module docstring)."""
    fills = fill_intents(intents, execution, mode)
    return fills, order_events(fills)


def fill_intents(intents: tuple[OrderIntent, ...], execution: ExecutionParams, mode: Mode) -> tuple[SimulatedFill, ...]:
    """The fills of :func:`simulate_fills` without their events (the cycle derives those
    only when they are read)."""
    if mode is Mode.OBSERVE_ONLY:
        return ()
    allows_buy = mode.allows_buy
    todo = [i for i in intents if i.status is IntentStatus.PLANNED and (allows_buy or i.side is not Side.BUY)]
    if not todo:
        return ()
    slip = bps_factor(execution.slippage_bps)
    fee_rate = bps_factor(execution.fees_bps)
    fills: list[SimulatedFill] = []
    with localcontext(MONEY_CONTEXT):
        for intent in todo:
            assert intent.qty is not None and intent.mark_price_try is not None
            mark, qty = intent.mark_price_try, intent.qty
            price = mark * (ONE + slip) if intent.side is Side.BUY else mark * (ONE - slip)
            notional = price * qty
            fills.append(
                SimulatedFill(
                    fill_id=f"s7:{intent.cycle_id}:{intent.client_order_id}",
                    cycle_id=intent.cycle_id,
                    cycle_ts=intent.cycle_ts,
                    client_order_id=intent.client_order_id,
                    symbol=intent.symbol,
                    side=intent.side,
                    qty=qty,
                    mark_price_try=mark,
                    fill_price_try=price,
                    notional_try=notional,
                    fee_try=notional * fee_rate,
                    slippage_try=abs(price - mark) * qty,
                )
            )
    return tuple(fills)


def order_events(fills: tuple[SimulatedFill, ...]) -> tuple[OrderEvent, ...]:
    """``SUBMITTED`` then ``FILLED`` for each fill, in fill order."""
    return tuple(
        OrderEvent(
            event_id=f"{fill.client_order_id}:{event_type}",
            cycle_id=fill.cycle_id,
            cycle_ts=fill.cycle_ts,
            client_order_id=fill.client_order_id,
            event_type=event_type,
            status_after=status,
        )
        for fill in fills
        for event_type, status in _EVENTS
    )


_EVENTS = (("SUBMITTED", "OPEN"), ("FILLED", "FILLED"))
