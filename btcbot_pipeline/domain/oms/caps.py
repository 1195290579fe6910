"""The caps on open orders both venues apply before a submission: ``MAX_OPEN_ORDERS``
(all symbols) and ``MAX_OPEN_ORDERS_PER_SYMBOL``. An order counts while it is open
(resting on the exchange, or waiting to be sent after a throttle or a retry backoff).
"""

from __future__ import annotations

from collections.abc import Iterable

from btcbot_pipeline.domain.oms.orders import SimOrder
from btcbot_pipeline.domain.params import OmsParams

# The reasons a cap gives a refused submission (recorded on the order's REJECTED event).
MAX_OPEN_ORDERS = "cap:MAX_OPEN_ORDERS"
MAX_OPEN_ORDERS_PER_SYMBOL = "cap:MAX_OPEN_ORDERS_PER_SYMBOL"


def cap_refusal(open_orders: Iterable[SimOrder], symbol: str, params: OmsParams) -> str | None:
    """Why one more order of ``symbol`` may not open beside ``open_orders``, or ``None``."""
    if params.max_open_orders is None and params.max_open_orders_per_symbol is None:
        return None  # no cap set (the default): nothing to count
    total = per_symbol = 0
    for order in open_orders:
        if order.is_open:
            total += 1
            per_symbol += order.symbol == symbol
    if params.max_open_orders is not None and total >= params.max_open_orders:
        return MAX_OPEN_ORDERS
    if params.max_open_orders_per_symbol is not None and per_symbol >= params.max_open_orders_per_symbol:
        return MAX_OPEN_ORDERS_PER_SYMBOL
    return None
