"""JSON-ready views of the domain objects, and the way back for those a later stage reads.

One generic codec serves every dataclass: :func:`to_payload` walks an object's fields,
:func:`from_payload` builds one back from its type hints. The encoding, by value type:

- ``Decimal``: fixed-point text (``format(v, "f")``: ``1E+2`` is ``"100"``), which
  round-trips to the same value, so a stage that reads its input back from the book
  computes byte-identical results to one that received it in memory;
- ``datetime``: UTC text, ``2026-01-01T00:30:00Z``, with ``.ffffff`` only when there are
  microseconds (an OMS retry time);
- enums: their value; tuples: lists; mappings: dicts (read back sorted by key);
- a dataclass: a dict of its fields, under the field names.

Where a payload is not simply the fields, :data:`SHAPES` says so (omitted, renamed,
records, omitted while default): no class has a converter of its own, so a new field
reaches the book without code here. :func:`dumps` is the one JSON encoder: sorted keys,
no whitespace, so equal payloads are equal bytes.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from types import NoneType, UnionType
from typing import Any, TypeVar

import orjson

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.cycle import CycleResult, ModeDecision
from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.intents import OrderIntent
from btcbot_pipeline.domain.ledger import LedgerMetrics, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolRules, SymbolSnapshot
from btcbot_pipeline.domain.oms import OmsState, SimOrder
from btcbot_pipeline.domain.plan import PortfolioPlan
from btcbot_pipeline.domain.risk import RISK_STATE_WHEN_SET, RiskState
from btcbot_pipeline.domain.universe import UniverseSelection

T = TypeVar("T")
Payload = dict[str, Any]


def dumps(payload: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 as is.

    orjson writes exactly these bytes for the payloads here (strings, ints, bools, nulls,
    lists, str-keyed dicts; money is text) several times faster than the standard encoder,
    which still handles what orjson refuses (ints past 64 bits, non-string keys)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _d(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def decimal_text(value: Decimal) -> str:
    """``format(value, "f")``, the fixed-point text, at a third of its cost.

    ``str`` writes the same text whenever it does not switch to scientific notation (an
    exponent above zero, or more than six zeros after the point: ``1E+2``, ``0E-8``,
    ``1.2E-7``); the special values read the same either way. Only those with an ``E``
    pay for ``format``. A backtest writes about two hundred Decimals a cycle."""
    text = str(value)
    return text if "E" not in text else format(value, "f")


def _ts(value: datetime | None) -> str | None:
    """UTC text, with microseconds only when there are any (an OMS retry time).

    A UTC time (the cycles' own) is written field by field: the same text as
    :func:`utc.exact_text` (``%Y`` is not zero-padded there either) at half its cost;
    any other clock goes through it."""
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        return utc.exact_text(value)
    v = value
    if v.microsecond:
        return f"{v.year}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"
    return f"{v.year}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return utc.parse_exact(value)


# -- where a payload is not simply the fields ----------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """How one dataclass's payload departs from its fields.

    omit: fields left out (kept elsewhere, or not part of the stored view);
    rename: field → payload key;
    records: a field of tuples written as a list of dicts under these keys;
    omit_while_default: fields left out while they equal their default (and read back
    as it when absent);
    iso_times: fields whose datetimes are written by ``isoformat()`` (``+00:00``, not ``Z``).
    """

    omit: frozenset[str] = frozenset()
    rename: Mapping[str, str] = field(default_factory=dict)
    records: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    omit_while_default: frozenset[str] = frozenset()
    iso_times: frozenset[str] = frozenset()


SHAPES: Mapping[type, Shape] = {
    SymbolRules: Shape(omit=frozenset({"out_of_range"})),  # derived from the other rules on load
    SymbolSnapshot: Shape(
        omit=frozenset({"bar_low", "bar_high", "bar_volume"})
    ),  # the fill model's, not the market row's
    MarketSnapshot: Shape(omit=frozenset({"symbols"})),  # one row per symbol, apart from the cycle's
    ModeDecision: Shape(rename={"base": "base_mode", "override": "override_mode", "final": "final_mode"}),
    PortfolioPlan: Shape(omit=frozenset({"mode"})),  # the plan payload carries the whole ModeDecision
    UniverseSelection: Shape(records={"rejected": ("symbol", "reason")}),
    LedgerState: Shape(omit_while_default=frozenset({"oms"})),  # absent while the OMS has never run
    # as the risk state has always been stored; the later inputs' state only while in use
    RiskState: Shape(iso_times=frozenset({"latches"}), omit_while_default=RISK_STATE_WHEN_SET),
    # the live venue's fields: absent from simulated books, so those stay byte-identical
    SimOrder: Shape(omit_while_default=frozenset({"exchange_order_id", "origin"})),
    OmsState: Shape(omit_while_default=frozenset({"cursors", "recent_fill_ids"})),
}
_PLAIN: Shape = Shape()


# -- the codec: one encoder and one decoder per dataclass, written from its fields --
#
# Each is the source of one function, made once per class from its type hints and its
# :class:`Shape`: ``{"qty": _text(o.qty), ...}`` and ``Holding(qty=Decimal(p["qty"]), ...)``,
# what a hand-written converter would say, so the generic codec costs no more than one.

_Compiled = Callable[..., Any]
_ENCODERS: dict[type, _Compiled] = {}
_DECODERS: dict[tuple[type, tuple[str, ...]], _Compiled] = {}
_AS_IS: frozenset[Any] = frozenset({str, int, bool, float, Any, object})


def to_payload(value: Any) -> Any:
    """The JSON-ready view of a dataclass (and of the dataclasses, values and containers it holds)."""
    encode = _ENCODERS.get(type(value))
    return (encode or _encoder(type(value)))(value)


def from_payload(kind: type[T], payload: Mapping[str, Any], **given: Any) -> T:
    """The ``kind`` a payload of :func:`to_payload` came from; the ``given`` fields as they are.

    A field the payload lacks (omitted, or left out while default) takes its default."""
    names = tuple(given)
    decode = _DECODERS.get((kind, names))
    return (decode or _decoder(kind, names))(payload, given)  # type: ignore[no-any-return]


def _optional(hint: Any) -> tuple[Any, bool]:
    """``X`` and whether the hint is ``X | None``."""
    if typing.get_origin(hint) in (UnionType, typing.Union) and NoneType in typing.get_args(hint):
        (inner,) = [a for a in typing.get_args(hint) if a is not NoneType]
        return inner, True
    return hint, False


class _Writer:
    """The source of one class's encoder or decoder, and the names it refers to."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {
            "Decimal": Decimal,
            "_text": decimal_text,
            "_ts": _ts,
            "parse_ts": parse_ts,
            "_iso": datetime.isoformat,
            "_from_iso": datetime.fromisoformat,
        }
        self.depth = 0
        self.iso = False  # the field being written keeps its datetimes in isoformat()

    def ref(self, value: Any) -> str:
        name = f"_r{len(self.names)}"
        self.names[name] = value
        return name

    def var(self) -> str:
        self.depth += 1
        return f"x{self.depth}"

    def out(self, expr: str, hint: Any) -> str:
        """An expression for the payload of ``expr``, a value of type ``hint``."""
        inner, optional = _optional(hint)
        if inner is datetime and not self.iso:
            return f"_ts({expr})"  # None as None
        converted = self._out(expr, inner)
        if converted == expr or not optional:
            return converted
        return f"(None if {expr} is None else {converted})"

    def _out(self, expr: str, hint: Any) -> str:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint in _AS_IS:
            return expr
        if hint is Decimal:
            return f"_text({expr})"
        if hint is datetime:
            return f"_iso({expr})"
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            x = self.var()
            item = self.out(x, args[0])
            return f"list({expr})" if item == x else f"[{item} for {x} in {expr}]"
        if origin in (Mapping, dict):
            x = self.var()
            value = self.out(x, args[1])
            return f"dict({expr})" if value == x else f"{{k: {value} for k, {x} in {expr}.items()}}"
        if isinstance(hint, type) and issubclass(hint, Enum):
            return f"{expr}._value_"  # what ``.value`` returns, without its descriptor's call
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return f"{self.ref(_encoder(hint))}({expr})"
        raise TypeError(f"no payload for a {hint!r}")

    def back(self, expr: str, hint: Any) -> str:
        """An expression for the value of type ``hint`` whose payload is ``expr``."""
        inner, optional = _optional(hint)
        converted = self._back(expr, inner)
        if converted == expr or not optional:
            return converted
        return f"(None if {expr} is None else {converted})"

    def _back(self, expr: str, hint: Any) -> str:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint in _AS_IS:
            return expr
        if hint is Decimal:
            return f"Decimal({expr})"
        if hint is datetime:
            return f"{'_from_iso' if self.iso else 'parse_ts'}({expr})"
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            x = self.var()
            return f"tuple({self.back(x, args[0])} for {x} in {expr})"
        if origin is tuple:  # a fixed tuple, e.g. a row of records
            return f"({''.join(self.back(f'{expr}[{i}]', a) + ', ' for i, a in enumerate(args))})"
        if origin in (Mapping, dict):  # read back in key order, whatever order the payload had
            x = self.var()
            value = self.back(x, args[1])
            return (
                f"dict(sorted({expr}.items()))"
                if value == x
                else f"{{k: {value} for k, {x} in sorted({expr}.items())}}"
            )
        if isinstance(hint, type) and issubclass(hint, Enum):
            return f"{self.ref(hint)}({expr})"
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return f"{self.ref(_decoder(hint))}({expr}, _NONE)"
        raise TypeError(f"no way back from a payload to {hint!r}")

    def function(self, source: list[str], name: str) -> _Compiled:
        scope = dict(self.names, _NONE={})
        exec("\n".join(source), scope)  # noqa: S102 - our own source, written from the class's fields
        return scope[name]  # type: ignore[no-any-return]


