"""What the fake BTCTurk serves: a :class:`FakeMarket` of pairs (ticker row, order book,
candles), the recorded private payloads, and in trading mode an account whose orders the
:class:`~.fake_orders.OrderEngine` runs (``FakeMarket.trading()``, ``FakeMarket.demo()``).

By default (``FakeMarket()``) the private endpoints serve the recordings in ``payloads/``; in
trading mode they serve the engine (:mod:`.fake_private`). The market moves with
:meth:`FakeMarket.set_symbol` or :meth:`FakeMarket.move`, and each move lets the engine fill
resting orders against the new book. The engine's clock is :meth:`FakeMarket.now_ms`: a test's
``clock_ms`` (an int or a callable), else the serving ``FakeBtcturk``'s clock, else this machine's.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, Callable

from btcbot_pipeline.testing.fake_orders import FakeTrade, FeeIn, OrderEngine, PairRules

DEMO_BALANCES = {"TRY": Decimal("100000"), "BTC": Decimal("0.05")}


def load_payload(name: str) -> Any:
    """One recorded payload from the test kit's ``payloads/`` folder, numbers as Decimal."""
    text = resources.files("btcbot_pipeline.testing").joinpath("payloads", name).read_text(encoding="utf-8")
    return json.loads(text, parse_float=Decimal)


@dataclass
class SymbolState:
    """One pair: its ticker row, order book and 1-minute candles ``(t_open_s, o, h, l, c, v)``."""

    ticker: dict[str, Any]
    book: dict[str, Any]
    candles: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]] = field(default_factory=list)


