"""The fake BTCTurk's order engine over real HTTP, driven with the real trading client: orders
rest, fill across market moves, fill at once against the book, cancel, are rejected by name,
and survive lost responses (faults) so a venue adapter can be proven against it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from btcbot_pipeline.adapters.btcturk.client import BtcturkTradingClient, LiveArming
from btcbot_pipeline.adapters.btcturk.errors import OrderRejectedError, RateLimitError, ServerError, TransportError
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket
from btcbot_pipeline.testing.fake_btcturk_setup import FAKE_CREDENTIALS, fast_config
from btcbot_pipeline.testing.fake_orders import FIRST_ORDER_ID, FIRST_TRADE_ID, OrderEngine

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the engine's clock at the start
ARMED = LiveArming(dry_run=False, kill_switch=False, live_trading=True, ack="I_UNDERSTAND")


class Clock:
    """The engine's settable clock (``FakeMarket.clock_ms``)."""

    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


def trading_market(balances: dict[str, D], clock: Clock, **kw: Any) -> FakeMarket:
    market = FakeMarket.trading(balances=balances, **kw)
    market.clock_ms = clock
    for sym, bid, ask in (("BTCTRY", "2999000", "3001000"), ("USDTTRY", "41.50", "41.52")):
        market.set_symbol(sym, ts_ms=T0, bid=D(bid), ask=D(ask), last=D(bid), high=D(ask), low=D(bid), volume=D("10"))
    return market


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeBtcturk]:
    with FakeBtcturk(trading_market({"TRY": D("10000"), "BTC": D("0")}, clock)) as server:
        yield server


@pytest.fixture
def trader(fake: FakeBtcturk) -> Iterator[BtcturkTradingClient]:
    with BtcturkTradingClient(FAKE_CREDENTIALS, ARMED, fast_config(fake.url)) as client:
        yield client


def engine(fake: FakeBtcturk) -> OrderEngine:
    assert fake.market.orders is not None
    return fake.market.orders


def buy(client: BtcturkTradingClient, qty: str, price: str, cid: str, pair: str = "BTCTRY") -> int:
    order = client.submit_limit_order(
        pair_symbol=pair, side="buy", quantity=D(qty), price=D(price), client_order_id=cid
    )
    return order.id


def wallet(client: BtcturkTradingClient) -> dict[str, tuple[D, D, D]]:
    """asset → (balance, locked, free)"""
    return {b.asset: (b.balance, b.locked, b.free) for b in client.balances()}


def raw(fake: FakeBtcturk, method: str, path: str, **kw: Any) -> httpx.Response:
    """A signed request without the client (for fields its schemas leave out)."""
    headers = FAKE_CREDENTIALS.headers(int(time.time() * 1000))
    return httpx.request(method, fake.url + path, headers=headers, **kw)


def test_an_order_rests_then_fills_partially_then_fully_across_moves(
    fake: FakeBtcturk, trader: BtcturkTradingClient, clock: Clock
) -> None:
    oid = buy(trader, "0.002", "3000000", "c-1")
    assert oid == FIRST_ORDER_ID
    (rest,) = trader.open_orders("BTCTRY").bids
    assert (rest.id, rest.status, rest.leftamount, rest.orderclientid, rest.time) == (
        oid,
        "untouched",
        D("0.002"),
        "c-1",
        T0,
    )
    assert wallet(trader) == {"TRY": (D("10000"), D("6006"), D("3994")), "BTC": (D(0), D(0), D(0))}
    assert trader.user_trades() == []

    clock.ms = T0 + 60_000
    fake.market.move("BTCTRY", bid=D("2990000"), ask=D("3000000"), size=D("0.0005"))
    (rest,) = trader.open_orders("BTCTRY").bids
    assert (rest.status, rest.leftamount, rest.amount, rest.updatetime) == (
        "partial",
        D("0.0015"),
        D("0.002"),
        T0 + 60_000,
    )
    assert wallet(trader) == {"TRY": (D("8498.5"), D("4504.5"), D("3994")), "BTC": (D("0.0005"), D(0), D("0.0005"))}

    clock.ms = T0 + 120_000
    fake.market.move("BTCTRY", bid=D("2980000"), ask=D("2990000"), size=D("0.01"))
    assert trader.open_orders("BTCTRY").bids == []
    (done,) = trader.all_orders("BTCTRY")
    assert (done.id, done.status, done.leftamount) == (oid, "closed", D(0))
    assert wallet(trader) == {"TRY": (D("3994"), D(0), D("3994")), "BTC": (D("0.002"), D(0), D("0.002"))}
    trades = trader.user_trades(pair_symbol="BTCTRY")
    assert [(t.id, t.orderid, t.timestamp, t.price, t.amount, t.fee, t.tax, t.ordertype) for t in trades] == [
        (FIRST_TRADE_ID, oid, T0 + 60_000, D("3000000"), D("0.0005"), D("-1.5"), D(0), "buy"),
        (FIRST_TRADE_ID + 1, oid, T0 + 120_000, D("3000000"), D("0.0015"), D("-4.5"), D(0), "buy"),
    ]
    assert raw(fake, "GET", "/api/v1/users/transactions/trade").json()["data"][0]["orderClientId"] == "c-1"


