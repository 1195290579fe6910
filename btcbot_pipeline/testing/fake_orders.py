"""The fake exchange's order engine: one account's LIMIT orders, fills and balances, matched
against the fake market's order book (``FakeMarket.trading()``; wire format in :mod:`.fake_private`).

Plain Python and ``Decimal``; every method holds the market's lock. The rules are the fake's
own, kept simple and deterministic (BTCTurk documents none of them):

- **Submit** checks, in this order: method ``limit`` (else ``ORDER_METHOD_NOT_SUPPORTED``), type
  ``buy``/``sell`` (``ORDER_TYPE_NOT_SUPPORTED``), the pair listed in exchangeinfo, quantity and
  price positive numbers (``FAILED_ORDER_PARAMETER``), a client id no order of the account ever
  had, open, closed or forgotten (``FAILED_ORDER_WITH_DUPLICATE_CLIENT_ID``: the fake's name, the
  real exchange's behaviour is unconfirmed), quantity × price ≥ the pair's ``minExchangeValue``
  (``FAILED_MIN_TOTAL_AMOUNT``), then funds: ``BALANCE_NOT_ENOUGH`` when the asset's total balance
  is short, ``FAILED_ORDER_WITH_OPEN_ORDERS`` when only its free part is (open orders lock the rest).
- **Ids**: orders ``FIRST_ORDER_ID``, +1, …; fills ``FIRST_TRADE_ID`` (above 2**53, 64-bit like
  the real ones), +1, …. Times are :meth:`MarketView.now_ms` (the fake's clock, or a test's).
- **Taker at submit**: a BUY priced at or above the best ask takes the ask levels priced at or
  below its limit, best first, up to each level's size, at the level's price (one fill per
  level); a SELL likewise from the bids at or above its limit. The rest rests.
- **Maker on a market move** (``FakeMarket.move`` / ``set_symbol`` / :meth:`OrderEngine.match`):
  the pair's open orders, best price first then oldest, fill against the new book: a BUY from the
  asks priced at or below its limit, a SELL from the bids at or above it, up to their total size,
  at the order's **own** price (one fill per order per move). So a big order fills over moves.
- What a fill takes is removed from the served book. Our own orders never show in the public
  book and never trade with each other.
- **Fees**: ``fee = price × amount × fee_bps / 10000``, ``tax = fee × tax_rate``, unrounded, in
  the quote asset (denominator); with ``fee_in="base"`` they are ``amount × fee_bps / 10000`` (and
  its tax) in the base asset (numerator): a BUY receives that much less, a SELL gives that much more.
- **Balances**: totals move with fills. ``locked`` is the open orders' sum, with
  ``c = fee_bps / 10000 × (1 + tax_rate)``: a BUY locks ``left × price × (1 + c)`` quote (× 1
  with fees in base), a SELL ``left`` base (× (1 + c) with fees in base); ``free = total − locked``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ContextManager, Iterable, Literal, Protocol

from btcbot_pipeline.errors import BtcbotError

FIRST_ORDER_ID = 21_770_000_001
FIRST_TRADE_ID = 1_181_163_798_924_650_001
ZERO, ONE = Decimal(0), Decimal(1)
# Documented business codes (btcturk-api.md §4.3); 400 where none is documented.
ERROR_CODES = {
    "FAILED_MIN_TOTAL_AMOUNT": 1123,
    "FAILED_ORDER_WITH_OPEN_ORDERS": 1122,
    "ORDER_METHOD_NOT_SUPPORTED": 1134,
    "ORDER_TYPE_NOT_SUPPORTED": 1193,
}
FeeIn = Literal["quote", "base"]


class OrderRejected(BtcbotError):
    """A business reject: ``name`` is the envelope's ``message``, ``code`` its ``code``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.code = ERROR_CODES.get(name, 400)


@dataclass(frozen=True)
class PairRules:
    """What the engine needs of a listed pair (from exchangeinfo)."""

    symbol: str
    numerator: str
    denominator: str
    min_total: Decimal


