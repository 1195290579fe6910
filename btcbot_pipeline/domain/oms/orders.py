"""Simulated orders: their statuses, the legal transitions between them, and their events.

The state machine (seed Stage 7 ``order_state``, plus ``EXPIRED``), from → to:

- ``PLANNED`` → ``SUBMITTED``, ``REJECTED``, ``CANCELED``, ``EXPIRED``
- ``SUBMITTED`` → ``ACKED``, ``REJECTED``
- ``ACKED`` → ``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED``, ``EXPIRED``
- ``PARTIALLY_FILLED`` → ``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED``, ``EXPIRED``
- ``FILLED``, ``CANCELED``, ``REJECTED``, ``EXPIRED`` → nothing (terminal)

``LEGAL[status]`` is the set of statuses an order may move to; the four terminal statuses
(:data:`TERMINAL`) have none. Two choices beyond the seeds' table:

- ``PLANNED → EXPIRED``: an order deferred by throttling or a retry backoff still has a
  time-to-live, and runs out of it like a resting one;
- ``SUBMITTED`` leads only to ``ACKED`` or ``REJECTED``: the simulated exchange answers a
  submission in the same cycle, so there is never a submitted order to cancel or fill.

Every status change goes through :func:`transition`. :func:`advance` applies one and
records it as an :class:`OmsEvent` with the order's next sequence number; events that
change no status (``THROTTLED``, ``RETRY_SCHEDULED``, ...) go through it too, so an
order's events are numbered 1, 2, 3, ... without gaps. Event ids are
``{client_order_id}:{seq:04d}:{event_type}``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Mapping

from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.vocabulary import Side


class OrderStatus(StrEnum):
    PLANNED = "PLANNED"
    SUBMITTED = "SUBMITTED"
    ACKED = "ACKED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


_S = OrderStatus
TERMINAL: frozenset[OrderStatus] = frozenset({_S.FILLED, _S.CANCELED, _S.REJECTED, _S.EXPIRED})

LEGAL: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.PLANNED: frozenset({_S.SUBMITTED, _S.REJECTED, _S.CANCELED, _S.EXPIRED}),
        _S.SUBMITTED: frozenset({_S.ACKED, _S.REJECTED}),
        _S.ACKED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
        _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)


class OmsEventType(StrEnum):
    """What an :class:`OmsEvent` records: a status reached, or something that happened."""

    SUBMITTED = "SUBMITTED"
    ACKED = "ACKED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    THROTTLED = "THROTTLED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    RETRY_GIVEUP = "RETRY_GIVEUP"
    DUPLICATE_IGNORED = "DUPLICATE_IGNORED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    # A live action the gates refused at the moment of acting (reason ``blocked:KILL_SWITCH``,
    # ``blocked:DRY_RUN`` or ``blocked:LIVE_NOT_ARMED``, the seeds' block reasons).
    BLOCKED = "BLOCKED"
    # What reconciling with the exchange found (reasons: ``external``, ``no_client_id``,
    # ``exchange_id:<id>``, ``adopted:<id>``, ``fee_not_try:<asset>:<amount>``).
    AUDIT = "AUDIT"


class IllegalTransition(ValueError):
    """A status change that :data:`LEGAL` does not allow."""


@dataclass(frozen=True, slots=True)
class SimOrder:
    """One LIMIT order of the simulated OMS, as it stands after its last event.

    ``price_try`` is the limit. ``filled_notional_try`` is Σ fill price × fill qty, so the
    average fill price is exact up to the one division in :attr:`avg_fill_price_try`.
    ``placed_ts`` is the cycle the order was created in (its time-to-live counts from
    there, also while it waits for a retry). ``attempts`` counts submission attempts;
    ``next_attempt_ts`` is set while a retry waits for its backoff. ``seq`` is the number
    of events recorded so far; ``reason`` the reason of the latest event that gave one.
    """

    client_order_id: str
    symbol: str
    side: Side
    price_try: Decimal
    qty: Decimal
    placed_ts: datetime
    placed_cycle_id: str
    status: OrderStatus
    filled_qty: Decimal = ZERO
    filled_notional_try: Decimal = ZERO
    fees_try: Decimal = ZERO
    slippage_try: Decimal = ZERO
    attempts: int = 0
    next_attempt_ts: datetime | None = None
    seq: int = 0
    intent_hash: str = ""
    reason: str | None = None
    # Live orders only (absent from a simulated order's payload): the exchange's order id,
    # and who placed it: ``bot``, or ``external`` for an order found on the account that
    # this bot did not place (never cancelled by it; its fills are the account's all the same).
    exchange_order_id: int | None = None
    origin: str = "bot"

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def avg_fill_price_try(self) -> Decimal | None:
        if self.filled_qty == ZERO:
            return None
        with localcontext(MONEY_CONTEXT):
            return self.filled_notional_try / self.filled_qty

    @property
    def is_open(self) -> bool:
        """Not terminal: live on the simulated exchange (ACKED / PARTIALLY_FILLED; SUBMITTED
        never outlasts a cycle) or deferred (PLANNED after a throttle or a scheduled retry:
        an order the step leaves PLANNED is always one that waits to be sent again)."""
        return self.status not in TERMINAL


@dataclass(frozen=True, slots=True)
class OmsEvent:
    event_id: str
    seq: int
    cycle_id: str
    cycle_ts: datetime
    client_order_id: str
    event_type: OmsEventType
    status_after: OrderStatus
    reason: str | None


def transition(order: SimOrder, to: OrderStatus) -> SimOrder:
    """``order`` with status ``to``.

    Raises:
        IllegalTransition: if ``LEGAL[order.status]`` does not contain ``to``.
    """
    if to not in LEGAL[order.status]:
        raise IllegalTransition(f"illegal order transition {order.status.value} → {to.value} ({order.client_order_id})")
    return replace(order, status=to)


def advance(
    order: SimOrder,
    event_type: OmsEventType,
    *,
    cycle_id: str,
    cycle_ts: datetime,
    reason: str | None = None,
    **changes: Any,
) -> tuple[SimOrder, OmsEvent]:
    """Record ``event_type`` for ``order``: the order after it, and the event.

    An event type named like a status (``ACKED``, ``FILLED``, ...) moves the order to that
    status through :func:`transition`; the others leave the status as it is. ``changes``:
    other fields of the order the event changes (a fill's amounts, an attempt's count),
    set in the same copy.
    """
    status = _STATUS_OF_EVENT.get(event_type)
    if status is None:
        status = order.status
    elif status not in LEGAL[order.status]:
        transition(order, status)  # raises IllegalTransition, with its message
    seq = order.seq + 1
    # one copy of the order per event (a backtest records tens of thousands)
    order = evolve(order, status=status, seq=seq, reason=reason if reason is not None else order.reason, **changes)
    event = OmsEvent(
        event_id=f"{order.client_order_id}:{seq:04d}:{event_type.value}",
        seq=seq,
        cycle_id=cycle_id,
        cycle_ts=cycle_ts,
        client_order_id=order.client_order_id,
        event_type=event_type,
        status_after=order.status,
        reason=reason,
    )
    return order, event


# The event types named like a status move the order to it (:func:`advance`).
_STATUS_OF_EVENT: Mapping[OmsEventType, OrderStatus] = MappingProxyType(
    {e: OrderStatus(e.value) for e in OmsEventType if e.value in OrderStatus.__members__}
)

_ORDER_FIELDS = tuple(f.name for f in fields(SimOrder))
_ORDER_INDEX = {name: i for i, name in enumerate(_ORDER_FIELDS)}
_order_values = attrgetter(*_ORDER_FIELDS)


def evolve(order: SimOrder, **changes: Any) -> SimOrder:
    """``dataclasses.replace(order, **changes)`` for the OMS's hot path: the same order,
    built from its values in field order rather than by looking its fields up again on
    every copy (a backtest copies an order tens of thousands of times; this takes 60 %
    of ``replace``'s time).

    Raises:
        KeyError: ``changes`` names a field :class:`SimOrder` does not have.
    """
    values = list(_order_values(order))
    for name, value in changes.items():
        values[_ORDER_INDEX[name]] = value
    return SimOrder(*values)
