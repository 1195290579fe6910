"""What ``replay-import`` derives from candles alone: exchange rules, top of book, 24 h ticker.

Inside:

- :class:`PairRules` and :func:`choose_rules`: tick size, quantity scale and minimum
  notional for one imported pair, chosen from its price level.
- :func:`top_of_book`: best bid / ask for one bar (the rule is in its docstring).
- :func:`exchange_info_json`: the ``exchangeinfo.json`` bytes for the imported pairs.
- :func:`trailing_day`: last / high / low / volume / quote volume over the trailing 24 h
  at every bar, in one pass.
- :data:`EXACT` and :func:`decimal_text`: exact arithmetic and the plain text written out.

All arithmetic runs in :data:`EXACT`, whose ``Inexact`` trap turns any rounding into an
error instead of a silently different price.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, Inexact

from btcbot_pipeline.adapters.replay.exchangeinfo import exchangeinfo_document, exchangeinfo_symbol

# 100 digits hold a 15-digit price × a rate of up to 30 digits × a 15-digit volume, summed
# over a day of bars; the trap guarantees nothing was rounded.
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN, traps=[Inexact])

# The spread is this share of the bar's high - low: half of it on each side of the close.
# On the 2018 Binance 5-minute bars (shared/data/binance-5m-2018) this gives median books
# of 4-8 bps, the width of BTCTurk's liquid TRY pairs.
SPREAD_SHARE_OF_RANGE = Decimal("0.1")
# Every price of the pair is at least 10**PRICE_DIGITS ticks: a tick is at most 0.1 bps.
PRICE_DIGITS = 5
# One quantity step at the pair's highest price is worth at most this share of the
# minimum notional, so order sizes are not visibly coarse.
QUANTITY_STEP_SHARE = Decimal("0.001")
# BTCTurk's largest numeratorScale (BTC, ETH pairs).
MAX_QUANTITY_SCALE = 8
# BTCTurk's published maxPrice for TRY pairs; raised to a power of ten above the data.
EXCHANGE_MAX_PRICE = Decimal("10000000")

# The rules above in words, for the import manifest.
RULES_TEXT = {
    "candle_ts": "Freqtrade date (bar open) + timeframe: the bar's close time",
    "orderbook": f"half-spread {SPREAD_SHARE_OF_RANGE / 2} x (high - low) around the close, "
    "bid rounded down and ask up to the tick, clipped inside [low, high]; a bar too narrow "
    "for that gets the one-tick book at the close (bid = close rounded down)",
    "ticker": "bars stamped in (ts - 24h, ts]: last close, max high, min low, sum volume, sum close x volume",
    "tick_size": f"largest power of ten <= 1e-{PRICE_DIGITS} x the pair's lowest low",
    "quantity_scale": f"fewest decimals (0-{MAX_QUANTITY_SCALE}) whose step at the pair's "
    f"highest high is worth <= {QUANTITY_STEP_SHARE} x min_notional",
}

_DAY_US = 86_400_000_000
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HALF_SHARE = SPREAD_SHARE_OF_RANGE / 2
# Rounding to the tick is the one place where digits are meant to go, so no Inexact trap.
_GRID = Context(prec=100)


def decimal_text(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros (``9840.0000`` → ``9840``)."""
    text = format(value.normalize(EXACT), "f")
    return "0" if text == "-0" else text


@dataclass(frozen=True, slots=True)
class PairRules:
    """Exchange rules written to ``exchangeinfo.json`` for one imported pair.

    Attributes:
        tick_size: a power of ten (``tickSize``).
        price_scale: decimals of ``tick_size`` (``denominatorScale``).
        quantity_scale: decimals of base quantities (``numeratorScale``).
        min_notional: smallest order value in the quote currency (``minExchangeValue``).
        max_price: ``maxPrice``, a power of ten above every price of the pair.
    """

    tick_size: Decimal
    price_scale: int
    quantity_scale: int
    min_notional: Decimal
    max_price: Decimal


def choose_rules(lowest: Decimal, highest: Decimal, min_notional: Decimal) -> PairRules:
    """Rules that make orders possible over the pair's whole price range.

    - tick = the largest power of ten at most ``10**-PRICE_DIGITS × lowest``: every price
      spans at least 100,000 ticks (a tick is at most 0.1 bps), so a book derived from a
      bar's range is not swamped by rounding. BTCTurk's ETHTRY (about 130,000 TRY, tick 1)
      sits on the same rule.
    - quantity scale = the fewest decimals (0 to 8) for which one quantity step at
      ``highest`` is worth at most ``QUANTITY_STEP_SHARE × min_notional``; 8 if none is
      that fine (a step is then still 1e-8, BTCTurk's finest).

    Args:
        lowest / highest: the pair's lowest low and highest high, > 0, in the quote currency.
        min_notional: > 0, in the quote currency.
    """
    tick = _ONE.scaleb(lowest.adjusted() - PRICE_DIGITS)
    limit = EXACT.multiply(QUANTITY_STEP_SHARE, min_notional)
    scale = next(
        (d for d in range(MAX_QUANTITY_SCALE + 1) if highest.scaleb(-d) <= limit),
        MAX_QUANTITY_SCALE,
    )
    max_price = max(EXCHANGE_MAX_PRICE, _ONE.scaleb(highest.adjusted() + 1))
    return PairRules(
        tick_size=tick,
        price_scale=max(0, -tick.adjusted()),
        quantity_scale=scale,
        min_notional=min_notional,
        max_price=max_price,
    )


