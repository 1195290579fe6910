"""BTCTurk ``/api/v2/server/exchangeinfo`` → :class:`~btcbot_pipeline.domain.market.SymbolRules`.

Inside:

- :class:`ExchangeInfoError` (a ``ValueError``): the payload is not exchangeinfo at all.
- :func:`parse_exchange_info`: a decoded payload (envelope or bare ``data``) → rules by symbol.
- :func:`load_exchange_info`: the same from a JSON file, numbers read as ``Decimal``.

Where each rule comes from (real payloads, see ``shared/docs/btcturk-api.md`` §2.1):

=================  =========================================================================
``tick_size``      ``filters[PRICE_FILTER].tickSize`` (symbol-level ``tickSize`` in old fixtures)
``min_notional``   ``minExchangeValue``, else ``minTotalAmount`` / ``minNotional`` /
                   ``minQuoteAmount``; looked up in PRICE_FILTER, other filters, then the symbol
``lot_size``       ``filters[LOT_SIZE].stepSize``; real payloads have none, so ``None`` and the
                   quantity grid comes from ``numeratorScale``
``price_scale``    ``denominatorScale``
``quantity_scale`` ``numeratorScale``
=================  =========================================================================

A bad value becomes ``None`` so that the domain marks that symbol's rules invalid; one
broken entry never hides the others. A value outside the bounds the book can store
(:mod:`~btcbot_pipeline.domain.bounds`: a ``numeratorScale`` of 60, a tick of 1e30) is
dropped too and named in ``SymbolRules.out_of_range``, so that symbol is excluded as
``invalid_data:out_of_range:<field>``. A file larger than :data:`MAX_FILE_BYTES` or nested
deeper than JSON can be read is not exchangeinfo.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from btcbot_pipeline.domain.bounds import min_notional_in_range, scale_in_range, step_in_range
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.domain.money import MoneyParseError, to_decimal
from btcbot_pipeline.domain.vocabulary import canonical_symbol

_MIN_NOTIONAL_KEYS = ("minexchangevalue", "mintotalamount", "minnotional", "minquoteamount")
_NAME_KEYS = ("name", "namenormalized", "pairsymbol", "symbol")

# A symbol without a status field (old fixtures) is taken as trading; a status that is
# present but not text is kept visibly wrong so the domain refuses the rules.
_DEFAULT_STATUS = "TRADING"
_UNREADABLE_STATUS = "UNKNOWN"

# BTCTurk's full exchangeinfo is ~0.5 MB; a file 30 times that is not one.
MAX_FILE_BYTES = 16 * 1024 * 1024


class ExchangeInfoError(ValueError):
    """The payload is not a BTCTurk exchangeinfo response (or reports a failure)."""


def parse_exchange_info(payload: object) -> dict[str, SymbolRules]:
    """Rules of every symbol in an exchangeinfo payload, keyed by canonical name.

    Args:
        payload: the decoded JSON, either the full response ``{"success": true, "data":
            {...}}`` or its ``data`` object (or, for old fixtures, the bare list of
            symbols). JSON keys are matched case-insensitively. Numbers should be
            ``Decimal``, ``int`` or strings; floats are inexact and read as ``None``
            (decode with ``parse_float=Decimal``, as :func:`load_exchange_info` does).

    Returns:
        Symbol → :class:`SymbolRules`, sorted by symbol. Entries without any name are
        dropped; entries with unreadable values keep those fields as ``None``.

    Raises:
        ExchangeInfoError: if the payload has no ``symbols`` list, or the envelope says
            ``success: false``.
    """
    entries = _symbol_entries(payload)
    rules: dict[str, SymbolRules] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        fields = _lower_keys(entry)
        symbol = _symbol_name(fields)
        if symbol is None or symbol in rules:
            continue  # the exchange lists each pair once; keep the first if a fixture repeats
        rules[symbol] = _parse_symbol(symbol, fields)
    return dict(sorted(rules.items()))


def load_exchange_info(path: str | os.PathLike[str]) -> dict[str, SymbolRules]:
    """Read an exchangeinfo JSON file (envelope optional) into rules by symbol.

    Raises:
        ExchangeInfoError: if the file is not JSON or not exchangeinfo; the message
            starts with the path.
        OSError: if the file cannot be read.
    """
    file = Path(path)
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ExchangeInfoError(
            f"{file}: not exchangeinfo: {size} bytes, more than the {MAX_FILE_BYTES} bytes read at most"
        )
    text = file.read_text(encoding="utf-8-sig")
    try:
        payload = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise ExchangeInfoError(f"{file}: not valid JSON: {exc}") from None
    except RecursionError:  # e.g. "[" nested 100,000 deep: hostile, never an exchange's reply
        raise ExchangeInfoError(f"{file}: not exchangeinfo: JSON nested too deeply to read") from None
    try:
        return parse_exchange_info(payload)
    except ExchangeInfoError as exc:
        raise ExchangeInfoError(f"{file}: {exc}") from None


def _symbol_entries(payload: object) -> list[object]:
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise ExchangeInfoError(f"exchangeinfo must be a JSON object, was {type(payload).__name__}")
    fields = _lower_keys(payload)
    if "symbols" in fields:
        symbols = fields["symbols"]
        if not isinstance(symbols, list):
            raise ExchangeInfoError(f"exchangeinfo 'symbols' must be a list, was {type(symbols).__name__}")
        return symbols
    if "data" in fields:
        if fields.get("success") is False:
            raise ExchangeInfoError(
                "exchangeinfo response reports a failure: "
                f"code {fields.get('code')!r}, message {fields.get('message')!r}"
            )
        data = fields["data"]
        if isinstance(data, dict | list):
            return _symbol_entries(data)
        raise ExchangeInfoError(f"exchangeinfo envelope 'data' must be an object, was {type(data).__name__}")
    raise ExchangeInfoError(
        "not an exchangeinfo payload: expected a 'symbols' list or an envelope with 'data'; "
        f"keys were {sorted(str(k) for k in payload)}"
    )


def _lower_keys(mapping: dict[object, object]) -> dict[str, object]:
    return {key.lower(): value for key, value in mapping.items() if isinstance(key, str)}


def _symbol_name(fields: dict[str, object]) -> str | None:
    for key in _NAME_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return canonical_symbol(value)
    return None


def _parse_symbol(symbol: str, fields: dict[str, object]) -> SymbolRules:
    filters = [_lower_keys(f) for f in _as_list(fields.get("filters")) if isinstance(f, dict)]
    price_filters = [f for f in filters if _filter_type(f) == "PRICE_FILTER"]
    lot_filters = [f for f in filters if _filter_type(f) == "LOT_SIZE"]
    other_filters = [f for f in filters if _filter_type(f) != "PRICE_FILTER"]

    tick_source = next((f for f in price_filters if "ticksize" in f), fields)
    lot_size = _decimal(lot_filters[0].get("stepsize")) if lot_filters else None
    values: dict[str, Any] = {
        "tick_size": _decimal(tick_source.get("ticksize")),
        "lot_size": lot_size,
        "min_notional_try": _min_notional([*price_filters, *other_filters, fields]),
        "price_scale": _scale(fields.get("denominatorscale")),
        "quantity_scale": _scale(fields.get("numeratorscale")),
    }
    out_of_range = None
    for name, value in values.items():
        if value is not None and not _in_range(name, value):
            values[name] = None  # never handed on: the book could not store it
            out_of_range = out_of_range or name
    return SymbolRules(symbol=symbol, status=_status(fields), out_of_range=out_of_range, **values)


def _in_range(name: str, value: Decimal | int) -> bool:
    if name in ("price_scale", "quantity_scale"):
        return scale_in_range(value)  # type: ignore[arg-type]
    if name == "min_notional_try":
        return min_notional_in_range(value)  # type: ignore[arg-type]
    return step_in_range(value)  # type: ignore[arg-type]


def _filter_type(fields: dict[str, object]) -> str:
    value = fields.get("filtertype")
    return value.strip().upper() if isinstance(value, str) else ""


def _min_notional(sources: list[dict[str, object]]) -> Decimal | None:
    # The first source that names the value decides, even if the value is unreadable:
    # falling through to a different alias could pick up an unrelated limit.
    for source in sources:
        for key in _MIN_NOTIONAL_KEYS:
            if source.get(key) is not None:
                return _decimal(source[key])
    return None


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, float | bool):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    try:
        return to_decimal(value)
    except MoneyParseError:
        return None


_SCALE_CAP = Decimal(10**6)  # int() of 1e999999999 would build a billion-digit number


def _scale(value: object) -> int | None:
    number = _decimal(value)
    if number is None or number < 0:
        return None
    if number > _SCALE_CAP:
        return int(_SCALE_CAP)  # out of range either way; reported as such
    if number != number.to_integral_value():
        return None
    return int(number)


def _status(fields: dict[str, object]) -> str:
    if "status" not in fields:
        return _DEFAULT_STATUS
    value = fields["status"]
    return value if isinstance(value, str) else _UNREADABLE_STATUS


def exchangeinfo_symbol(
    index: int,
    name: str,
    base: str,
    quote: str,
    *,
    quantity_scale: int,
    price_scale: int,
    max_price: str,
    tick_size: str,
    min_notional: str,
) -> dict[str, Any]:
    """One TRADING pair of an exchangeinfo response, in BTCTurk's real shape (as the
    synthetic and imported datasets write it)."""
    return {
        "id": index,
        "name": name,
        "nameNormalized": f"{base}_{quote}",
        "status": "TRADING",
        "numerator": base,
        "denominator": quote,
        "numeratorScale": quantity_scale,
        "denominatorScale": price_scale,
        "hasFraction": price_scale > 0,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.0000000000001",
                "maxPrice": max_price,
                "tickSize": tick_size,
                "minExchangeValue": min_notional,
                "minAmount": None,
                "maxAmount": None,
            }
        ],
        "orderMethods": ["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"],
        "displayFormat": "#,###" if price_scale == 0 else "#,##0." + "0" * price_scale,
        "commissionFromNumerator": False,
        "order": 1000 + index,
        "priceRounding": False,
        "isNew": False,
        "marketPriceWarningThresholdPercentage": 0.25,
        "maximumOrderAmount": None,
    }


def exchangeinfo_document(symbols: list[dict[str, Any]], assets: list[str], server_ms: int) -> dict[str, Any]:
    """A BTCTurk ``/api/v2/server/exchangeinfo`` response (the envelope and the
    currencies) around ``symbols``, as the synthetic and imported datasets write it.

    ``server_ms`` is a time of the data (not the wall clock): same input, same bytes."""
    currencies = [
        {
            "id": index,
            "symbol": asset,
            "precision": 2 if asset == "TRY" else 8,
            "currencyType": "FIAT" if asset == "TRY" else "CRYPTO",
            "isNew": False,
        }
        for index, asset in enumerate(assets, start=1)
    ]
    return {
        "success": True,
        "message": None,
        "code": 0,
        "data": {
            "timeZone": "UTC",
            "serverTime": server_ms,
            "symbols": symbols,
            "currencies": currencies,
            "currencyOperationBlocks": [],
        },
    }
