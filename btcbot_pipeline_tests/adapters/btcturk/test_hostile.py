"""Hostile numbers and names from the live BTCTurk source stay one pair's problem.

A hand-written exchange (no HTTP) serves three good pairs and one bad one per case; the
snapshot stage excludes the bad pair with its reason and the good ones stay tradable.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from btcbot_pipeline.adapters.btcturk import schemas as s
from btcbot_pipeline.adapters.btcturk.errors import MalformedResponseError
from btcbot_pipeline.adapters.btcturk.market import LiveMarketSource
from btcbot_pipeline.adapters.replay.exchangeinfo import exchangeinfo_document, exchangeinfo_symbol
from btcbot_pipeline.domain.market import finalize_snapshot

CYCLE = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
END_S = int(CYCLE.timestamp())
GOOD = ("BTCTRY", "ETHTRY", "XRPTRY")


class Exchange:
    """The four public reads the live source makes, with per-pair overrides."""

    def __init__(
        self,
        pairs: tuple[str, ...],
        *,
        ticker: dict[str, dict[str, Any]] | None = None,
        book: dict[str, tuple[str, str]] | None = None,
        closes: dict[str, str] | None = None,
        rules: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.pairs, self.ticker, self.book, self.closes, self.rules = (
            pairs,
            ticker or {},
            book or {},
            closes or {},
            rules or {},
        )
        self.books_asked: list[str] = []

    def exchange_info(self) -> Any:
        symbols = []
        for i, pair in enumerate(self.pairs):
            entry = exchangeinfo_symbol(
                i,
                pair,
                pair[:-3],
                "TRY",
                quantity_scale=8,
                price_scale=2,
                max_price="10000000",
                tick_size="1",
                min_notional="10",
            )
            entry.update(self.rules.get(pair, {}))
            symbols.append(entry)
        return s.decode_json(s.encode_json(exchangeinfo_document(symbols, ["TRY"], END_S * 1000)["data"]))

    def tickers(self) -> list[s.Ticker]:
        rows = [
            {
                "pair": p,
                "timestamp": END_S * 1000,
                "last": "100",
                "high": "110",
                "low": "90",
                "volume": "1000",
                "dailyPercent": "1.5",
                "denominatorSymbol": "TRY",
                **self.ticker.get(p, {}),
            }
            for p in self.pairs
        ]
        return s.parse(s.Ticker, rows, what="ticker")

    def order_book(self, pair: str, *, limit: int = 25) -> s.OrderBook:
        self.books_asked.append(pair)
        bid, ask = self.book.get(pair, ("99.5", "100.5"))
        return s.parse(
            s.OrderBook, {"timestamp": END_S * 1000, "bids": [[bid, "1"]], "asks": [[ask, "1"]]}, what="orderbook"
        )

    def klines(self, pair: str, *, resolution_min: int, start_s: int, end_s: int) -> list[s.Candle]:
        close = self.closes.get(pair, "100")
        times = [end_s - 60 * k for k in range(5, 0, -1)]
        body = {
            "s": "ok",
            "t": times,
            "o": ["100"] * 5,
            "h": ["110"] * 5,
            "l": ["90"] * 5,
            "c": ["100"] * 4 + [close],
            "v": ["1"] * 5,
        }
        return s.parse(s.KlineHistory, body, what="klines").candles()


def reasons(exchange: Exchange) -> dict[str, str | None]:
    source = LiveMarketSource(exchange, symbols=tuple(exchange.pairs), clock=lambda: CYCLE)  # type: ignore[arg-type]
    snapshot = finalize_snapshot(source.snapshot(CYCLE, vol_lookback=3), max_data_age_s=120)
    return {sym.symbol: sym.skip_reason for sym in snapshot.symbols}


def test_the_good_pairs_alone_are_all_tradable() -> None:
    assert reasons(Exchange(GOOD)) == dict.fromkeys(GOOD)


@pytest.mark.parametrize(
    ("exchange", "reason"),
    [
        (Exchange((*GOOD, "SHIBTRY"), book={"SHIBTRY": ("1E+25", "2E+25")}), "invalid_data:out_of_range:best_bid"),
        (Exchange((*GOOD, "SHIBTRY"), ticker={"SHIBTRY": {"last": "1E+25"}}), "invalid_data:out_of_range:last"),
        (Exchange((*GOOD, "SHIBTRY"), ticker={"SHIBTRY": {"volume": "1E+40"}}), "invalid_data:out_of_range:volume"),
        # in range each, but volume × last = 1e20 TRY a day is not a quote volume the book can store
        (
            Exchange((*GOOD, "SHIBTRY"), ticker={"SHIBTRY": {"volume": "1E+18", "last": "100"}}),
            "invalid_data:out_of_range:quote_volume_try",
        ),
        (Exchange((*GOOD, "SHIBTRY"), closes={"SHIBTRY": "1E+30"}), "invalid_data:out_of_range:close"),
        (Exchange((*GOOD, "SHIBTRY"), book={"SHIBTRY": ("1E-25", "2E-25")}), "invalid_data:out_of_range:best_bid"),
        (Exchange((*GOOD, "SHIBTRY"), book={"SHIBTRY": ("1E-30", "4563")}), "invalid_data:out_of_range:best_bid"),
        (Exchange((*GOOD, "SHIBTRY"), book={"SHIBTRY": ("0.001", "4563")}), "implausible_spread"),
        (
            Exchange((*GOOD, "SHIBTRY"), ticker={"SHIBTRY": {"dailyPercent": "-250"}}),
            "invalid_data:out_of_range:daily_change_pct",
        ),
        (
            Exchange((*GOOD, "SHIBTRY"), rules={"SHIBTRY": {"numeratorScale": 60}}),
            "invalid_data:out_of_range:quantity_scale",
        ),
    ],
    ids=[
        "bid_1e25",
        "last_1e25",
        "volume_1e40",
        "quote_volume_1e20",
        "close_1e30",
        "book_1e-25",
        "bid_1e-30",
        "spread",
        "change",
        "numerator_scale_60",
    ],
)
def test_a_hostile_number_excludes_only_its_pair(exchange: Exchange, reason: str) -> None:
    assert reasons(exchange) == {**dict.fromkeys(GOOD), "SHIBTRY": reason}


@pytest.mark.parametrize("pair", ["ETH:TRY", "ETH TRY", "ETH'TRY", "ÉTHTRY"])
def test_a_pair_name_that_is_not_canonical_is_refused_without_asking_for_its_book(pair: str) -> None:
    exchange = Exchange((*GOOD, pair))

    assert reasons(exchange) == {**dict.fromkeys(GOOD), pair: "invalid_data:invalid_symbol_name"}
    assert sorted(exchange.books_asked) == list(GOOD)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000, "response is not valid JSON: nested too deeply to read"),
        (b'{"code": ' + b"9" * 5000 + b"}", "response is not valid JSON: Exceeds the limit (4300 digits)"),
    ],
)
def test_hostile_json_is_a_malformed_response_never_a_crash(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        s.decode_json(body)


def test_a_hostile_error_code_is_not_read_as_an_int() -> None:
    from btcbot_pipeline.adapters.btcturk.client import _small_code

    assert [_small_code(c) for c in (1101, Decimal("1E+999999999"), "9" * 40, "1101", True)] == [
        True,
        False,
        False,
        True,
        False,
    ]