def test_a_crossing_buy_fills_at_once_at_the_book_levels_and_the_rest_rests(
    fake: FakeBtcturk, trader: BtcturkTradingClient
) -> None:
    fake.market.symbols["BTCTRY"].book["asks"] = [["3000000", "0.001"], ["3001000", "0.001"], ["3003000", "1"]]
    submitted = trader.submit_limit_order(
        pair_symbol="BTCTRY", side="buy", quantity=D("0.003"), price=D("3002000"), client_order_id="c-x"
    )
    assert (submitted.datetime, submitted.type, submitted.method, submitted.neworderclientid) == (
        T0,
        "buy",
        "limit",
        "c-x",
    )
    trades = trader.user_trades()
    assert [(t.price, t.amount, t.fee) for t in trades] == [
        (D("3000000"), D("0.001"), D("-3")),
        (D("3001000"), D("0.001"), D("-3.001")),
    ]
    (rest,) = trader.open_orders().bids
    assert (rest.status, rest.leftamount) == ("partial", D("0.001"))
    assert trader.order_book("BTCTRY").asks == [(D("3003000"), D("1"))]  # what the fills took is gone
    assert wallet(trader)["TRY"] == (D("3992.999"), D("3005.002"), D("987.997"))


def test_a_crossing_sell_fills_at_the_bid_with_a_negative_amount(clock: Clock) -> None:
    with FakeBtcturk(trading_market({"TRY": D("0"), "BTC": D("0.01")}, clock)) as fake:
        with BtcturkTradingClient(FAKE_CREDENTIALS, ARMED, fast_config(fake.url)) as client:
            client.submit_limit_order(
                pair_symbol="BTCTRY", side="sell", quantity=D("0.002"), price=D("2990000"), client_order_id="s-1"
            )
            (fill,) = client.user_trades()
            assert (fill.price, fill.amount, fill.fee, fill.ordertype) == (
                D("2999000"),
                D("-0.002"),
                D("-5.998"),
                "sell",
            )
            assert wallet(client) == {
                "TRY": (D("5992.002"), D(0), D("5992.002")),
                "BTC": (D("0.008"), D(0), D("0.008")),
            }
            assert client.all_orders("BTCTRY")[0].status == "closed"


def test_cancel_by_id_unlocks_and_all_orders_says_canceled(trader: BtcturkTradingClient) -> None:
    oid = buy(trader, "0.001", "2900000", "c-1")
    assert wallet(trader)["TRY"] == (D("10000"), D("2902.9"), D("7097.1"))
    trader.cancel_order(oid)
    assert trader.open_orders().bids == []
    assert [(o.id, o.status) for o in trader.all_orders("BTCTRY")] == [(oid, "canceled")]
    assert wallet(trader)["TRY"] == (D("10000"), D(0), D("10000"))


def test_cancel_of_an_unknown_closed_or_canceled_order_is_refused_by_name(
    fake: FakeBtcturk, trader: BtcturkTradingClient
) -> None:
    with pytest.raises(OrderRejectedError) as unknown:
        trader.cancel_order(123)
    assert (unknown.value.status, unknown.value.name) == (400, "NO_ORDER_MATCHES_YOUR_REQUEST")
    filled = buy(trader, "0.001", "3001000", "c-1")  # crosses the ask: closed at once
    canceled = buy(trader, "0.001", "2900000", "c-2")
    trader.cancel_order(canceled)
    for oid in (filled, canceled):
        with pytest.raises(OrderRejectedError) as closed:
            trader.cancel_order(oid)
        assert (closed.value.status, closed.value.name) == (400, "ORDER_COULD_NOT_BE_CANCELED")
    assert raw(fake, "DELETE", "/api/v1/order").json()["message"] == "NO_ORDER_MATCHES_YOUR_REQUEST"