class FakeMarket:
    """What the fake exchange knows; thread-safe enough for a test server (one lock).

    ``orders`` is the trading account (``None``: the private endpoints serve the recordings).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.exchange_info: dict[str, Any] = load_payload("public_exchange_info.json")
        self.symbols: dict[str, SymbolState] = {}
        self.trades: list[dict[str, Any]] = load_payload("public_trades.json")
        self.ohlc: list[dict[str, Any]] = [load_payload("public_ohlc.json")]
        self.balances: list[dict[str, Any]] = load_payload("private_account_balance.json")
        self.open_orders: dict[str, Any] = load_payload("private_open_orders.json")
        self.all_orders: list[dict[str, Any]] = load_payload("private_all_orders.json")
        self.user_trades: list[dict[str, Any]] = load_payload("private_user_trades.json")
        self.submit_response: dict[str, Any] = load_payload("private_submit_order.json")
        ticker = load_payload("public_ticker.json")
        self.symbols[ticker["pair"]] = SymbolState(ticker=ticker, book=load_payload("public_order_book.json"))
        # Live mode (demos): ticker and book stamped "now", 1-minute candles made up around
        # the last price for any requested range, so a live-source cycle has fresh data.
        self.live = False
        self.orders: OrderEngine | None = None
        self.clock_ms: Callable[[], int] | int | None = None  # a test's fixed clock (Unix ms)
        self.server_clock: Callable[[], int] | None = None  # set by the FakeBtcturk serving this market

    @classmethod
    def trading(
        cls,
        *,
        balances: dict[str, Decimal] | None = None,
        fee_bps: Decimal = Decimal("10"),
        tax_rate: Decimal = Decimal(0),
        fee_in: FeeIn = "quote",
    ) -> FakeMarket:
        """The recorded public market with a trading account (see :meth:`enable_trading`)."""
        return cls().enable_trading(balances=balances, fee_bps=fee_bps, tax_rate=tax_rate, fee_in=fee_in)

    def enable_trading(
        self,
        *,
        balances: dict[str, Decimal] | None = None,
        fee_bps: Decimal = Decimal("10"),
        tax_rate: Decimal = Decimal(0),
        fee_in: FeeIn = "quote",
    ) -> FakeMarket:
        """Serve the private endpoints from a fresh :class:`OrderEngine` holding ``balances``
        (asset → total; TRY 100000 by default). Returns this market."""
        with self.lock:
            start = dict(balances) if balances is not None else {"TRY": Decimal("100000")}
            self.orders = OrderEngine(self, start, fee_bps=fee_bps, tax_rate=tax_rate, fee_in=fee_in)
        return self

    @classmethod
    def demo(cls) -> FakeMarket:
        """A live-stamped market of BTCTRY (the recorded ticker row) and USDTTRY, in trading mode
        with :data:`DEMO_BALANCES` (so ``btcbot fake-btcturk`` can take orders)."""
        market = cls.trading(balances=DEMO_BALANCES)
        market.live = True
        market.set_symbol(
            "BTCTRY",
            ts_ms=0,
            bid=Decimal("3842925"),
            ask=Decimal("3844704"),
            last=Decimal("3844648"),
            high=Decimal("3844648"),
            low=Decimal("3715392"),
            volume=Decimal("25.3073659"),
            daily_percent=Decimal("2.24"),
            tick_size="10",
            denominator_scale=2,
        )
        market.set_symbol(
            "USDTTRY",
            ts_ms=0,
            bid=Decimal("41.512"),
            ask=Decimal("41.518"),
            last=Decimal("41.515"),
            high=Decimal("41.7"),
            low=Decimal("41.3"),
            volume=Decimal("1250000"),
            daily_percent=Decimal("0.12"),
            tick_size="0.001",
            numerator_scale=2,
            denominator_scale=3,
        )
        market.only(["BTCTRY", "USDTTRY"])
        return market

    def now_ms(self) -> int:
        """The order engine's clock, Unix ms."""
        clock = self.clock_ms
        if clock is not None:
            return int(clock()) if callable(clock) else int(clock)
        if self.server_clock is not None:
            return self.server_clock()
        return int(time.time() * 1000)

    def pair_rules(self, symbol: str) -> PairRules | None:
        """A listed pair's currencies and ``minExchangeValue`` (0 if it has none); ``None``: not listed."""
        with self.lock:
            for entry in self.exchange_info["symbols"]:
                if entry["name"] == symbol:
                    totals = [f.get("minExchangeValue") for f in entry.get("filters") or []]
                    floor = next((Decimal(str(v)) for v in totals if v is not None), Decimal(0))
                    return PairRules(symbol, entry["numerator"], entry["denominator"], floor)
        return None

    def book(self, symbol: str) -> dict[str, Any] | None:
        state = self.symbols.get(symbol)
        return state.book if state is not None else None

    def move(
        self, symbol: str, *, bid: Decimal, ask: Decimal, size: Decimal = Decimal(1), ts_ms: int | None = None
    ) -> list[FakeTrade]:
        """A new top of book for a served ``symbol``: one level of ``size`` each side, the ticker's
        bid/ask too, stamped ``ts_ms`` (default :meth:`now_ms`); then resting orders fill against
        it. The fills this move made."""
        with self.lock:
            state = self.symbols[symbol]
            stamp = ts_ms if ts_ms is not None else self.now_ms()
            state.ticker.update(bid=bid, ask=ask, timestamp=stamp)
            state.book = {"timestamp": Decimal(stamp), "bids": [[str(bid), str(size)]], "asks": [[str(ask), str(size)]]}
            return self.orders.match(symbol) if self.orders is not None else []

    def live_candles(
        self, symbol: str, start: int, end: int
    ) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
        last = self.symbols[symbol].ticker["last"]
        step = last / 2000
        bars = []
        for t in range((start // 60 + 1) * 60, end + 1, 60):
            close = last + step * ((t // 60) % 21 - 10)
            bars.append((t, close - step, close + step, close - 2 * step, close, Decimal("0.5")))
        return bars

    def set_symbol(
        self,
        symbol: str,
        *,
        ts_ms: int,
        bid: Decimal,
        ask: Decimal,
        last: Decimal,
        high: Decimal,
        low: Decimal,
        volume: Decimal,
        daily_percent: Decimal | None = None,
        book_ts_ms: int | None = None,
        candles: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]] | None = None,
        tick_size: str = "0.01",
        numerator_scale: int = 8,
        denominator_scale: int = 2,
    ) -> None:
        """Serve ``symbol`` with these numbers (and list it in exchangeinfo if it is not); in
        trading mode, resting orders then fill against its new book."""
        numerator, denominator = symbol[:-3], symbol[-3:]
        row = {
            "pair": symbol,
            "pairNormalized": f"{numerator}_{denominator}",
            "timestamp": ts_ms,
            "last": last,
            "high": high,
            "low": low,
            "bid": bid,
            "ask": ask,
            "open": last,
            "volume": volume,
            "average": last,
            "daily": Decimal(0),
            "dailyPercent": daily_percent if daily_percent is not None else Decimal(0),
            "denominatorSymbol": denominator,
            "numeratorSymbol": numerator,
            "order": 1000,
        }
        book = {
            "timestamp": Decimal(book_ts_ms if book_ts_ms is not None else ts_ms),
            "bids": [[str(bid), "1.5"]],
            "asks": [[str(ask), "2.5"]],
        }
        with self.lock:
            self.symbols[symbol] = SymbolState(ticker=row, book=book, candles=list(candles or []))
            names = {entry["name"] for entry in self.exchange_info["symbols"]}
            if symbol not in names:
                self.exchange_info["symbols"].append(
                    {
                        "id": 1000 + len(names),
                        "name": symbol,
                        "nameNormalized": f"{numerator}_{denominator}",
                        "status": "TRADING",
                        "numerator": numerator,
                        "denominator": denominator,
                        "numeratorScale": numerator_scale,
                        "denominatorScale": denominator_scale,
                        "hasFraction": True,
                        "filters": [
                            {
                                "filterType": "PRICE_FILTER",
                                "minPrice": "0.0000000000001",
                                "maxPrice": "10000000",
                                "tickSize": tick_size,
                                "minExchangeValue": "99.91",
                                "minAmount": None,
                                "maxAmount": None,
                            }
                        ],
                        "orderMethods": ["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"],
                    }
                )
            if self.orders is not None:
                self.orders.match(symbol)

    def only(self, symbols: list[str]) -> None:
        """Drop every served pair not in ``symbols`` (from the ticker and exchangeinfo)."""
        with self.lock:
            self.symbols = {k: v for k, v in self.symbols.items() if k in symbols}
            self.exchange_info["symbols"] = [e for e in self.exchange_info["symbols"] if e["name"] in symbols]
