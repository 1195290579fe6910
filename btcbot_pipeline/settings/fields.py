"""What the sections share: the text form of a value and three field rules.

- :func:`decimal_text`, :func:`flag` and :func:`summary_text`: how a value reads in an error
  line or in :meth:`~btcbot_pipeline.settings.BotSettings.safe_summary` (secrets masked);
- :func:`blank_is_unset`, :func:`refuse_float` and :func:`storable_money`: the bodies of the
  field validators that several sections declare on their own fields.
"""

from __future__ import annotations

import json
from decimal import Decimal

from pydantic import SecretStr

from btcbot_pipeline.domain.bounds import MAX_MONEY_TRY
from btcbot_pipeline.domain.params import InvalidMetadataPolicy

SECRET_MASK = "**********"


def decimal_text(value: Decimal) -> str:
    # Fixed-point text: str(Decimal("0.00000001")) would print "1E-8" in logs.
    return format(value, "f")


def flag(value: bool) -> str:
    return "true" if value else "false"


def summary_text(value: object) -> str:
    """One setting's value as text: ``unset``, the mask for a secret, fixed-point decimals,
    ``true``/``false``, JSON for lists and mappings."""
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return SECRET_MASK
    if isinstance(value, bool):
        return flag(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, InvalidMetadataPolicy):
        return value.value
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps({key: summary_text(item) for key, item in value.items()})
    return str(value)


def blank_is_unset(value: object) -> object:
    # A ".env" line "BTCTURK_API_KEY=" means "not configured", not "an empty key";
    # otherwise an empty secret would satisfy the live-credentials check.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def refuse_float(value: object) -> object:
    # Environment values are text; only a Python override can pass a float, and a float
    # such as 0.1 is already inexact. Make the caller say what it means.
    if isinstance(value, float):
        raise ValueError("pass a str or Decimal, not a float")
    return value


def storable_money(value: Decimal) -> Decimal:
    # The book stores amounts as DECIMAL(38, 18); domain/bounds.py keeps every money
    # setting five digits below its limit, so gains and sums still fit.
    if value > MAX_MONEY_TRY:
        raise ValueError(
            f"must be at most {decimal_text(MAX_MONEY_TRY)} TRY (1e15, the bound the book can store "
            "with room for gains, see domain/bounds.py)"
        )
    return value
