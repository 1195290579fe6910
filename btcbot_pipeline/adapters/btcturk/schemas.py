"""Response schemas of the BTCTurk API, keeping BTCTurk's field names (lower-cased).

JSON is decoded with :func:`decode_json` (floats → ``Decimal``, ints stay ``int``), so no price,
amount or 64-bit id ever passes through ``float``. Keys are matched case-insensitively (old
payloads say ``pairsymbol``, new ones ``pairSymbol``) and enum-like values (``type``,
``method``, ``status``, ``side``) are lower-cased. ``parse_to_*`` helpers turn rows into the
small frozen values the rest of the adapter uses.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from btcbot_pipeline.adapters.btcturk.errors import MalformedResponseError
from btcbot_pipeline.domain.vocabulary import canonical_symbol


def decode_json(text: str | bytes) -> Any:
    """JSON with every non-integer number as ``Decimal`` and integers as exact ``int``."""
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:  # "[" nested 100,000 deep: hostile, never an exchange's reply
        raise MalformedResponseError("response is not valid JSON: nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of more than 4300 digits
        raise MalformedResponseError(f"response is not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None


def _encode(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def encode_json(payload: object) -> bytes:
    """The inverse of :func:`decode_json`: Decimals written as bare numbers with every digit
    (``json.dumps`` cannot), e.g. to serve or store a payload unchanged."""
    return _encode(payload).encode("utf-8")


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, float):
        value = repr(value)  # only for hand-built dicts; decode_json never yields floats
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _int(value: object) -> int | None:
    number = _dec(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


Dec = Annotated[Decimal | None, BeforeValidator(_dec)]
Int = Annotated[int | None, BeforeValidator(_int)]
Enum = Annotated[str | None, BeforeValidator(_lower)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _lower_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k.lower() if isinstance(k, str) else k: v for k, v in data.items()}
        return data


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).replace(microsecond=(ms % 1000) * 1000)


class Envelope(_Row):
    """``{"success", "message", "code", "data"}``; ``code`` is an int (string in old docs)."""

    success: bool | None = None
    message: str | None = None
    code: Int = None
    data: Any = None


class Ticker(_Row):
    pair: str
    pairnormalized: str | None = None
    timestamp: Int = None
    last: Dec = None
    high: Dec = None
    low: Dec = None
    bid: Dec = None
    ask: Dec = None
    open: Dec = None
    volume: Dec = None
    average: Dec = None
    daily: Dec = None
    dailypercent: Dec = None
    numeratorsymbol: str | None = None
    denominatorsymbol: str | None = None

    @property
    def symbol(self) -> str:
        return canonical_symbol(self.pair)


class OrderBook(_Row):
    """``timestamp`` may come as ``1643883463379.0``; levels are ``[price, amount]`` strings."""

    timestamp: Int = None
    bids: list[tuple[Dec, Dec]] = []
    asks: list[tuple[Dec, Dec]] = []

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None


class Trade(_Row):
    pair: str
    date: Int = None
    tid: str
    price: Dec
    amount: Dec
    side: Enum = None


class Candle(BaseModel):
    """One intraday bar; ``time`` is the bar's open (seconds), as the graph API sends it."""

    model_config = ConfigDict(frozen=True)
    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class KlineHistory(_Row):
    """TradingView UDF ``{s, t, o, h, l, c, v}``; parallel arrays truncated to the shortest."""

    s: str
    t: list[Int] = []
    o: list[Dec] = []
    h: list[Dec] = []
    l: list[Dec] = []  # noqa: E741 - the API's name
    c: list[Dec] = []
    v: list[Dec] = []

    def candles(self) -> list[Candle]:
        if self.s.lower() != "ok":
            return []
        n = min(len(self.t), len(self.o), len(self.h), len(self.l), len(self.c), len(self.v))
        out = []
        for i in range(n):
            values = (self.t[i], self.o[i], self.h[i], self.l[i], self.c[i], self.v[i])
            if any(x is None for x in values):
                continue
            out.append(
                Candle(time=self.t[i], open=self.o[i], high=self.h[i], low=self.l[i], close=self.c[i], volume=self.v[i])
            )
        return sorted(out, key=lambda c: c.time)


class Ohlc(_Row):
    """A daily bar of graph-api ``/v1/ohlcs`` (bare array, ``time`` in seconds)."""

    pair: str
    time: Int
    open: Dec = None
    high: Dec = None
    low: Dec = None
    close: Dec = None
    volume: Dec = None
    total: Dec = None
    average: Dec = None


class Balance(_Row):
    asset: str
    assetname: str | None = None
    balance: Dec
    locked: Dec = None
    free: Dec = None


class Order(_Row):
    id: Int
    price: Dec = None
    amount: Dec = None
    quantity: Dec = None
    stopprice: Dec = None
    pairsymbol: str | None = None
    pairsymbolnormalized: str | None = None
    type: Enum = None
    method: Enum = None
    orderclientid: str | None = None
    time: Int = None
    updatetime: Int = None
    status: Enum = None
    leftamount: Dec = None


class OpenOrders(_Row):
    asks: list[Order] = []
    bids: list[Order] = []


class SubmittedOrder(_Row):
    id: Int
    datetime: Int = None
    type: Enum = None
    method: Enum = None
    price: Dec = None
    stopprice: Dec = None
    quantity: Dec = None
    pairsymbol: str | None = None
    neworderclientid: str | None = None


class UserTrade(_Row):
    """A fill of ours; ``id`` can be 64-bit (kept ``int``), ``amount`` is negative for sells."""

    id: Int
    orderid: Int = None
    timestamp: Int = None
    price: Dec = None
    amount: Dec = None
    fee: Dec = None
    tax: Dec = None
    numeratorsymbol: str | None = None
    denominatorsymbol: str | None = None
    ordertype: Enum = None
    orderclientid: str | None = None
    # Not in BTCTurk's documentation: the asset a fee was charged in, when it is not the
    # pair's denominator (the fake exchange sends it to test a non-TRY fee).
    feesymbol: str | None = None


def parse(model: type[BaseModel], payload: object, *, what: str) -> Any:
    """Validate ``payload`` as ``model`` (or a list of it); shape errors → MalformedResponseError."""
    try:
        if isinstance(payload, list):
            return [model.model_validate(row) for row in payload]
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedResponseError(f"{what}: unexpected shape at {where or '<root>'}: {first.get('msg')}") from None