def _fields(kind: type) -> list[tuple[dataclasses.Field[Any], str, Any]]:
    """The fields a payload holds: each with its key and its resolved type hint."""
    shape, hints = SHAPES.get(kind, _PLAIN), typing.get_type_hints(kind)
    return [
        (f, shape.rename.get(f.name, f.name), hints[f.name])
        for f in dataclasses.fields(kind)
        if f.name not in shape.omit
    ]


def _default(f: dataclasses.Field[Any]) -> Any:
    return f.default if f.default_factory is dataclasses.MISSING else f.default_factory()


def _encoder(kind: type) -> _Compiled:
    if kind in _ENCODERS:
        return _ENCODERS[kind]
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"no payload for a {kind.__name__}: not a dataclass")
    shape, w = SHAPES.get(kind, _PLAIN), _Writer()
    always: list[str] = []
    unless_default: list[str] = []
    for f, key, hint in _fields(kind):
        records, w.iso = shape.records.get(f.name), f.name in shape.iso_times
        if records:  # a tuple of tuples: one dict per tuple
            (row,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
            x = w.var()
            cells = ", ".join(
                f"{k!r}: {w.out(f'{x}[{i}]', a)}" for i, (k, a) in enumerate(zip(records, typing.get_args(row)))
            )
            expr = f"[{{{cells}}} for {x} in o.{f.name}]"
        else:
            expr = w.out(f"o.{f.name}", hint)
        if f.name in shape.omit_while_default:
            unless_default.append(f"    if o.{f.name} != {w.ref(_default(f))}:\n        out[{key!r}] = {expr}")
        else:
            always.append(f"{key!r}: {expr}")
    source = ["def encode(o):", f"    out = {{{', '.join(always)}}}", *unless_default, "    return out"]
    encode = _ENCODERS[kind] = w.function(source, "encode")
    return encode


def _decoder(kind: type, given: tuple[str, ...] = ()) -> _Compiled:
    """``decode(p, given)``: the fields named in ``given`` are passed as they are."""
    if (kind, given) in _DECODERS:
        return _DECODERS[kind, given]
    shape, w = SHAPES.get(kind, _PLAIN), _Writer()
    args: list[str] = []
    for f, key, hint in _fields(kind):
        if f.name in given:
            continue
        records, w.iso = shape.records.get(f.name), f.name in shape.iso_times
        value = w.back(f"[[r[k] for k in {records!r}] for r in p[{key!r}]]" if records else f"p[{key!r}]", hint)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            args.append(f"{f.name}={value}")
        elif f.default_factory is dataclasses.MISSING:  # absent: the default
            args.append(f"{f.name}={value} if {key!r} in p else {w.ref(f.default)}")
        else:
            args.append(f"{f.name}={value} if {key!r} in p else {w.ref(f.default_factory)}()")
    source = ["def decode(p, given):", f"    return {w.ref(kind)}({', '.join([*args, '**given'])})"]
    decode = _DECODERS[kind, given] = w.function(source, "decode")
    return decode


# -- the payloads the stages store ---------------------------------------------------


def symbol_payload(s: SymbolSnapshot) -> Payload:
    return to_payload(s)


def symbol_from_payload(p: Mapping[str, Any]) -> SymbolSnapshot:
    return from_payload(SymbolSnapshot, p)


def market_cycle_payload(snapshot: MarketSnapshot) -> Payload:
    """The snapshot-level fields (one per cycle, even when no symbol could be read)."""
    return to_payload(snapshot)


def snapshot_from_payloads(
    cycle_ts: datetime, symbols: list[dict[str, Any]], cycle: dict[str, Any] | None = None
) -> MarketSnapshot:
    parsed = sorted((symbol_from_payload(p) for p in symbols), key=lambda s: s.symbol)
    return from_payload(MarketSnapshot, cycle or {}, cycle_ts=cycle_ts, symbols=tuple(parsed))


def universe_payload(selection: UniverseSelection) -> Payload:
    return to_payload(selection)


def plan_payload(result: CycleResult) -> Payload:
    """The plan with the cycle's id, its whole mode decision and its rules' statistics."""
    return {
        **to_payload(result.plan),
        "cycle_id": result.cycle_id,
        "mode": to_payload(result.mode),
        "rules_stats": result.rules_stats,
    }


def intent_payload(i: OrderIntent) -> Payload:
    return to_payload(i)


def fill_payload(f: SimulatedFill) -> Payload:
    return to_payload(f)


def metrics_payload(m: LedgerMetrics) -> Payload:
    return to_payload(m)


def order_payload(o: SimOrder) -> Payload:
    return to_payload(o)


def order_from_payload(p: Mapping[str, Any]) -> SimOrder:
    return from_payload(SimOrder, p)


def oms_payload(oms: OmsState) -> Payload:
    return to_payload(oms)


def oms_from_payload(p: Mapping[str, Any] | None) -> OmsState:
    return OmsState() if p is None else from_payload(OmsState, p)


def ledger_state_payload(state: LedgerState) -> Payload:
    return to_payload(state)


def ledger_state_from_payload(p: Mapping[str, Any]) -> LedgerState:
    return from_payload(LedgerState, p)


def risk_state_payload(state: RiskState) -> Payload:
    return to_payload(state)


def risk_state_from_payload(p: Mapping[str, Any]) -> RiskState:
    return from_payload(RiskState, p)
