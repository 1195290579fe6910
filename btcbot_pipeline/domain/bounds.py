"""The range every number must lie in when it enters a cycle, in one place.

Offers the bounds (:data:`PRICE`, :data:`BASE_VOLUME`, :data:`QUOTE_VOLUME`,
:data:`CHANGE_PCT`, :data:`STEP`, :data:`MAX_SCALE`, :data:`MAX_MONEY_TRY`,
:data:`MAX_QUANTITY`, :data:`MAX_ASK_OVER_BID`, :data:`FIELD_BOUNDS`), the range tests
and the skip reason ``invalid_data:out_of_range:<field>`` (:func:`out_of_range_reason`).
Every bound keeps values and what is derived from them inside the book's
``DECIMAL(38, 18)``. Every source (replay reader, live BTCTurk source, exchangeinfo
parser, settings) checks its numbers here where they enter, and a value out of range
excludes only its symbol for that cycle. Unusable rule values (tick 0, lot 0) are not
range errors (:mod:`~btcbot_pipeline.domain.exchange_rules`). Numbers only: no domain
types, no domain imports. The bounds and why: ``docs/data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True, slots=True)
class Bound:
    """``low <= value <= high`` (either end ``None`` = open)."""

    low: Decimal | None
    high: Decimal | None

    def contains(self, value: Decimal) -> bool:
        """True when ``value`` lies within the bound (a NaN never does)."""
        if not value.is_finite():
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or value <= self.high

    def text(self) -> str:
        """``[1e-12, 1e12]`` for messages."""
        low = "-inf" if self.low is None else _short(self.low)
        high = "inf" if self.high is None else _short(self.high)
        return f"[{low}, {high}]"


def _short(value: Decimal) -> str:
    if value != 0 and (abs(value) >= 10_000 or abs(value) < Decimal("0.001")):
        mantissa, _, exponent = f"{value:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return format(value.normalize(), "f")


PRICE = Bound(Decimal("1E-12"), Decimal("1E12"))
BASE_VOLUME = Bound(Decimal(0), Decimal("1E18"))
QUOTE_VOLUME = Bound(Decimal(0), Decimal("1E18"))
CHANGE_PCT = Bound(Decimal(-100), Decimal("1E9"))
STEP = Bound(Decimal("1E-18"), Decimal("1E12"))  # a positive tick or lot size
MAX_SCALE = 18
MAX_MONEY_TRY = Decimal("1E15")
MAX_QUANTITY = Decimal("1E18")
MAX_ASK_OVER_BID = Decimal(2)

# Column → bound, for sources that check a row by its column names.
FIELD_BOUNDS: dict[str, Bound] = {
    "best_bid": PRICE,
    "best_ask": PRICE,
    "last": PRICE,
    "high": PRICE,
    "low": PRICE,
    "open": PRICE,
    "close": PRICE,
    "high_24h": PRICE,
    "low_24h": PRICE,
    "volume": BASE_VOLUME,
    "quote_volume": QUOTE_VOLUME,
    "quote_volume_try": QUOTE_VOLUME,
    "daily_change_pct": CHANGE_PCT,
}


def out_of_range_reason(field: str) -> str:
    """The skip reason of a symbol whose ``field`` is out of bounds."""
    return f"invalid_data:{OUT_OF_RANGE}:{field}"


def describe(field: str, value: Decimal, bound: Bound) -> str:
    """``best_bid 1E+25 is outside [1e-12, 1e12]``, for issues and messages."""
    return f"{field} {_shown(value)} is outside {bound.text()}"


def _shown(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def step_in_range(value: Decimal) -> bool:
    """A tick or lot size the book can store: within :data:`STEP`, or zero or negative
    down to ``-1e12`` (unusable rules, refused as such by :mod:`.exchange_rules`)."""
    if not value.is_finite():
        return False
    return (value <= 0 and value >= -STEP.high) or STEP.contains(value)  # type: ignore[operator]


def scale_in_range(value: int) -> bool:
    """A price or quantity scale the book can store (negative ones: unusable rules)."""
    return value <= MAX_SCALE


def min_notional_in_range(value: Decimal) -> bool:
    """``|value| <= 1e15``: a negative one is unusable rules, not a range error."""
    return value.is_finite() and -MAX_MONEY_TRY <= value <= MAX_MONEY_TRY