def test_a_duplicate_client_id_is_refused_and_not_recorded_twice(
    fake: FakeBtcturk, trader: BtcturkTradingClient
) -> None:
    oid = buy(trader, "0.001", "2900000", "c-1")
    trader.cancel_order(oid)  # closed orders keep their client id too
    with pytest.raises(OrderRejectedError) as info:
        buy(trader, "0.001", "2900000", "c-1")
    assert info.value.name == "FAILED_ORDER_WITH_DUPLICATE_CLIENT_ID"
    assert [o.id for o in trader.all_orders("BTCTRY")] == [oid]
    assert (engine(fake).submission_count("c-1"), engine(fake).submission_count("c-1", accepted=False)) == (1, 1)


@pytest.mark.parametrize(
    ("qty", "price", "name"),
    [
        ("0.004", "3000000", "BALANCE_NOT_ENOUGH"),  # 12012 TRY needed, 10000 held
        ("0.00003", "3000000", "FAILED_MIN_TOTAL_AMOUNT"),  # 90 TRY < minExchangeValue 99.91
        ("0", "3000000", "FAILED_ORDER_PARAMETER"),
    ],
)
def test_business_rejects_by_name(trader: BtcturkTradingClient, qty: str, price: str, name: str) -> None:
    with pytest.raises(OrderRejectedError) as info:
        buy(trader, qty, price, "c-1")
    assert (info.value.status, info.value.name) == (400, name)
    assert trader.all_orders("BTCTRY") == []


