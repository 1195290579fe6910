"""Orders across cycles under the limit model: resting, filling later, filling in parts,
expiring, cancelled when the plan drops them, and the cash and quantity they reserve.

Builders and conventions come from ``test_oms_step`` (cycles 5 minutes apart from 00:30).
Fees 20 bps, slippage 25 bps, 10% of a bar's volume per order and cycle.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.oms import OmsState, OrderStatus, SimOrder
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side
from btcbot_pipeline_tests.domain.test_oms_step import (
    BUY,
    SELL,
    at,
    bar,
    cid,
    intent,
    lifecycle,
    rows,
    run,
)

LIMIT = OmsParams(fill_model="limit")
LONG = OmsParams(fill_model="limit", order_ttl_s=3600)
FEES = D("20")


def test_a_buy_below_the_market_rests_and_fills_when_the_low_reaches_it() -> None:
    order_id = cid(1)
    placed = run(
        OmsState(),
        0,
        [intent(1, price="100", qty="0.5", mark="101")],
        bars=[bar("101", best_bid_try="100.9", best_ask_try="101.1", low_try="99", volume="100")],
        params=LIMIT,
    )  # the bar's low of 99 came before the order existed: no fill
    assert [e.event_id for e in placed.events] == lifecycle(order_id, 1, "SUBMITTED", "ACKED")
    assert (placed.fills, placed.state.open_orders[0].status) == ((), OrderStatus.ACKED)
    assert placed.state.reserved_cash_try(FEES) == D("50.1")  # 0.5 × 100 × 1.002

    higher = run(
        placed.state, 1, bars=[bar("100.6", best_ask_try="100.7", low_try="100.3", volume="100")], params=LIMIT
    )
    assert (higher.events, higher.fills, higher.orders) == ((), (), placed.state.open_orders)

    lower = run(higher.state, 2, bars=[bar("100.2", best_ask_try="100.3", low_try="99.8", volume="100")], params=LIMIT)
    assert [e.event_id for e in lower.events] == lifecycle(order_id, 3, "FILLED")
    (fill,) = lower.fills
    assert (fill.fill_id, fill.qty, fill.fill_price_try, fill.mark_price_try) == (
        f"s7:c2:{order_id}",
        D("0.5"),
        D("100"),
        D("100"),
    )
    assert (fill.notional_try, fill.fee_try, fill.slippage_try) == (D("50.0"), D("0.1000"), D("0"))
    assert lower.state == OmsState(open_orders=(), bucket=placed.state.bucket, keys={})
    assert lower.state.reserved_cash_try(FEES) == D("0")


def test_a_sell_above_the_market_fills_when_the_high_reaches_it() -> None:
    placed = run(
        OmsState(),
        0,
        [intent(1, SELL, price="102", qty="2")],
        bars=[bar("101", best_bid_try="100.9", volume="40")],
        params=LIMIT,
    )
    assert placed.state.reserved_qty("AAATRY") == D("2")
    later = run(placed.state, 1, bars=[bar("101.5", best_bid_try="101.4", high_try="102.3", volume="40")], params=LIMIT)
    (fill,) = later.fills
    assert (fill.qty, fill.fill_price_try, fill.notional_try, fill.fee_try) == (D("2"), D("102"), D("204"), D("0.408"))
    assert later.state.reserved_qty("AAATRY") == D("0")


# A BUY of 3.00 at 100, resting from 00:30; 10% of each bar's volume may fill.
# cycle  volume  fill   filled  remaining  status            reserved cash (× 100 × 1.002)
# c0     10      —      0       3.00       ACKED             300.6
# c1     10      1.00   1.00    2.00       PARTIALLY_FILLED  200.4
# c2     12.5    1.25   2.25    0.75       PARTIALLY_FILLED  75.15
# c3     10      0.75   3.00    0          FILLED            0     (cap 1.00 > what remains)
THREE_CYCLES = [
    (D("10"), None, D("0"), D("3.00"), OrderStatus.ACKED, D("300.6")),
    (D("10"), D("1.00"), D("1.00"), D("2.00"), OrderStatus.PARTIALLY_FILLED, D("200.4")),
    (D("12.5"), D("1.25"), D("2.25"), D("0.75"), OrderStatus.PARTIALLY_FILLED, D("75.15")),
    (D("10"), D("0.75"), D("3.00"), D("0"), OrderStatus.FILLED, D("0")),
]


def test_a_large_order_fills_over_three_cycles_within_the_volume_share() -> None:
    state, ledger, got, event_ids = OmsState(), LedgerState.opening(D("1000")), [], []
    for k, (volume, *_expected) in enumerate(THREE_CYCLES):
        if k == 0:  # ask 100.6 > 100: not marketable, it rests
            quote = bar("100.5", best_ask_try="100.6", volume=str(volume))
        else:
            quote = bar("100.2", best_ask_try="100.3", low_try="99.9", volume=str(volume))
        result = run(state, k, [intent(1, qty="3.00")] if k == 0 else (), bars=[quote], params=LONG)
        (order,) = result.orders
        fill_qty = result.fills[0].qty if result.fills else None
        got.append(
            (
                volume,
                fill_qty,
                order.filled_qty,
                order.remaining_qty,
                order.status,
                result.state.reserved_cash_try(FEES),
            )
        )
        event_ids += [e.event_id for e in result.events]
        # the ledger takes these fills and its identities hold at every cycle (close_cycle checks them)
        ledger, metrics = ledger.apply_fills(result.fills).close_cycle(f"c{k}", at(k), {"AAATRY": D("100.2")})
        state = result.state
    assert got == THREE_CYCLES
    assert event_ids == lifecycle(cid(1), 1, "SUBMITTED", "ACKED", "PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED")
    assert (order.avg_fill_price_try, order.fees_try, order.filled_notional_try) == (D("100"), D("0.6"), D("300"))
    # 3 bought at 100 plus 0.6 fees; valued at 100.2
    assert (metrics.cash_try, metrics.positions_value_try, metrics.equity_try) == (D("699.4"), D("300.6"), D("1000.0"))
    assert (metrics.unrealized_pnl_try, metrics.fees_try, metrics.net_pnl_try) == (D("0.6"), D("0.6"), D("0.0"))


def test_a_marketable_order_takes_then_rests_at_its_limit() -> None:
    # c0: ask 99.5 ≤ 100 → takes 1.00 (10% of 10) at 99.5 × 1.0025 = 99.74875, mark 99.4;
    # c1, c2: the rest fills at the limit, 1.00 each
    first = run(
        OmsState(), 0, [intent(1, qty="3.00")], bars=[bar("99.4", best_ask_try="99.5", volume="10")], params=LONG
    )
    assert [(f.qty, f.fill_price_try, f.slippage_try) for f in first.fills] == [
        (D("1.00"), D("99.748750"), D("0.348750"))
    ]
    second = run(first.state, 1, bars=[bar("99.7", best_ask_try="99.8", volume="10")], params=LONG)
    third = run(second.state, 2, bars=[bar("99.7", best_ask_try="99.8", volume="10")], params=LONG)
    (order,) = third.orders
    # (99.74875 + 100 + 100) / 3
    assert (order.status, order.avg_fill_price_try) == (OrderStatus.FILLED, D("99.91625"))
    assert order.fees_try == D("0.5994975")  # 0.1994975 + 0.2 + 0.2
    assert order.slippage_try == D("0.348750")


def test_orders_expire_after_their_time_to_live() -> None:
    # default TTL 900 s: c1 and c2 keep it, at c3 (00:45) it expires before the bar is looked at
    placed = run(
        OmsState(), 0, [intent(1, qty="3.00")], bars=[bar("101", best_ask_try="101.1", volume="10")], params=LIMIT
    )
    c1 = run(placed.state, 1, bars=[bar("100", best_ask_try="100.1", low_try="99", volume="10")], params=LIMIT)
    c2 = run(c1.state, 2, bars=[bar("101", best_ask_try="101.1", low_try="100.5", volume="10")], params=LIMIT)
    c3 = run(c2.state, 3, bars=[bar("99", best_ask_try="99.1", low_try="98", volume="10")], params=LIMIT)
    assert rows(c3) == [(cid(1), 4, "EXPIRED", "EXPIRED", "ttl_expired")]
    (order,) = c3.orders
    assert (order.filled_qty, order.remaining_qty, c3.fills, c3.state.open_orders) == (D("1.00"), D("2.00"), (), ())


def test_a_deferred_order_expires_too() -> None:
    always = OmsParams(transient_failure_rate=D("1"), retry_max_attempts=9, order_ttl_s=600)
    state = run(OmsState(), 0, [intent(1)], params=always).state
    state = run(state, 1, params=always).state
    expired = run(state, 2, params=always)
    assert rows(expired) == [(cid(1), 3, "EXPIRED", "EXPIRED", "ttl_expired")]  # PLANNED → EXPIRED


def test_orders_the_plan_no_longer_wants_are_cancelled() -> None:
    buy, sell = intent(1, price="100", qty="1"), intent(2, SELL, price="300", qty="2", symbol="BBBTRY")
    quotes = [
        bar("101", best_ask_try="101.1", volume="50"),
        bar("299", symbol="BBBTRY", best_bid_try="298.9", volume="50"),
    ]
    placed = run(OmsState(), 0, [buy, sell], bars=quotes, params=LIMIT)
    assert [o.status for o in placed.state.open_orders] == [OrderStatus.ACKED, OrderStatus.ACKED]
    dropped = run(placed.state, 1, bars=quotes, params=LIMIT, wanted=frozenset({("BBBTRY", SELL)}))
    assert rows(dropped) == [(cid(1), 3, "CANCELED", "CANCELED", "plan_dropped")]
    assert [o.client_order_id for o in dropped.state.open_orders] == [cid(2, SELL, "BBBTRY")]
    assert dropped.state.keys == {
        f"submit:{cid(2, SELL, 'BBBTRY')}": placed.state.keys[f"submit:{cid(2, SELL, 'BBBTRY')}"]
    }
    assert (dropped.state.reserved_cash_try(FEES), dropped.state.reserved_qty("BBBTRY")) == (D("0"), D("2"))


def test_a_throttled_order_the_plan_drops_is_cancelled_before_it_is_sent() -> None:
    tight = OmsParams(rate_limit_burst=1, rate_limit_rps=D("0.0001"))
    placed = run(OmsState(), 0, [intent(1), intent(2)], params=tight)
    assert placed.state.open_orders[0].status is OrderStatus.PLANNED
    dropped = run(placed.state, 1, params=tight, wanted=frozenset())
    assert rows(dropped) == [(cid(2), 2, "CANCELED", "CANCELED", "plan_dropped")]  # PLANNED → CANCELED


def test_replace_cancels_the_old_order_and_sends_the_new_one() -> None:
    old = run(
        OmsState(), 0, [intent(1, price="100")], bars=[bar("101", best_ask_try="101.1", volume="50")], params=LIMIT
    )
    new = intent(1, price="100.5", k=1)
    replaced = run(
        old.state, 1, [new], bars=[bar("101", best_ask_try="101.1", volume="50")], params=LIMIT, cancel_ids={cid(1)}
    )
    assert rows(replaced) == [
        (cid(1), 3, "CANCELED", "CANCELED", "replaced"),
        (cid(1, k=1), 1, "SUBMITTED", "SUBMITTED", None),
        (cid(1, k=1), 2, "ACKED", "ACKED", None),
    ]
    assert replaced.state.reserved_cash_try(FEES) == D("100.701")  # 1 × 100.5 × 1.002


def test_an_order_without_a_bar_stays_as_it_is() -> None:
    placed = run(OmsState(), 0, [intent(1)], bars=[bar("101", best_ask_try="101.1", volume="50")], params=LIMIT)
    quiet = run(placed.state, 1, bars=[bar("5", symbol="BBBTRY", low_try="1", volume="50")], params=LIMIT)
    assert (quiet.events, quiet.fills, quiet.state.open_orders) == ((), (), placed.state.open_orders)


def test_without_buys_new_and_deferred_buys_wait_but_resting_ones_still_fill() -> None:
    tight = OmsParams(fill_model="limit", rate_limit_burst=1, rate_limit_rps=D("0.004"))  # 300 s → 1.2
    quote = bar("101", best_ask_try="101.1", best_bid_try="100.9", volume="50")
    placed = run(OmsState(), 0, [intent(1), intent(2)], bars=[quote], params=tight)  # 1 rests, 2 throttled
    touched = bar("99.9", best_ask_try="100", best_bid_try="99.8", low_try="99.5", volume="50")
    reduce = run(
        placed.state,
        1,
        [intent(3, k=1), intent(4, SELL, price="99", k=1)],
        bars=[touched],
        params=tight,
        allow_buys=False,
    )
    assert [k[0] for k in reduce.keys] == [f"submit:{cid(4, SELL, k=1)}"]  # the new BUY is not even keyed
    assert [(r[0], r[2]) for r in rows(reduce)] == [
        (cid(1), "FILLED"),  # the resting BUY was touched
        (cid(4, SELL, k=1), "SUBMITTED"),  # the SELL takes the token; the deferred BUY took none
        (cid(4, SELL, k=1), "ACKED"),
        (cid(4, SELL, k=1), "FILLED"),  # bid 99.8 ≥ 99: max(99, 99.8 × 0.9975 = 99.5505)
    ]
    assert [(o.client_order_id, o.status) for o in reduce.state.open_orders] == [(cid(2), OrderStatus.PLANNED)]


def test_reserved_cash_and_quantity() -> None:
    def open_order(
        n: int,
        side: Side,
        price: str,
        qty: str,
        filled: str = "0",
        symbol: str = "AAATRY",
        status: OrderStatus = OrderStatus.ACKED,
    ) -> SimOrder:
        return SimOrder(cid(n, side, symbol), symbol, side, D(price), D(qty), at(0), "c0", status, filled_qty=D(filled))

    state = OmsState(
        open_orders=(
            open_order(1, BUY, "100", "0.5"),
            open_order(2, BUY, "50", "2", status=OrderStatus.PLANNED),  # deferred: reserves too
            open_order(3, BUY, "10", "3", filled="1", status=OrderStatus.PARTIALLY_FILLED),
            open_order(4, SELL, "120", "1.5"),
            open_order(5, SELL, "130", "2", filled="0.5", status=OrderStatus.PARTIALLY_FILLED),
            open_order(6, SELL, "7", "4", symbol="BBBTRY"),
        )
    )
    # (0.5 × 100 + 2 × 50 + 2 × 10) × 1.002 = 170 × 1.002
    assert state.reserved_cash_try(FEES) == D("170.34")
    assert state.reserved_cash_try(D("0")) == D("170")
    assert [state.reserved_qty(s) for s in ("AAATRY", "BBBTRY", "CCCTRY")] == [D("3.0"), D("4"), D("0")]
    assert OmsState().reserved_cash_try(FEES) == D("0")


def test_a_partially_filled_order_cancelled_keeps_what_it_filled() -> None:
    first = run(
        OmsState(), 0, [intent(1, qty="3.00")], bars=[bar("99.4", best_ask_try="99.5", volume="10")], params=LONG
    )
    cancelled = run(first.state, 1, params=LONG, wanted=frozenset())
    (order,) = cancelled.orders
    assert (order.status, order.filled_qty, order.remaining_qty) == (OrderStatus.CANCELED, D("1.00"), D("2.00"))
    assert replace(order, status=OrderStatus.PARTIALLY_FILLED, seq=3, reason=None) == first.state.open_orders[0]