class MarketView(Protocol):
    """The engine's view of the market (``FakeMarket`` is one)."""

    lock: ContextManager[Any]  # re-entrant

    def pair_rules(self, symbol: str) -> PairRules | None: ...

    def book(self, symbol: str) -> dict[str, Any] | None:
        """The served book ``{"bids": [[price, size], ...], "asks": [...]}``, mutable (fills take from it)."""

    def now_ms(self) -> int: ...


@dataclass
class FakeOrder:
    """One order of the account. ``client_id`` ``None``: placed without one."""

    id: int
    pair: PairRules
    side: str  # "buy" | "sell"
    price: Decimal
    quantity: Decimal
    client_id: str | None
    time_ms: int
    update_ms: int
    filled: Decimal = ZERO
    canceled: bool = False

    @property
    def left(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return not self.canceled and self.left > 0

    @property
    def status(self) -> str:
        """``Untouched`` | ``Partial`` | ``Canceled`` | ``Closed`` (fully filled)."""
        if self.canceled:
            return "Canceled"
        if self.left <= 0:
            return "Closed"
        return "Partial" if self.filled > 0 else "Untouched"


@dataclass(frozen=True)
class FakeTrade:
    """One fill; ``amount``, ``fee`` and ``tax`` positive here (the wire signs them)."""

    id: int
    order_id: int
    client_id: str | None
    timestamp_ms: int
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    tax: Decimal
    numerator: str
    denominator: str
    fee_asset: str


@dataclass(frozen=True)
class Submission:
    """One ``POST /api/v1/order`` the engine judged (rate-limited or faulted-before ones never get here)."""

    client_id: str | None
    accepted: bool
    order_id: int | None
    error: str | None
    at_ms: int


def positive(value: object) -> Decimal:
    """A positive finite Decimal from a wire value, else ``FAILED_ORDER_PARAMETER``."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise OrderRejected("FAILED_ORDER_PARAMETER") from None
    if not number.is_finite() or number <= 0:
        raise OrderRejected("FAILED_ORDER_PARAMETER")
    return number


def _levels(book: dict[str, Any] | None, key: str) -> list[list[Decimal]]:
    return [[Decimal(str(p)), Decimal(str(s))] for p, s in (book or {}).get(key) or []]


@dataclass
class OrderEngine:
    """One account on the fake exchange. Read state through the lists and the query methods;
    change it only through the methods (they hold ``market.lock``)."""

    market: MarketView
    balances: dict[str, Decimal]  # asset → total
    fee_bps: Decimal = Decimal("10")
    tax_rate: Decimal = ZERO
    fee_in: FeeIn = "quote"
    orders: dict[int, FakeOrder] = field(default_factory=dict)
    trades: list[FakeTrade] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    client_ids: set[str] = field(default_factory=set)
    next_order_id: int = FIRST_ORDER_ID
    next_trade_id: int = FIRST_TRADE_ID

    @property
    def charge_rate(self) -> Decimal:
        """``c``: fee plus tax per unit of what the fee is charged on."""
        return self.fee_bps / 10000 * (1 + self.tax_rate)

    # --- writes over the wire -----------------------------------------------------------------

    def submit(
        self, *, pair: str, side: str, method: str, quantity: object, price: object, client_id: str | None
    ) -> FakeOrder:
        """``POST /api/v1/order``: the accepted order (matched at once as far as the book allows),
        or :class:`OrderRejected`. Either way one :class:`Submission` is recorded."""
        with self.market.lock:
            try:
                order = self._accept(pair, side, method, quantity, price, client_id, checked=True)
            except OrderRejected as exc:
                self.submissions.append(Submission(client_id, False, None, exc.name, self.market.now_ms()))
                raise
            self.submissions.append(Submission(client_id, True, order.id, None, order.time_ms))
            return order

    def cancel(self, order_id: int) -> FakeOrder:
        """``DELETE /api/v1/order?id=``: ``NO_ORDER_MATCHES_YOUR_REQUEST`` (unknown or forgotten),
        ``ORDER_COULD_NOT_BE_CANCELED`` (closed or already canceled)."""
        with self.market.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise OrderRejected("NO_ORDER_MATCHES_YOUR_REQUEST")
            if not order.is_open:
                raise OrderRejected("ORDER_COULD_NOT_BE_CANCELED")
            order.canceled, order.update_ms = True, self.market.now_ms()
            return order

    # --- test helpers: what happens behind the bot's back -------------------------------------

    def place_external(
        self, pair: str, side: str, quantity: Decimal, price: Decimal, *, client_id: str | None = None
    ) -> FakeOrder:
        """An order of the account placed elsewhere (web, another bot): a foreign client id, ``""``
        or ``None`` (none at all). Only the pair and numbers are checked; not a :class:`Submission`."""
        with self.market.lock:
            return self._accept(pair, side, "limit", quantity, price, client_id, checked=False)

    def forget(self, order_id: int) -> FakeOrder:
        """Drop an order from open and all orders alike (its fills stay): an "unknown closed" order."""
        with self.market.lock:
            return self.orders.pop(order_id)

    def fill(self, order_id: int, quantity: Decimal | None = None) -> FakeTrade:
        """Fill an open order (all that is left by default) at its own price, without the book."""
        with self.market.lock:
            order = self.orders[order_id]
            if not order.is_open:
                raise ValueError(f"order {order_id} is {order.status}")
            return self._fill(order, order.price, min(quantity or order.left, order.left))

    def match(self, symbol: str) -> list[FakeTrade]:
        """Fill the pair's open orders against its current book (maker rule); the new fills."""
        with self.market.lock:
            fills = []
            waiting = [o for o in self.orders.values() if o.is_open and o.pair.symbol == symbol]
            waiting.sort(key=lambda o: (-o.price if o.side == "buy" else o.price, o.id))
            for order in waiting:
                taken = sum((amount for _, amount in self._take(order)), ZERO)
                if taken > 0:  # maker: at its own price, one fill per move
                    fills.append(self._fill(order, order.price, taken))
            return fills

    # --- reads ------------------------------------------------------------------------------------

    def open_orders(self, symbol: str | None = None) -> list[FakeOrder]:
        with self.market.lock:
            return [o for o in self.orders.values() if o.is_open and symbol in (None, o.pair.symbol)]

    def all_orders(
        self,
        symbol: str | None = None,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
        limit: int = 100,
    ) -> list[FakeOrder]:
        """The pair's orders created in ``[start_ms, end_ms]`` (id ≥ ``from_id``), oldest first,
        the newest ``limit`` of them."""
        with self.market.lock:
            rows = [
                o
                for o in self.orders.values()
                if symbol in (None, o.pair.symbol)
                and (start_ms is None or o.time_ms >= start_ms)
                and (end_ms is None or o.time_ms <= end_ms)
                and (from_id is None or o.id >= from_id)
            ]
            return rows[-limit:] if limit > 0 else []

    def user_trades(
        self,
        *,
        sides: Iterable[str] = ("buy", "sell"),
        symbol: str | None = None,
        assets: Iterable[str] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
        order_id: int | None = None,
    ) -> list[FakeTrade]:
        """Fills oldest first, filtered like ``/api/v1/users/transactions/trade``."""
        wanted_sides, wanted_assets = {s.lower() for s in sides}, {a.upper() for a in assets}
        with self.market.lock:
            return [
                t
                for t in self.trades
                if t.side in wanted_sides
                and symbol in (None, t.numerator + t.denominator)
                and (not wanted_assets or wanted_assets & {t.numerator, t.denominator})
                and (start_ms is None or t.timestamp_ms >= start_ms)
                and (end_ms is None or t.timestamp_ms <= end_ms)
                and order_id in (None, t.order_id)
            ]

    def locked(self) -> dict[str, Decimal]:
        """Asset → what open orders lock."""
        out: dict[str, Decimal] = {}
        with self.market.lock:
            for order in self.orders.values():
                if order.is_open:
                    asset, amount = self._lock_of(order, order.left)
                    out[asset] = out.get(asset, ZERO) + amount
        return out

    def free(self, asset: str) -> Decimal:
        with self.market.lock:
            return self.balances.get(asset, ZERO) - self.locked().get(asset, ZERO)

    def submission_count(self, client_id: str | None, *, accepted: bool = True) -> int:
        """How many POSTs with this client id were accepted (or, ``accepted=False``, rejected)."""
        with self.market.lock:
            return sum(1 for s in self.submissions if s.client_id == client_id and s.accepted is accepted)

    # --- inside ----------------------------------------------------------------------------------

    def _accept(
        self, pair: str, side: str, method: str, quantity: object, price: object, client_id: str | None, checked: bool
    ) -> FakeOrder:
        if str(method).lower() != "limit":
            raise OrderRejected("ORDER_METHOD_NOT_SUPPORTED")
        side = str(side).lower()
        if side not in ("buy", "sell"):
            raise OrderRejected("ORDER_TYPE_NOT_SUPPORTED")
        rules = self.market.pair_rules(str(pair).replace("_", "").upper())
        if rules is None:
            raise OrderRejected("FAILED_ORDER_PARAMETER")
        qty, px = positive(quantity), positive(price)
        if checked:
            self._check(rules, side, qty, px, client_id)
            client_id = client_id or str(uuid.UUID(int=self.next_order_id))  # as the exchange makes a GUID
        now = self.market.now_ms()
        order = FakeOrder(self.next_order_id, rules, side, px, qty, client_id, now, now)
        self.next_order_id += 1
        self.orders[order.id] = order
        if client_id:
            self.client_ids.add(client_id)
        for level_price, amount in self._take(order):  # taker: at each level's price
            self._fill(order, level_price, amount)
        return order

    def _check(self, rules: PairRules, side: str, qty: Decimal, price: Decimal, client_id: str | None) -> None:
        if client_id and client_id in self.client_ids:
            raise OrderRejected("FAILED_ORDER_WITH_DUPLICATE_CLIENT_ID")
        if qty * price < rules.min_total:
            raise OrderRejected("FAILED_MIN_TOTAL_AMOUNT")
        probe = FakeOrder(0, rules, side, price, qty, None, 0, 0)
        asset, need = self._lock_of(probe, qty)
        if self.balances.get(asset, ZERO) < need:
            raise OrderRejected("BALANCE_NOT_ENOUGH")
        if self.free(asset) < need:
            raise OrderRejected("FAILED_ORDER_WITH_OPEN_ORDERS")

    def _lock_of(self, order: FakeOrder, left: Decimal) -> tuple[str, Decimal]:
        base_fee = self.fee_in == "base"
        if order.side == "buy":
            return order.pair.denominator, left * order.price * (ONE if base_fee else 1 + self.charge_rate)
        return order.pair.numerator, left * (1 + self.charge_rate if base_fee else ONE)

    def _take(self, order: FakeOrder) -> list[tuple[Decimal, Decimal]]:
        """Take up to ``order.left`` from the book's levels that cross it, best first:
        ``(level price, amount)`` per level touched; the book keeps what is left."""
        book = self.market.book(order.pair.symbol)
        key = "asks" if order.side == "buy" else "bids"
        levels, pieces, left = _levels(book, key), [], order.left
        for level in levels:
            crosses = level[0] <= order.price if order.side == "buy" else level[0] >= order.price
            if left <= 0 or not crosses:
                break
            piece = min(left, level[1])
            if piece > 0:
                level[1] -= piece
                left -= piece
                pieces.append((level[0], piece))
        if book is not None and pieces:
            book[key] = [[format(p, "f"), format(s, "f")] for p, s in levels if s > 0]
        return pieces

    def _fill(self, order: FakeOrder, price: Decimal, amount: Decimal) -> FakeTrade:
        now = self.market.now_ms()
        base, quote = order.pair.numerator, order.pair.denominator
        fee_asset = base if self.fee_in == "base" else quote
        fee = (amount if fee_asset == base else amount * price) * self.fee_bps / 10000
        tax = fee * self.tax_rate
        sign = 1 if order.side == "buy" else -1
        self._add(base, sign * amount)
        self._add(quote, -sign * amount * price)
        self._add(fee_asset, -(fee + tax))
        order.filled += amount
        order.update_ms = now
        trade = FakeTrade(
            self.next_trade_id,
            order.id,
            order.client_id,
            now,
            order.side,
            price,
            amount,
            fee,
            tax,
            base,
            quote,
            fee_asset,
        )
        self.next_trade_id += 1
        self.trades.append(trade)
        return trade

    def _add(self, asset: str, delta: Decimal) -> None:
        self.balances[asset] = self.balances.get(asset, ZERO) + delta
