"""The simulated order management system: orders, the exchange behind them, one step per cycle.

Contract: :func:`step` is the only entry point a cycle needs; it is pure (times are the
cycle's, random draws are seeded hashes) and returns an :class:`OmsStep`. The package
re-exports the names other rooms use; its modules are:

- :mod:`.orders`: order statuses, the legal transitions between them, the events;
- :mod:`.exchange`: the simulated exchange (bars, fill models, token bucket, draws);
- :mod:`.step`: reconcile the open orders, submit the new intents (:func:`step`).

The OMS settings, :class:`~btcbot_pipeline.domain.params.OmsParams`, are with the other
cycle parameters in :mod:`btcbot_pipeline.domain.params`.
"""

from btcbot_pipeline.domain.oms.exchange import Bar, TokenBucket
from btcbot_pipeline.domain.oms.orders import (
    LEGAL,
    TERMINAL,
    IllegalTransition,
    OmsEvent,
    OmsEventType,
    OrderStatus,
    SimOrder,
    transition,
)
from btcbot_pipeline.domain.oms.step import OmsState, OmsStep, payload_hash, step

__all__ = [
    "LEGAL",
    "TERMINAL",
    "Bar",
    "IllegalTransition",
    "OmsEvent",
    "OmsEventType",
    "OmsState",
    "OmsStep",
    "OrderStatus",
    "SimOrder",
    "TokenBucket",
    "payload_hash",
    "step",
    "transition",
]
