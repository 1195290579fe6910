"""The simulated exchange behind the OMS: bars, fill models, the token bucket, seeded draws.

Offers :class:`Bar`, :class:`TokenBucket`, :func:`match` (the fill of one order against
a bar under ``OmsParams.fill_model``: ``seed`` reproduces the seed system, ``limit``
respects the limit, the book and ``volume_share`` of the bar's volume) and :func:`draw`
(a deterministic fraction in ``[0, 1)`` from sha256 of seed, order id, attempt and
purpose). All money is Decimal; ``slippage_try`` is signed so the ledger's
``equity = start + net`` holds; ``fee_try = fill price × qty × fees_bps / 10_000``. Pure:
no I/O, no clock, no randomness but :func:`draw`. The exact rules: ``docs/oms.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor, floor_to_step
from btcbot_pipeline.domain.oms.orders import SimOrder
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side

# Exchange-like reject reasons (BTCTurk error names, docs/btcturk-api.md §4.3). They are
# labels drawn at random, not checks: the intents stage already enforces the minimum total.
REJECT_REASONS = ("FAILED_LIMIT_ORDER", "FAILED_ORDER_WITH_OPEN_ORDERS", "FAILED_MIN_TOTAL_AMOUNT")
# What a transient failure looks like to the client (each is retried).
TRANSIENT_ERRORS = ("TIMEOUT", "TOO_MANY_REQUESTS", "SERVICE_UNAVAILABLE")

_TWO_64 = Decimal(2**64)
_MICROS = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Bar:
    """What the simulated exchange knows of ``symbol`` at a cycle.

    ``low_try`` / ``high_try`` / ``volume`` (base quantity) describe the trades in
    ``(previous cycle, this cycle]``; the bid and ask are the book at the cycle.
    """

    symbol: str
    mark_try: Decimal
    best_bid_try: Decimal | None = None
    best_ask_try: Decimal | None = None
    low_try: Decimal | None = None
    high_try: Decimal | None = None
    volume: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A token bucket in cycle time: ``rps`` tokens per second of ``ts`` (never the wall
    clock), at most ``burst``; one submission attempt takes one token. ``None`` as a state's
    bucket means a full one."""

    tokens: Decimal
    updated_ts: datetime | None

    @classmethod
    def full(cls, burst: int) -> TokenBucket:
        return cls(tokens=Decimal(burst), updated_ts=None)

    def refilled(self, ts: datetime, *, rps: Decimal, burst: int) -> TokenBucket:
        """The bucket at ``ts`` (a ``ts`` before ``updated_ts`` adds nothing)."""
        if self.updated_ts is None:
            return TokenBucket(tokens=min(self.tokens, Decimal(burst)), updated_ts=ts)
        elapsed = ts - self.updated_ts
        micros = Decimal(max(0, (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds))
        with localcontext(MONEY_CONTEXT):
            tokens = min(Decimal(burst), self.tokens + rps * micros / _MICROS)
        return TokenBucket(tokens=tokens, updated_ts=max(ts, self.updated_ts))

    def take(self, ts: datetime, *, rps: Decimal, burst: int) -> tuple[TokenBucket, bool]:
        """Refill to ``ts``, then take one token if there is one: ``(bucket', taken)``."""
        bucket = self.refilled(ts, rps=rps, burst=burst)
        if bucket.tokens < ONE:
            return bucket, False
        with localcontext(MONEY_CONTEXT):
            return TokenBucket(tokens=bucket.tokens - ONE, updated_ts=bucket.updated_ts), True


def draw(seed: int, client_order_id: str, attempt: int, purpose: str) -> Decimal:
    """A deterministic pseudo-random fraction in ``[0, 1)`` (see the module docstring)."""
    digest = hashlib.sha256(f"{seed}|{client_order_id}|{attempt}|{purpose}".encode()).hexdigest()
    with localcontext(MONEY_CONTEXT):
        return Decimal(int(digest[:16], 16)) / _TWO_64


def pick(options: tuple[str, ...], fraction: Decimal) -> str:
    """The option a draw in ``[0, 1)`` lands on."""
    return options[int(fraction * len(options))]


@dataclass(frozen=True, slots=True)
class Match:
    """What one order trades in one cycle, before fees."""

    qty: Decimal
    mark_price_try: Decimal
    fill_price_try: Decimal
    slippage_try: Decimal


def match(
    order: SimOrder,
    bar: Bar | None,
    *,
    params: OmsParams,
    placing: bool,
    mark_hint: Decimal | None = None,
) -> Match | None:
    """The fill of ``order`` this cycle under ``params.fill_model``, or ``None``.

    ``placing`` is true in the cycle the order was acknowledged; ``mark_hint`` is the
    intent's mark, which the seed model uses in that cycle.
    """
    slip = bps_factor(params.slippage_bps)
    with localcontext(MONEY_CONTEXT):
        if params.fill_model == "seed":
            mark = mark_hint if placing and mark_hint is not None else (bar.mark_try if bar is not None else None)
            if mark is None:
                return None
            qty = order.remaining_qty
            price = mark * (ONE + slip) if order.side is Side.BUY else mark * (ONE - slip)
            return Match(qty, mark, price, _cost(order.side, price, mark, qty))
        if bar is None:
            return None
        qty = _volume_cap(order, bar, params.volume_share)
        if qty is None:
            return None
        mark, limit = bar.mark_try, order.price_try
        bid = bar.best_bid_try if bar.best_bid_try is not None else mark
        ask = bar.best_ask_try if bar.best_ask_try is not None else mark
        if placing:
            if order.side is Side.BUY and ask <= limit:
                price = min(limit, ask * (ONE + slip))
            elif order.side is Side.SELL and bid >= limit:
                price = max(limit, bid * (ONE - slip))
            else:
                return None
            return Match(qty, mark, price, _cost(order.side, price, mark, qty))
        if order.side is Side.BUY:
            touched = ask <= limit or (bar.low_try is not None and bar.low_try <= limit)
        else:
            touched = bid >= limit or (bar.high_try is not None and bar.high_try >= limit)
        return Match(qty, limit, limit, ZERO) if touched else None


def _cost(side: Side, price: Decimal, mark: Decimal, qty: Decimal) -> Decimal:
    # what the fill paid above the mark (BUY) or gave up below it (SELL)
    return (price - mark) * qty if side is Side.BUY else (mark - price) * qty


def _volume_cap(order: SimOrder, bar: Bar, share: Decimal) -> Decimal | None:
    if bar.volume is None or bar.volume <= ZERO:
        return None
    lot = Decimal(1).scaleb(min(0, int(order.qty.as_tuple().exponent)))
    qty = min(order.remaining_qty, floor_to_step(share * bar.volume, lot))
    return qty if qty > ZERO else None