def test_funds_locked_by_open_orders_and_other_rejects(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    buy(trader, "0.003", "2900000", "c-1")  # locks 8708.7 of 10000 TRY
    with pytest.raises(OrderRejectedError) as info:
        buy(trader, "0.001", "2900000", "c-2")
    assert (info.value.name, info.value.code) == ("FAILED_ORDER_WITH_OPEN_ORDERS", 1122)
    with pytest.raises(OrderRejectedError) as unknown_pair:
        buy(trader, "1", "100", "c-3", pair="DOGETRY")
    assert unknown_pair.value.name == "FAILED_ORDER_PARAMETER"
    body = {"quantity": "1", "price": "1", "orderMethod": "market", "orderType": "buy", "pairSymbol": "BTCTRY"}
    market = raw(fake, "POST", "/api/v1/order", json=body)
    assert (market.status_code, market.json()["message"], market.json()["code"]) == (
        400,
        "ORDER_METHOD_NOT_SUPPORTED",
        1134,
    )


def test_external_orders_with_and_without_a_client_id_show_in_open_orders(
    fake: FakeBtcturk, trader: BtcturkTradingClient
) -> None:
    orders = engine(fake)
    a = orders.place_external("BTCTRY", "buy", D("0.001"), D("2800000"), client_id="web-123")
    b = orders.place_external("BTCTRY", "sell", D("0.001"), D("3200000"))
    c = orders.place_external("BTCTRY", "buy", D("0.001"), D("2700000"), client_id="")
    book = trader.open_orders("BTCTRY")
    assert [(o.id, o.orderclientid) for o in book.bids] == [(a.id, "web-123"), (c.id, "")]
    assert [(o.id, o.orderclientid, o.type) for o in book.asks] == [(b.id, None, "sell")]
    assert raw(fake, "GET", "/api/v1/openOrders").json()["data"]["asks"][0]["orderClientId"] is None
    assert orders.submissions == []  # not POSTs of the bot
    with pytest.raises(OrderRejectedError):  # a foreign client id is taken as well
        buy(trader, "0.001", "2800000", "web-123")


def test_behind_the_back_cancel_fill_and_forget(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    orders = engine(fake)
    ids = [buy(trader, "0.001", "2900000", f"c-{i}") for i in range(3)]
    orders.cancel(ids[0])
    orders.fill(ids[1], D("0.0004"))
    orders.forget(ids[2])
    assert [(o.id, o.status) for o in trader.open_orders().bids] == [(ids[1], "partial")]
    assert [(o.id, o.status) for o in trader.all_orders("BTCTRY")] == [(ids[0], "canceled"), (ids[1], "partial")]
    with pytest.raises(OrderRejectedError) as info:
        trader.cancel_order(ids[2])
    assert info.value.name == "NO_ORDER_MATCHES_YOUR_REQUEST"


def test_trades_filtered_by_pair_and_date(fake: FakeBtcturk, trader: BtcturkTradingClient, clock: Clock) -> None:
    buy(trader, "0.0001", "3001000", "b-1")  # T0
    clock.ms = T0 + 1_000
    buy(trader, "10", "41.52", "u-1", pair="USDTTRY")
    clock.ms = T0 + 2_000
    buy(trader, "0.0001", "3001000", "b-2")
    assert [t.numeratorsymbol for t in trader.user_trades()] == ["BTC", "USDT", "BTC"]
    assert [t.timestamp for t in trader.user_trades(pair_symbol="BTCTRY")] == [T0, T0 + 2_000]
    assert [t.price for t in trader.user_trades(pair_symbol="USDTTRY")] == [D("41.52")]
    assert [t.timestamp for t in trader.user_trades(start_ms=T0 + 1, end_ms=T0 + 2_000)] == [T0 + 1_000, T0 + 2_000]
    assert [t.timestamp for t in trader.user_trades(pair_symbol="BTCTRY", end_ms=T0 + 1_999)] == [T0]
    assert [o.time for o in trader.all_orders("BTCTRY", start_ms=T0 + 1, end_ms=T0 + 5_000)] == [T0 + 2_000]
    sells = raw(fake, "GET", "/api/v1/users/transactions/trade", params={"type": "sell"}).json()["data"]
    assert sells == []


def test_fees_in_the_base_asset_carry_a_fee_symbol(clock: Clock) -> None:
    market = trading_market({"TRY": D("10000")}, clock, fee_bps=D("20"), tax_rate=D("0.5"), fee_in="base")
    with FakeBtcturk(market) as fake, BtcturkTradingClient(FAKE_CREDENTIALS, ARMED, fast_config(fake.url)) as client:
        buy(client, "0.001", "3001000", "c-1")
        (row,) = raw(fake, "GET", "/api/v1/users/transactions/trade").json()["data"]
        assert (D(row["fee"]), D(row["tax"]), row["feeSymbol"], row["denominatorSymbol"]) == (
            D("-0.000002"),
            D("-0.000001"),
            "BTC",
            "TRY",
        )
        assert wallet(client) == {"TRY": (D("6999"), D(0), D("6999")), "BTC": (D("0.000997"), D(0), D("0.000997"))}


# --- lost answers: the order's fate is known only from the exchange's side -------------------


def test_accept_drop_accepts_then_the_client_hears_nothing(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    fake.inject("/api/v1/order", "accept_drop")
    with pytest.raises(TransportError):
        buy(trader, "0.001", "2900000", "c-1")
    assert [(o.orderclientid, o.status) for o in trader.open_orders("BTCTRY").bids] == [("c-1", "untouched")]
    assert engine(fake).submission_count("c-1") == 1


def test_accept_500_accepts_then_answers_a_server_error(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    response = httpx.post(fake.url + "/_fake/faults", json={"path": "/api/v1/order", "kind": "accept_500", "times": 1})
    assert response.status_code == 200
    with pytest.raises(ServerError) as info:
        buy(trader, "0.001", "2900000", "c-1")
    assert info.value.status == 500
    assert [o.orderclientid for o in trader.open_orders().bids] == ["c-1"]
    with pytest.raises(OrderRejectedError):  # a blind resubmit is caught by the client id
        buy(trader, "0.001", "2900000", "c-1")


def test_a_429_on_submit_accepts_nothing(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    fake.inject("/api/v1/order", "429", retry_after=7)
    with pytest.raises(RateLimitError) as info:
        buy(trader, "0.001", "2900000", "c-1")
    assert info.value.retry_after == 7.0
    assert trader.all_orders("BTCTRY") == [] and engine(fake).submissions == []
    assert buy(trader, "0.001", "2900000", "c-1") == FIRST_ORDER_ID  # the same id, now accepted


def test_the_market_control_endpoint_moves_the_book_and_fills(fake: FakeBtcturk, trader: BtcturkTradingClient) -> None:
    buy(trader, "0.002", "3000000", "c-1")
    move = {"symbol": "BTC_TRY", "bid": "2990000", "ask": "2995000", "size": "0.0005"}
    response = httpx.post(fake.url + "/_fake/market", json=move)
    assert response.json()["data"] == {"fills": 1}
    assert trader.open_orders().bids[0].leftamount == D("0.0015")
    assert httpx.post(fake.url + "/_fake/market", json={"symbol": "BTCTRY"}).status_code == 400


def test_demo_market_trades_and_the_default_market_stays_recorded() -> None:
    demo, recorded = FakeMarket.demo(), FakeMarket()
    assert recorded.orders is None
    assert demo.orders is not None and demo.orders.balances == {"TRY": D("100000"), "BTC": D("0.05")}
    with FakeBtcturk(demo) as fake, BtcturkTradingClient(FAKE_CREDENTIALS, ARMED, fast_config(fake.url)) as client:
        buy(client, "0.01", "3844704", "demo-1")  # the demo's best ask: filled at once
        assert client.all_orders("BTCTRY")[0].status == "closed"
        assert client.user_trades()[0].timestamp == pytest.approx(time.time() * 1000, abs=60_000)
