"""The BTCTurk venue against the fake exchange: exactly-once submits, gates at the moment of
each action, the kill switch, caps, and what a live cycle records."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from btcbot_pipeline.adapters.btcturk.client import LiveArming
from btcbot_pipeline.adapters.btcturk.errors import ServerError
from btcbot_pipeline.adapters.btcturk.venue import LiveLimits
from btcbot_pipeline.domain.oms import OmsState, OrderStatus
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk
from btcbot_pipeline.testing.fake_orders import FIRST_ORDER_ID
from btcbot_pipeline.testing.live_venue_setup import (
    ARMED,
    Gates,
    events,
    execute,
    intent,
    later,
    live_venue,
    trading_market,
)

D = Decimal
KILLED = LiveArming(dry_run=False, kill_switch=True, live_trading=True, ack="I_UNDERSTAND")
BUY = intent(Side.BUY, "0.01", "3800000")  # rests: below the ask


@pytest.fixture
def fake() -> FakeBtcturk:
    with FakeBtcturk(trading_market()) as server:
        yield server


def test_a_submitted_order_is_acked_with_its_exchange_id(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        step = execute(venue, OmsState(), [BUY])
    cid = BUY.client_order_id
    assert events(step) == [(cid, "SUBMITTED", None), (cid, "ACKED", None)]
    (order,) = step.state.open_orders
    assert (order.status, order.exchange_order_id, order.origin) == (OrderStatus.ACKED, FIRST_ORDER_ID, "bot")
    assert fake.market.orders.submission_count(cid) == 1
    assert step.keys == ((f"submit:{cid}", step.keys[0][1], "NEW"),)


def test_a_rerun_after_a_crash_adopts_the_order_instead_of_sending_it_again(fake: FakeBtcturk) -> None:
    # The first run submitted, then died before its book was written: the rerun starts from
    # the same (empty) state with the same intent.
    with live_venue(fake) as venue:
        execute(venue, OmsState(), [BUY])
        rerun = execute(venue, OmsState(), [BUY])
    cid = BUY.client_order_id
    assert fake.market.orders.submission_count(cid) == 1
    assert fake.market.orders.submission_count(cid, accepted=False) == 0
    # reconcile finds it open under the bot's client id and adopts it; the intent is then known
    assert events(rerun) == [
        (cid, "SUBMITTED", f"adopted:{FIRST_ORDER_ID}"),
        (cid, "ACKED", None),
        (cid, "DUPLICATE_IGNORED", f"submit:{cid} already known"),
    ]


@pytest.mark.parametrize("fault", ["accept_drop", "accept_500"])
def test_an_answer_lost_after_the_exchange_accepted_is_answered_by_a_lookup(fake: FakeBtcturk, fault: str) -> None:
    fake.inject("/api/v1/order", fault)
    with live_venue(fake) as venue:
        step = execute(venue, OmsState(), [BUY])
        again = execute(venue, step.state, [BUY])
    cid = BUY.client_order_id
    assert events(step) == [(cid, "SUBMITTED", f"adopted:{FIRST_ORDER_ID}"), (cid, "ACKED", None)]
    assert events(again) == [(cid, "DUPLICATE_IGNORED", f"submit:{cid} already known")]
    assert fake.market.orders.submission_count(cid) == 1


def test_a_throttled_submit_is_not_accepted_and_goes_out_once_later(fake: FakeBtcturk) -> None:
    fake.inject("/api/v1/order", "429", retry_after=7)
    with live_venue(fake) as venue:
        step = execute(venue, OmsState(), [BUY])
        retry = execute(venue, step.state, [], ts=later(5))
    cid = BUY.client_order_id
    assert events(step) == [(cid, "THROTTLED", "rate_limited (retry after 7.0 s)")]
    assert events(retry) == [(cid, "SUBMITTED", None), (cid, "ACKED", None)]
    assert fake.market.orders.submission_count(cid) == 1


def test_an_exchange_reject_is_recorded_with_its_name(fake: FakeBtcturk) -> None:
    too_big = intent(Side.BUY, "1", "3800000")  # 3.8 M TRY against 100,000
    with live_venue(fake) as venue:
        step = execute(venue, OmsState(), [too_big])
    cid = too_big.client_order_id
    assert events(step) == [(cid, "SUBMITTED", None), (cid, "REJECTED", "BALANCE_NOT_ENOUGH")]
    assert step.state.open_orders == ()


def test_a_kill_switch_flipped_between_two_submits_blocks_the_second(fake: FakeBtcturk) -> None:
    second = intent(Side.BUY, "0.01", "3790000")
    # the first submit reads the gates once; the second read sees the kill switch
    gates = Gates(flips={2: KILLED})
    with live_venue(fake, gates) as venue:
        step = execute(venue, OmsState(), [BUY, second])
    assert events(step)[-1] == (second.client_order_id, "REJECTED", "blocked:KILL_SWITCH")
    assert fake.market.orders.submission_count(second.client_order_id) == 0
    assert fake.market.orders.submission_count(BUY.client_order_id) == 1


@pytest.mark.parametrize(
    ("arming", "reason"),
    [
        (LiveArming(dry_run=True, kill_switch=False, live_trading=True, ack="I_UNDERSTAND"), "blocked:DRY_RUN"),
        (
            LiveArming(dry_run=False, kill_switch=False, live_trading=False, ack="I_UNDERSTAND"),
            "blocked:LIVE_NOT_ARMED",
        ),
        (LiveArming(dry_run=False, kill_switch=False, live_trading=True, ack=None), "blocked:LIVE_NOT_ARMED"),
    ],
)
def test_each_closed_gate_blocks_a_submit_with_the_seeds_reason(
    fake: FakeBtcturk, arming: LiveArming, reason: str
) -> None:
    with live_venue(fake, Gates(arming)) as venue:
        step = execute(venue, OmsState(), [BUY])
    assert events(step) == [(BUY.client_order_id, "REJECTED", reason)]
    assert fake.market.orders.submissions == []


def test_a_cancel_the_gates_refuse_leaves_the_order_resting(fake: FakeBtcturk) -> None:
    gates = Gates(flips={2: KILLED})
    with live_venue(fake, gates) as venue:
        placed = execute(venue, OmsState(), [BUY])
        dropped = execute(venue, placed.state, [], ts=later(5), wanted=set())
    cid = BUY.client_order_id
    assert events(dropped) == [(cid, "BLOCKED", "blocked:KILL_SWITCH")]
    assert [o.client_order_id for o in dropped.state.open_orders] == [cid]
    assert [o.status for o in fake.market.orders.orders.values()] == ["Untouched"]


def test_with_the_kill_switch_on_nothing_is_placed_or_cancelled_and_resting_orders_still_fill(
    fake: FakeBtcturk,
) -> None:
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        fake.market.move("BTCTRY", bid=D("3790000"), ask=D("3795000"), size=D("0.004"))
        frozen = execute(
            venue,
            placed.state,
            [intent(Side.BUY, "0.01", "3780000", ts=later(5))],
            ts=later(5),
            wanted=set(),
            frozen=True,
        )
    cid = BUY.client_order_id
    assert events(frozen) == [(cid, "PARTIALLY_FILLED", None)]
    (fill,) = frozen.fills
    assert (fill.fill_id, fill.qty, fill.fill_price_try, fill.fee_try) == (
        "1181163798924650001",
        D("0.004"),
        D("3800000"),
        D("15.2"),
    )
    assert len(fake.market.orders.submissions) == 1
    assert [o.status for o in fake.market.orders.orders.values()] == ["Partial"]


def test_a_partial_fill_across_cycles_then_the_rest(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        fake.market.move("BTCTRY", bid=D("3790000"), ask=D("3795000"), size=D("0.004"))
        first = execute(venue, placed.state, [], ts=later(5))
        fake.market.move("BTCTRY", bid=D("3790000"), ask=D("3796000"), size=D("0.02"))
        second = execute(venue, first.state, [], ts=later(10))
        third = execute(venue, second.state, [], ts=later(15))
    cid = BUY.client_order_id
    assert [(f.qty, f.fill_price_try) for f in first.fills] == [(D("0.004"), D("3800000"))]
    assert [(f.qty, f.fill_price_try) for f in second.fills] == [(D("0.006"), D("3800000"))]
    assert events(second) == [(cid, "FILLED", None)]
    assert second.state.open_orders == () and third.fills == () and events(third) == []


def test_reconcile_finds_external_orders_orders_without_client_id_and_unknown_closed(fake: FakeBtcturk) -> None:
    engine = fake.market.orders
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        engine.forget(FIRST_ORDER_ID)
        foreign = engine.place_external("BTCTRY", "buy", D("0.001"), D("3600000"), client_id="web-123")
        anonymous = engine.place_external("BTCTRY", "buy", D("0.001"), D("3700000"), client_id=None)
        step = execute(venue, placed.state, [], ts=later(5))
    cid = BUY.client_order_id
    assert events(step) == [
        (cid, "CANCELED", "unknown_closed"),
        (f"ext:{foreign.id}", "SUBMITTED", "external"),
        (f"ext:{foreign.id}", "ACKED", None),
        (f"ext:{anonymous.id}", "SUBMITTED", "no_client_id"),
        (f"ext:{anonymous.id}", "ACKED", None),
    ]
    # external orders are the account's: kept open, never cancelled by the bot
    with live_venue(fake) as venue:
        later_step = execute(venue, step.state, [], ts=later(10), wanted=set())
    assert events(later_step) == []
    assert sorted(o.origin for o in later_step.state.open_orders) == ["external", "external"]


def test_an_order_the_plan_drops_is_cancelled_by_its_exchange_id(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        dropped = execute(venue, placed.state, [], ts=later(5), wanted=set())
    assert events(dropped) == [(BUY.client_order_id, "CANCELED", "plan_dropped")]
    assert [o.status for o in fake.market.orders.orders.values()] == ["Canceled"]


def test_an_order_cancelled_on_the_exchange_is_recorded_so(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        fake.market.orders.cancel(FIRST_ORDER_ID)
        step = execute(venue, placed.state, [], ts=later(5))
    assert events(step) == [(BUY.client_order_id, "CANCELED", "canceled_on_exchange")]


def test_caps_refuse_with_a_recorded_reason(fake: FakeBtcturk) -> None:
    second, third = intent(Side.BUY, "0.01", "3790000"), intent(Side.BUY, "0.002", "3780000")
    limits = LiveLimits(canary_notional_try=D("50000"))
    with live_venue(fake, limits=limits) as venue:
        step = execute(venue, OmsState(), [BUY, second, third], params=OmsParams(fill_model="limit", max_open_orders=2))
    assert [e for e in events(step) if e[1] == "REJECTED"] == [
        (second.client_order_id, "REJECTED", "cap:LIVE_CANARY_NOTIONAL_TRY"),
    ]
    with live_venue(fake) as venue:
        capped = execute(
            venue,
            step.state,
            [intent(Side.BUY, "0.001", "3770000", ts=later(5))],
            ts=later(5),
            params=OmsParams(fill_model="limit", max_open_orders=2),
        )
    assert [e[2] for e in events(capped) if e[1] == "REJECTED"] == ["cap:MAX_OPEN_ORDERS"]


def test_a_position_cap_refuses_a_buy_that_would_pass_it(fake: FakeBtcturk) -> None:
    with live_venue(fake, limits=LiveLimits(max_position_notional_try=D("30000"))) as venue:
        step = execute(venue, OmsState(), [BUY])
    assert events(step) == [(BUY.client_order_id, "REJECTED", "cap:MAX_POSITION_NOTIONAL_TRY")]


def test_a_fee_in_another_asset_is_audited_and_left_out_of_the_ledger() -> None:
    with FakeBtcturk(trading_market(fee_in="base")) as fake, live_venue(fake) as venue:
        taker = intent(Side.BUY, "0.01", "3850000")  # crosses the ask: fills at once
        placed = execute(venue, OmsState(), [taker])
        fills = execute(venue, placed.state, [], ts=later(5))
    cid = taker.client_order_id
    (fill,) = placed.fills
    assert (fill.qty, fill.fill_price_try, fill.fee_try) == (D("0.01"), D("3844700"), D(0))
    assert (cid, "AUDIT", "fee_not_try:BTC:0.00001") in events(placed)
    assert fills.fills == ()


def test_trades_read_again_within_the_lookback_are_not_recorded_twice(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        taker = intent(Side.BUY, "0.01", "3850000")
        placed = execute(venue, OmsState(), [taker])
        again = execute(venue, placed.state, [], ts=later(5))
    assert len(placed.fills) == 1 and again.fills == ()
    assert placed.state.cursors == {"BTCTRY": int(later(0).timestamp() * 1000)}
    assert placed.state.recent_fill_ids == (f"{int(later(0).timestamp() * 1000)}:1181163798924650001",)


def test_the_armed_gates_are_read_at_each_action(fake: FakeBtcturk) -> None:
    gates = Gates(ARMED)
    with live_venue(fake, gates) as venue:
        execute(venue, OmsState(), [BUY, intent(Side.BUY, "0.001", "3700000")])
    assert gates.reads == 2


def test_no_secret_in_any_log_line_or_error_at_debug_level(fake: FakeBtcturk, caplog: pytest.LogCaptureFixture) -> None:
    from btcbot_pipeline.testing.fake_btcturk import FAKE_API_SECRET

    caplog.set_level("DEBUG")
    fake.inject("/api/v1/order", "accept_500")
    with live_venue(fake) as venue:
        first = execute(venue, OmsState(), [BUY])
        fake.inject("/api/v1/openorders", "503")
        with pytest.raises(ServerError) as failed:  # no reconcile, no trading: the cycle fails (and is retried)
            execute(venue, first.state, [], ts=later(5))
    text = caplog.text + repr(first) + repr(venue.reader) + str(failed.value)
    assert FAKE_API_SECRET not in text and "ZmFrZS1zZWNyZXQ" not in text


def test_an_exchange_id_alone_never_matches_an_order_of_another_client_id(fake: FakeBtcturk) -> None:
    # (an exchange that reuses ids, as a restarted fake does): the book's order is gone
    engine = fake.market.orders
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        engine.forget(FIRST_ORDER_ID)
        other = engine.place_external("BTCTRY", "buy", D("0.001"), D("3600000"), client_id="web-9")
        (mine,) = placed.state.open_orders
        state = replace(placed.state, open_orders=(replace(mine, exchange_order_id=other.id),))
        step = execute(venue, state, [], ts=later(5))
    assert events(step)[0] == (BUY.client_order_id, "CANCELED", "unknown_closed")
    assert (f"ext:{other.id}", "SUBMITTED", "external") in events(step)


def test_an_open_order_without_its_exchange_id_is_enriched(fake: FakeBtcturk) -> None:
    with live_venue(fake) as venue:
        placed = execute(venue, OmsState(), [BUY])
        (mine,) = placed.state.open_orders
        state = replace(placed.state, open_orders=(replace(mine, exchange_order_id=None),))
        step = execute(venue, state, [], ts=later(5))
    assert events(step) == [(BUY.client_order_id, "AUDIT", f"exchange_id:{FIRST_ORDER_ID}")]
    assert [o.exchange_order_id for o in step.state.open_orders] == [FIRST_ORDER_ID]