def top_of_book(low: Decimal, high: Decimal, close: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """Best bid and ask on the tick grid for one bar; always ``0 < bid < ask``.

    Rule:

    1. half-spread = ``SPREAD_SHARE_OF_RANGE / 2 × (high - low)``;
    2. bid = ``close - half`` rounded down to the tick, ask = ``close + half`` rounded up
       (so the spread is at least one tick);
    3. clipped inside the bar: bid >= ``low`` rounded up, ask <= ``high`` rounded down;
    4. when that leaves no spread (a flat or sub-tick bar: fewer than two grid prices in
       ``[low, high]``), the one-tick book at the close: bid = ``close`` rounded down,
       ask = bid + one tick. Only here may the book leave ``[low, high]``, by less than
       a tick.

    Args:
        low / high / close: the bar in the quote currency, ``0 < low <= close <= high``
            expected (``close`` outside the range is clipped the same way).
        tick: a positive power of ten at most ``low`` (see :func:`choose_rules`).
    """
    half = EXACT.multiply(EXACT.subtract(high, low), _HALF_SHARE)
    bid = _down(EXACT.subtract(close, half), tick)
    ask = _up(EXACT.add(close, half), tick)
    bid = max(bid, _up(low, tick))
    ask = min(ask, _down(high, tick))
    if bid < ask:
        return bid, ask
    bid = _down(close, tick)
    return bid, EXACT.add(bid, tick)


def _down(value: Decimal, tick: Decimal) -> Decimal:
    return value.quantize(tick, rounding=ROUND_FLOOR, context=_GRID)


def _up(value: Decimal, tick: Decimal) -> Decimal:
    return value.quantize(tick, rounding=ROUND_CEILING, context=_GRID)


def trailing_day(
    stamps_us: list[int],
    high: list[Decimal],
    low: list[Decimal],
    close: list[Decimal],
    volume: list[Decimal],
) -> list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """For each bar: last, high, low, volume, quote volume over the bars in ``(t - 24 h, t]``.

    ``t`` is the bar's stamp (its close time); the window is the one the replay reader
    uses when it derives these values itself, so both agree. A gap shortens the window
    instead of being filled. Quote volume is the sum of ``close × volume``. One pass:
    running sums plus monotonic deques of the window's highest highs and lowest lows.

    Args:
        stamps_us: increasing bar stamps, epoch microseconds; the other lists align with it.
    """
    out = []
    highs: deque[int] = deque()  # indices, highs decreasing
    lows: deque[int] = deque()  # indices, lows increasing
    quote = [EXACT.multiply(c, v) for c, v in zip(close, volume, strict=True)]
    volume_sum = quote_sum = _ZERO
    first = 0
    for i, stamp in enumerate(stamps_us):
        volume_sum = EXACT.add(volume_sum, volume[i])
        quote_sum = EXACT.add(quote_sum, quote[i])
        while stamps_us[first] <= stamp - _DAY_US:
            volume_sum = EXACT.subtract(volume_sum, volume[first])
            quote_sum = EXACT.subtract(quote_sum, quote[first])
            first += 1
        while highs and high[highs[-1]] <= high[i]:
            highs.pop()
        highs.append(i)
        while highs[0] < first:
            highs.popleft()
        while lows and low[lows[-1]] >= low[i]:
            lows.pop()
        lows.append(i)
        while lows[0] < first:
            lows.popleft()
        out.append((close[i], high[highs[0]], low[lows[0]], volume_sum, quote_sum))
    return out


def exchange_info_json(pairs: list[tuple[str, str, PairRules]], quote: str, server_ms: int) -> bytes:
    """BTCTurk's ``/api/v2/server/exchangeinfo`` response, envelope included, for
    ``(symbol, base, rules)`` triples sorted by symbol; every pair ``TRADING``."""
    symbols = [
        exchangeinfo_symbol(
            index,
            name,
            base,
            quote,
            quantity_scale=rules.quantity_scale,
            price_scale=rules.price_scale,
            max_price=decimal_text(rules.max_price),
            tick_size=decimal_text(rules.tick_size),
            min_notional=decimal_text(rules.min_notional),
        )
        for index, (name, base, rules) in enumerate(pairs, start=1)
    ]
    assets = sorted({base for _, base, _ in pairs} | {quote})
    payload = exchangeinfo_document(symbols, assets, server_ms)
    return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
