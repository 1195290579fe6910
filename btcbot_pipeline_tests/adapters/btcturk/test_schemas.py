"""Parsers on every recorded payload in fixtures/btcturk (copies of shared/data/btcturk-fixtures)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.btcturk import schemas as s
from btcbot_pipeline.adapters.btcturk.errors import MalformedResponseError
from btcbot_pipeline.adapters.replay.exchangeinfo import parse_exchange_info
from btcbot_pipeline.domain.market import SymbolRules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "btcturk"


def load(name: str) -> object:
    return s.decode_json((FIXTURES / name).read_bytes())


def test_every_fixture_has_a_parser_test() -> None:
    # A new capture dropped into fixtures/ must get a test below.
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == [
        "private_account_balance.json",
        "private_all_orders.json",
        "private_open_orders.json",
        "private_submit_order.json",
        "private_user_trades.json",
        "public_exchange_info.json",
        "public_ohlc.json",
        "public_order_book.json",
        "public_ticker.json",
        "public_trades.json",
    ]


def test_exchange_info_capture_gives_rules_from_price_filter_and_scales() -> None:
    rules = parse_exchange_info(load("public_exchange_info.json"))
    assert rules["BTCTRY"] == SymbolRules(
        "BTCTRY",
        tick_size=Decimal("10"),
        lot_size=None,
        min_notional_try=Decimal("99.91"),
        price_scale=2,
        quantity_scale=8,
        status="TRADING",
    )
    assert rules["XTZBTC"].tick_size == Decimal("0.000001")
    assert list(rules) == ["BTCTRY", "USDTTRY", "XTZBTC"]


def test_ticker_capture_numbers_are_exact_decimals() -> None:
    t = s.parse(s.Ticker, load("public_ticker.json"), what="ticker")
    assert (t.symbol, t.timestamp, t.last, t.volume, t.dailypercent) == (
        "BTCUSDT",
        1643883402008,
        Decimal("36474"),
        Decimal("75.36297763"),
        Decimal("-5.26"),
    )
    assert t.denominatorsymbol == "USDT"


def test_order_book_capture_with_float_timestamp() -> None:
    book = s.parse(s.OrderBook, load("public_order_book.json"), what="orderbook")
    assert book.timestamp == 1643883463379  # "1643883463379.0" on the wire
    assert (book.best_bid, book.best_ask) == (Decimal("36371"), Decimal("36401"))
    assert book.bids[1] == (Decimal("36370"), Decimal("0.24053385"))


def test_trades_capture_keeps_tid_as_text() -> None:
    trades = s.parse(s.Trade, load("public_trades.json"), what="trades")
    assert [(t.tid, t.price, t.side) for t in trades] == [
        ("101963779399182809", Decimal("36334"), "sell"),
        ("101963779399182808", Decimal("36317"), "sell"),
    ]


def test_ohlc_doc_sample() -> None:
    (bar,) = s.parse(s.Ohlc, [load("public_ohlc.json")], what="ohlcs")
    assert (bar.pair, bar.time, bar.close, bar.volume) == (
        "BTCUSDT",
        1639526400,
        Decimal("48820.0"),
        Decimal("199.490950394233"),
    )


def test_balances_sample() -> None:
    rows = s.parse(s.Balance, load("private_account_balance.json"), what="balances")
    assert [(b.asset, b.balance, b.free) for b in rows] == [
        ("TRY", Decimal("103158.9412490031968651"), Decimal("102135.3712490135968651")),
        ("BTC", Decimal("29.6027353000000000"), Decimal("29.6017353000000000")),
    ]


def test_all_orders_sample_enums_lowercased() -> None:
    (order,) = s.parse(s.Order, load("private_all_orders.json"), what="allOrders")
    assert (order.id, order.type, order.method, order.status, order.pairsymbol) == (
        9932534,
        "buy",
        "limit",
        "untouched",
        "BTCTRY",
    )


def test_open_orders_sample() -> None:
    book = s.parse(s.OpenOrders, load("private_open_orders.json"), what="openOrders")
    assert [o.id for o in book.asks] == [16060235, 16060237]
    assert book.bids[1].leftamount == Decimal("0.04909774")
    assert book.asks[1].status == "partial"


def test_submit_sample() -> None:
    order = s.parse(s.SubmittedOrder, load("private_submit_order.json"), what="submit")
    assert (order.id, order.type, order.quantity, order.neworderclientid) == (9932534, "buy", Decimal("0.001"), "test")


def test_user_trades_sample() -> None:
    (fill,) = s.parse(s.UserTrade, load("private_user_trades.json"), what="user trades")
    assert (fill.id, fill.orderid, fill.amount, fill.fee) == (
        552887776,
        5111697972,
        Decimal("146.6727"),
        Decimal("-0.73095036"),
    )


def test_64_bit_id_never_goes_through_float() -> None:
    payload = s.decode_json(
        b'[{"id": 1181163798924649598, "orderId": 10938696222, "amount": "-0.3384", "preciseAmount": '
        b"-0.3384081100000000}]"
    )
    (fill,) = s.parse(s.UserTrade, payload, what="user trades")
    assert fill.id == 1181163798924649598


def test_keys_are_case_insensitive_old_doc_spelling() -> None:
    order = s.parse(s.Order, {"ID": 1, "pairsymbol": "BTCTRY", "Type": "Buy", "METHOD": "Limit"}, what="order")
    assert (order.pairsymbol, order.type, order.method) == ("BTCTRY", "buy", "limit")


def test_klines_truncates_to_shortest_array() -> None:
    k = s.parse(
        s.KlineHistory,
        s.decode_json(
            b'{"s":"ok","t":[1661990400,1661990460],"o":[368388.0,368467.0],'
            b'"h":[368388.0,369090.0],"l":[368388.0],"c":[368388.0,369090.0],"v":[0.00035208,0.2972395]}'
        ),
        what="k",
    )
    assert k.candles() == [
        s.Candle(
            time=1661990400,
            open=Decimal("368388.0"),
            high=Decimal("368388.0"),
            low=Decimal("368388.0"),
            close=Decimal("368388.0"),
            volume=Decimal("0.00035208"),
        )
    ]


def test_klines_no_data_is_empty() -> None:
    assert s.parse(s.KlineHistory, {"s": "no_data"}, what="k").candles() == []


def test_wrong_shape_is_malformed_response() -> None:
    with pytest.raises(MalformedResponseError, match="orderbook: unexpected shape at bids.0.0"):
        s.parse(s.OrderBook, {"timestamp": 1, "bids": [["abc", "1"]], "asks": []}, what="orderbook")
