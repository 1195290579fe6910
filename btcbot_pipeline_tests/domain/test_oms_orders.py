"""The order state machine: every legal and every illegal transition, events, order figures."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal as D
from itertools import product

import pytest

from btcbot_pipeline.domain.oms import (
    LEGAL,
    TERMINAL,
    IllegalTransition,
    OmsEvent,
    OmsEventType,
    OrderStatus,
    SimOrder,
    transition,
)
from btcbot_pipeline.domain.oms.orders import advance, evolve
from btcbot_pipeline.domain.vocabulary import Side

S = OrderStatus
T0 = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
CID = "s7:c1:AAATRY:BUY:0123456789ab"

# The table, written out (not read back from LEGAL): 14 legal moves.
LEGAL_PAIRS = [
    (S.PLANNED, S.SUBMITTED),
    (S.PLANNED, S.REJECTED),
    (S.PLANNED, S.CANCELED),
    (S.PLANNED, S.EXPIRED),  # a deferred order runs out of time too
    (S.SUBMITTED, S.ACKED),
    (S.SUBMITTED, S.REJECTED),
    (S.ACKED, S.PARTIALLY_FILLED),
    (S.ACKED, S.FILLED),
    (S.ACKED, S.CANCELED),
    (S.ACKED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELED),
    (S.PARTIALLY_FILLED, S.EXPIRED),
]
ILLEGAL_PAIRS = [pair for pair in product(S, S) if pair not in LEGAL_PAIRS]


def order(status: OrderStatus = S.PLANNED, **changes: object) -> SimOrder:
    base = SimOrder(
        client_order_id=CID,
        symbol="AAATRY",
        side=Side.BUY,
        price_try=D("100"),
        qty=D("3"),
        placed_ts=T0,
        placed_cycle_id="c1",
        status=status,
    )
    return replace(base, **changes)


def _name(pair: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_the_table_has_14_legal_and_50_illegal_moves() -> None:
    assert len(LEGAL_PAIRS) == 14
    assert len(ILLEGAL_PAIRS) == 8 * 8 - 14
    assert {(a, b) for a, targets in LEGAL.items() for b in targets} == set(LEGAL_PAIRS)


@pytest.mark.parametrize("pair", LEGAL_PAIRS, ids=_name)
def test_legal_transition(pair: tuple[OrderStatus, OrderStatus]) -> None:
    before, after = pair
    moved = transition(order(before, seq=4, filled_qty=D("1")), after)
    assert moved == order(after, seq=4, filled_qty=D("1"))  # only the status changes


@pytest.mark.parametrize("pair", ILLEGAL_PAIRS, ids=_name)
def test_illegal_transition_raises(pair: tuple[OrderStatus, OrderStatus]) -> None:
    before, after = pair
    message = f"illegal order transition {before.value} → {after.value} ({CID})"
    with pytest.raises(IllegalTransition, match=re.escape(message)):
        transition(order(before), after)


def test_illegal_transition_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=re.escape(f"illegal order transition PLANNED → FILLED ({CID})")):
        transition(order(S.PLANNED), S.FILLED)


def test_terminal_statuses_have_no_way_out() -> None:
    assert TERMINAL == {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}
    assert [LEGAL[s] for s in sorted(TERMINAL)] == [frozenset()] * 4


def test_advance_numbers_events_and_moves_status() -> None:
    acked, event = advance(order(S.SUBMITTED, seq=1), OmsEventType.ACKED, cycle_id="c1", cycle_ts=T0)
    assert acked == order(S.ACKED, seq=2)
    assert event == OmsEvent(
        event_id=f"{CID}:0002:ACKED",
        seq=2,
        cycle_id="c1",
        cycle_ts=T0,
        client_order_id=CID,
        event_type=OmsEventType.ACKED,
        status_after=S.ACKED,
        reason=None,
    )


def test_advance_of_a_non_status_event_keeps_the_status() -> None:
    throttled, event = advance(
        order(S.PLANNED), OmsEventType.THROTTLED, cycle_id="c2", cycle_ts=T0, reason="rate_limited"
    )
    assert throttled == order(S.PLANNED, seq=1, reason="rate_limited")
    assert (event.event_id, event.status_after, event.reason) == (f"{CID}:0001:THROTTLED", S.PLANNED, "rate_limited")


def test_advance_refuses_an_illegal_status_event() -> None:
    with pytest.raises(IllegalTransition, match=re.escape(f"illegal order transition FILLED → CANCELED ({CID})")):
        advance(order(S.FILLED), OmsEventType.CANCELED, cycle_id="c2", cycle_ts=T0)


def test_advance_sets_the_changes_in_the_same_copy() -> None:
    filled, event = advance(
        order(S.ACKED, seq=2, attempts=1),
        OmsEventType.FILLED,
        cycle_id="c1",
        cycle_ts=T0,
        filled_qty=D("3"),
        fees_try=D("0.6"),
    )
    assert filled == order(S.FILLED, seq=3, attempts=1, filled_qty=D("3"), fees_try=D("0.6"))
    assert (event.seq, event.status_after) == (3, S.FILLED)


def test_advance_of_a_partial_fill_on_a_partial_fill_is_legal() -> None:
    again, _ = advance(order(S.PARTIALLY_FILLED, seq=4), OmsEventType.PARTIALLY_FILLED, cycle_id="c3", cycle_ts=T0)
    assert (again.status, again.seq) == (S.PARTIALLY_FILLED, 5)


def test_advance_refuses_a_status_event_the_order_already_has() -> None:
    with pytest.raises(IllegalTransition, match="ACKED → ACKED"):
        advance(order(S.ACKED), OmsEventType.ACKED, cycle_id="c2", cycle_ts=T0)


@pytest.mark.parametrize(
    "changes",
    [{}, {"status": S.ACKED, "seq": 3, "reason": None}, {"origin": "external", "exchange_order_id": 7, "qty": D("1")}],
)
def test_evolve_is_replace(changes: dict[str, object]) -> None:
    base = order(S.SUBMITTED, seq=2, reason="r", attempts=1)
    assert evolve(base, **changes) == replace(base, **changes)


def test_evolve_refuses_a_field_the_order_does_not_have() -> None:
    with pytest.raises(KeyError):
        evolve(order(), colour="red")


def test_order_figures() -> None:
    fresh = order(S.ACKED)
    assert (fresh.remaining_qty, fresh.avg_fill_price_try) == (D("3"), None)
    # two fills: 1 @ 100 and 0.5 @ 99 → notional 149.5 over 1.5 → 99.666…
    partly = order(S.PARTIALLY_FILLED, filled_qty=D("1.5"), filled_notional_try=D("149.5"))
    assert partly.remaining_qty == D("1.5")
    assert partly.avg_fill_price_try == D("99.6666666666666666666666666666666666666666666666666666666667")


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        (S.PLANNED, True),  # deferred: throttled or waiting for a retry
        (S.SUBMITTED, True),
        (S.ACKED, True),
        (S.PARTIALLY_FILLED, True),
        (S.FILLED, False),
        (S.CANCELED, False),
        (S.REJECTED, False),
        (S.EXPIRED, False),
    ],
)
def test_open_means_not_terminal(status: OrderStatus, is_open: bool) -> None:
    assert order(status).is_open is is_open
