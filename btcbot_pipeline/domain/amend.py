"""Amending resting orders the plan wants smaller (cancel/replace at the new size).

The plan counts open orders as done (:func:`~btcbot_pipeline.domain.cycle._after_open_orders`):
a resting BUY of a symbol is part of the position it targets. When the target falls below
what the book holds plus that BUY, the plan would answer with a SELL, which has nothing
to sell yet (the intents skip it ``qty_rounds_to_zero``) or sells held quantity while the
BUY still buys. A resting order the plan wants smaller is amended instead:

1. :func:`released`: a resting order of ours (acknowledged or partially filled, not being
   replaced this cycle) is released when the plan, counting it, has an action of the
   *opposite* side on its symbol that it would place: PLANNED, or skipped only for
   ``insufficient_cash`` (an amend spends less, never more). A gate that skips the
   opposite trade for any other reason (``within_band``, ``min_notional``, the mode,
   tradability, the order and turnover caps) amends nothing: the order rests as it is.
2. The fold plans again without the released orders (their cash and quantity no longer
   reserved): the symbol's action is now measured from what the book holds, so it is the
   smaller order of the same side, or, when the target is at or beyond the holding, an
   action of the other side (a resting BUY the plan wants gone entirely, and a SELL of
   what is held above the target).
3. :func:`cancel_reasons`: every released order is cancelled. ``amended`` when this
   cycle's intents hold a PLANNED order of its symbol and side (the new, smaller order,
   with its own client order id, at this cycle's price); ``plan_dropped`` when they do not
   (the plan wants it gone entirely, or the smaller order is below a minimum).
4. The venue cancels them as it cancels replaced orders (``CANCELED``, a legal move from
   ``ACKED`` or ``PARTIALLY_FILLED``), with these reasons (``ExecutionRequest.cancel_reasons``).

Nothing happens under the kill switch (nothing is cancelled then), to orders waiting to
be sent (``PLANNED``: throttled or retried; they are sent as planned), nor to external
orders. Under the ``seed`` fill model orders fill in the cycle that places them, so no
order rests and nothing changes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from btcbot_pipeline.domain.intents import OrderIntent
from btcbot_pipeline.domain.oms import OrderStatus, SimOrder
from btcbot_pipeline.domain.plan import ActionStatus, PortfolioPlan
from btcbot_pipeline.domain.vocabulary import Side

AMENDED = "amended"
PLAN_DROPPED = "plan_dropped"
_RESTING = (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED)
_OPPOSITE = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}


def released(orders: Iterable[SimOrder], plan: PortfolioPlan, replaced: Collection[str] = ()) -> frozenset[str]:
    """Client order ids of the resting orders ``plan`` (which counted them) wants smaller."""
    opposite_wanted = {
        (a.symbol, a.side)
        for a in plan.actions
        if a.status is ActionStatus.PLANNED or a.skip_reason == "insufficient_cash"
    }
    return frozenset(
        o.client_order_id
        for o in orders
        if o.origin == "bot"
        and o.status in _RESTING
        and o.client_order_id not in replaced
        and (o.symbol, _OPPOSITE[o.side]) in opposite_wanted
    )


def cancel_reasons(
    orders: Iterable[SimOrder], released_ids: Collection[str], intents: Sequence[OrderIntent]
) -> dict[str, str]:
    """Why each released order is cancelled: ``amended`` when a PLANNED intent of its
    symbol and side replaces it, else ``plan_dropped``."""
    replacing = {(i.symbol, i.side) for i in intents if i.planned}
    return {
        o.client_order_id: AMENDED if (o.symbol, o.side) in replacing else PLAN_DROPPED
        for o in orders
        if o.client_order_id in released_ids
    }
