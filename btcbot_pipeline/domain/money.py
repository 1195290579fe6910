"""Decimal helpers shared by every stage.

Money is ``Decimal`` end to end. Values enter through :func:`to_decimal` (strings or
ints, never floats) and are quantised to an exchange grid only through
:func:`floor_to_step` / :func:`ceil_to_step`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache
from math import lcm

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)

# Ledger and fill arithmetic runs in this context: 60 significant digits keep every
# product of an 8-decimal quantity and a price exact, so the money identities hold to the
# last digit. Division (average cost, drawdown) is the only place rounding can happen.
MONEY_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)


class MoneyParseError(ValueError):
    """A value could not be read as an exact decimal number."""


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Read ``value`` as an exact Decimal.

    Raises:
        MoneyParseError: if ``value`` is a float (inexact), a bool, not finite, or not a
            number at all. The message names ``field`` and the value seen.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or isinstance(value, float):
        raise MoneyParseError(f"{field} must be given as a string or int, was {type(value).__name__} {value!r}")
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise MoneyParseError(f"{field} is not a decimal number, was {value!r}") from None
    else:
        raise MoneyParseError(f"{field} must be a string, int or Decimal, was {type(value).__name__}")
    if not result.is_finite():
        raise MoneyParseError(f"{field} must be finite, was {value!r}")
    return result


def bps_factor(bps: Decimal) -> Decimal:
    """``bps`` basis points as a fraction: 25 → 0.0025."""
    return bps / BPS


@lru_cache(maxsize=4096)
def combined_step(*steps: Decimal | None) -> Decimal | None:
    """The smallest step that is a multiple of every given step.

    BTCTurk publishes a ``tickSize`` and a ``denominatorScale`` that may disagree (BTCTRY:
    tick 10, scale 2). A price valid for both is a multiple of their least common multiple:
    lcm(10, 0.01) = 10 and lcm(0.001, 0.01) = 0.01.
    """
    present = [s for s in steps if s is not None]
    if not present:
        return None
    exponent = min(s.as_tuple().exponent for s in present)  # type: ignore[type-var]
    scale = Decimal(1).scaleb(-int(exponent))
    integers = [int(s * scale) for s in present]
    step = Decimal(lcm(*integers)) / scale
    return _on_grid(step, step)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is ≤ ``value`` (``step`` > 0)."""
    return _on_grid((value / step).to_integral_value(rounding=ROUND_FLOOR) * step, step)


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of ``step`` that is ≥ ``value`` (``step`` > 0)."""
    return _on_grid((value / step).to_integral_value(rounding=ROUND_CEILING) * step, step)


def _on_grid(value: Decimal, step: Decimal) -> Decimal:
    # Show the grid's own decimals (tick 0.010 → 2 places, tick 10 → none), never an exponent.
    return value.quantize(_grid_quantum(step))


@lru_cache(maxsize=1024)
def _grid_quantum(step: Decimal) -> Decimal:
    # Keyed by value: equal steps (0.010, 0.01) normalise alike, so they share one quantum.
    exponent = min(0, int(step.normalize().as_tuple().exponent))
    return Decimal(1).scaleb(exponent)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True if ``value`` lies exactly on the ``step`` grid."""
    return (value % step) == 0


def scale_step(scale: int | None) -> Decimal | None:
    """The step implied by a number of decimals: 2 → 0.01, 0 → 1."""
    if scale is None:
        return None
    return Decimal(1).scaleb(-scale)


def canonical(value: Decimal) -> str:
    """A stable text form for hashing and JSON: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
