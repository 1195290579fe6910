"""What a cycle knows about the market at its cycle time.

A :class:`MarketSnapshot` holds one :class:`SymbolSnapshot` per candidate symbol, sorted by
symbol. Every number is a ``Decimal`` or ``None`` when the source had no value; a symbol
that cannot be traded this cycle carries a ``skip_reason`` and stays in the snapshot so
the trace can say why it was left out.

Contract: :func:`finalize_snapshot` is the one place a snapshot's symbols get their skip
reason, whatever the source; :func:`bound_snapshot` applies the ranges of
:mod:`~btcbot_pipeline.domain.bounds` to one symbol (its rules too, via
:func:`rules_out_of_range`), dropping what is out of range so the row can still be written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Context, Decimal, getcontext
from enum import StrEnum

from btcbot_pipeline.domain.bounds import (
    CHANGE_PCT,
    MAX_ASK_OVER_BID,
    PRICE,
    QUOTE_VOLUME,
    min_notional_in_range,
    out_of_range_reason,
    scale_in_range,
    step_in_range,
)
from btcbot_pipeline.domain.money import BPS, ZERO
from btcbot_pipeline.domain.vocabulary import INVALID_SYMBOL_NAME, is_pair_name


class RulesStatus(StrEnum):
    """How usable a symbol's exchange rules are (seed PR-4 vocabulary)."""

    OK = "ok"  # tick, lot and min notional from exchange metadata
    FALLBACK = "fallback"  # metadata missing or invalid, settings' fallback values used
    MISSING = "missing"  # no metadata for the symbol
    INVALID = "invalid"  # metadata present but unusable (non-positive tick, bad status…)


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Exchange rules of one pair as published (``None`` = not published).

    ``price_scale`` / ``quantity_scale`` are BTCTurk's ``denominatorScale`` /
    ``numeratorScale``; a valid price is a multiple of ``tick_size`` *and* has at most
    ``price_scale`` decimals, a valid quantity at most ``quantity_scale`` decimals (and a
    multiple of ``lot_size`` when one is given).
    """

    symbol: str
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    min_notional_try: Decimal | None = None
    price_scale: int | None = None
    quantity_scale: int | None = None
    status: str = "TRADING"
    # The first published field outside :mod:`~btcbot_pipeline.domain.bounds` (its value
    # dropped to ``None`` by the parser), e.g. ``quantity_scale`` for a numeratorScale of 60.
    out_of_range: str | None = None


class _Derived:
    """Where a :class:`SymbolSnapshot` keeps its mark and spread once read: the universe,
    the fold and the market rows each read them, and a replay backtest has one snapshot per
    symbol and cycle. Slots of a base class, not fields: no payload, equality, ``repr`` or
    ``replace`` sees them (a copy or a replaced snapshot computes them again when read).

    Each value is kept with the decimal context it was computed in and reused only in that
    same context object: the digits of a quotient depend on the context, so a read under
    another one (``localcontext``, another thread) computes as :func:`mid_of` /
    :func:`spread_bps_of` do. A context's settings changed in place after a read (rather
    than a new context entered) would not be noticed; nothing here does that."""

    __slots__ = ("_derived",)  # (context, mark, spread_bps)


@dataclass(frozen=True, slots=True)
class SymbolSnapshot(_Derived):
    """One symbol at one cycle time, as seen by the data source.

    Attributes:
        symbol: canonical pair name, e.g. ``BTCTRY``.
        data_ts: time of the newest row used (≤ the cycle time), ``None`` without data.
        staleness_s: cycle time minus ``data_ts`` in whole seconds.
        best_bid / best_ask: top of book in TRY.
        last / high_24h / low_24h: ticker prices in TRY.
        quote_volume_try: 24 h traded value in TRY.
        daily_change_pct: 24 h change in percent (2.24 = +2.24 %).
        closes: recent candle closes, oldest first, at most the volatility lookback + 1.
        rules: exchange rules, ``None`` when the exchange published none for the pair.
        skip_reason: why the symbol cannot be traded this cycle, ``None`` if it can.
        bar_low / bar_high / bar_volume: the candles of the bar ending at the cycle.
    """

    symbol: str
    data_ts: datetime | None = None
    staleness_s: int | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    last: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None
    quote_volume_try: Decimal | None = None
    daily_change_pct: Decimal | None = None
    closes: tuple[Decimal, ...] = ()
    rules: SymbolRules | None = None
    skip_reason: str | None = None
    # The trades of the bar since the previous cycle, (previous cycle, cycle], when the
    # source was asked for them (the limit fill model): lowest and highest price, base volume.
    bar_low: Decimal | None = None
    bar_high: Decimal | None = None
    bar_volume: Decimal | None = None

    @property
    def tradable(self) -> bool:
        return self.skip_reason is None

    @property
    def mark(self) -> Decimal | None:
        """Mid price, the Stage 7 mark: ``(bid + ask) / 2`` when both are positive
        (:func:`mid_of`, kept once read)."""
        return _kept(self, 1)

    @property
    def spread_bps(self) -> Decimal | None:
        """``(ask - bid) / mid * 10_000``; ``None`` without a usable two-sided book
        (:func:`spread_bps_of`, kept once read)."""
        return _kept(self, 2)


def _kept(s: SymbolSnapshot, index: int) -> Decimal | None:
    """The mark (``index`` 1) or spread (2) kept on ``s`` under the current decimal context,
    computed and kept first if it was not read yet or was read under another context."""
    context = getcontext()
    try:
        kept = s._derived
        if kept[0] is context:
            return kept[index]
    except AttributeError:  # not read yet, built by SymbolSnapshot(), replace() or a copy
        pass
    return _derive(s, context)[index]


def _derive(s: SymbolSnapshot, context: Context) -> tuple[Context, Decimal | None, Decimal | None]:
    """``s``'s mark and spread as :func:`mid_of` and :func:`spread_bps_of` compute them in
    ``context`` (the current one), kept on ``s``. Both at once: every stage that reads one
    of a symbol's values, or the market rows after it, reads the other too."""
    bid, ask = s.best_bid, s.best_ask
    if bid is None or ask is None or bid <= ZERO or ask <= ZERO:
        kept: tuple[Context, Decimal | None, Decimal | None] = (context, None, None)
    else:
        mark = (bid + ask) / 2
        kept = (context, mark, (ask - bid) / mark * BPS)
    _keep(s, kept)  # frozen: set through the slot's descriptor, one tuple (a reader sees a whole one)
    return kept


_keep = _Derived._derived.__set__  # type: ignore[attr-defined]
_UNREAD = (None, None, None)  # no context is None: the first read computes, without an AttributeError


# SymbolSnapshot(...) sets each field through object.__setattr__, as a frozen dataclass
# must; a replay backtest builds one per symbol and cycle, where that was a tenth of the
# snapshot stage. symbol_snapshot sets the slots through their descriptors instead, half
# the cost. The class has no __post_init__ or defaults factory, so nothing is skipped.
_SLOTS = ("symbol", "data_ts", "staleness_s", "best_bid", "best_ask", "last", "high_24h", "low_24h",
          "quote_volume_try", "daily_change_pct", "closes", "rules", "skip_reason", "bar_low", "bar_high",
          "bar_volume")  # fmt: skip
if _SLOTS != tuple(f.name for f in fields(SymbolSnapshot)):  # pragma: no cover - a field added or moved
    raise AssertionError("symbol_snapshot must list SymbolSnapshot's fields in order")
_new = object.__new__
(
    _set_symbol, _set_data_ts, _set_staleness_s, _set_best_bid, _set_best_ask, _set_last, _set_high_24h,
    _set_low_24h, _set_quote_volume_try, _set_daily_change_pct, _set_closes, _set_rules, _set_skip_reason,
    _set_bar_low, _set_bar_high, _set_bar_volume,
) = (getattr(SymbolSnapshot, name).__set__ for name in _SLOTS)  # fmt: skip


def symbol_snapshot(
    symbol: str,
    data_ts: datetime | None,
    staleness_s: int | None,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
    last: Decimal | None,
    high_24h: Decimal | None,
    low_24h: Decimal | None,
    quote_volume_try: Decimal | None,
    daily_change_pct: Decimal | None,
    closes: tuple[Decimal, ...],
    rules: SymbolRules | None,
    skip_reason: str | None,
    bar_low: Decimal | None,
    bar_high: Decimal | None,
    bar_volume: Decimal | None,
) -> SymbolSnapshot:
    """``SymbolSnapshot(...)`` with every field given, in order: the same object, built
    faster (for the sources' per-cycle loops)."""
    s = _new(SymbolSnapshot)
    _set_symbol(s, symbol)
    _set_data_ts(s, data_ts)
    _set_staleness_s(s, staleness_s)
    _set_best_bid(s, best_bid)
    _set_best_ask(s, best_ask)
    _set_last(s, last)
    _set_high_24h(s, high_24h)
    _set_low_24h(s, low_24h)
    _set_quote_volume_try(s, quote_volume_try)
    _set_daily_change_pct(s, daily_change_pct)
    _set_closes(s, closes)
    _set_rules(s, rules)
    _set_skip_reason(s, skip_reason)
    _set_bar_low(s, bar_low)
    _set_bar_high(s, bar_high)
    _set_bar_volume(s, bar_volume)
    _keep(s, _UNREAD)
    return s


def mid_of(bid: Decimal | None, ask: Decimal | None) -> Decimal | None:
    """:attr:`SymbolSnapshot.mark` of a book (a plain function for the per-cycle loops)."""
    if bid is None or ask is None or bid <= ZERO or ask <= ZERO:
        return None
    return (bid + ask) / 2


def spread_bps_of(bid: Decimal | None, ask: Decimal | None) -> Decimal | None:
    """:attr:`SymbolSnapshot.spread_bps` of a book."""
    mark = mid_of(bid, ask)
    if mark is None:
        return None
    return (ask - bid) / mark * BPS  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Every candidate symbol at ``cycle_ts`` (UTC), sorted by symbol, and where it came from."""

    cycle_ts: datetime
    symbols: tuple[SymbolSnapshot, ...] = ()
    source: str = "replay"
    # Why the whole snapshot cannot be trusted (e.g. ``exchange_unreachable``); a degraded
    # snapshot makes the cycle OBSERVE_ONLY with this reason in its mode payload.
    degraded_reason: str | None = None
    # When the source was read (live sources); ``None`` for replay, where it is the cycle time.
    fetched_at: datetime | None = None

    def by_symbol(self) -> dict[str, SymbolSnapshot]:
        return {s.symbol: s for s in self.symbols}

    def marks(self) -> dict[str, Decimal]:
        """Mark prices of the symbols that have one."""
        out: dict[str, Decimal] = {}
        for s in self.symbols:
            mark = s.mark
            if mark is not None:
                out[s.symbol] = mark
        return out


def assess_symbol(snapshot: SymbolSnapshot, *, max_data_age_s: int) -> str | None:
    """Why ``snapshot`` cannot be traded this cycle, or ``None`` if it can.

    Checks, in order: any data at all, staleness against ``max_data_age_s``, a two-sided
    positive book, a book that is not crossed, a spread narrow enough for the mid to be a
    price (ask at most :data:`~btcbot_pipeline.domain.bounds.MAX_ASK_OVER_BID` × bid).
    """
    return assess_fields(
        snapshot.data_ts, snapshot.staleness_s, snapshot.best_bid, snapshot.best_ask, max_data_age_s=max_data_age_s
    )


def assess_fields(
    data_ts: datetime | None,
    staleness_s: int | None,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
    *,
    max_data_age_s: int,
) -> str | None:
    """:func:`assess_symbol` on the fields it reads, for a source that assesses a symbol
    before building its snapshot (one construction instead of two)."""
    if data_ts is None:
        return "no_data"
    if staleness_s is not None and staleness_s > max_data_age_s:
        return "stale_data"
    if best_bid is None or best_ask is None:
        return "missing_book"
    if best_bid <= ZERO or best_ask <= ZERO:
        return "non_positive_price"
    if best_bid > best_ask:
        return "crossed_book"
    if best_ask > best_bid * MAX_ASK_OVER_BID:
        return "implausible_spread"
    return None


def finalize_snapshot(snapshot: MarketSnapshot, *, max_data_age_s: int) -> MarketSnapshot:
    """Give every symbol without a skip reason the one :func:`assess_symbol` finds.

    Whatever the source (replay files or the live API), the snapshot stage calls this, so
    a crossed, empty or stale book is excluded the same way everywhere; so is a symbol
    whose name is not a pair name (``invalid_data:invalid_symbol_name``) or with a value
    outside :mod:`~btcbot_pipeline.domain.bounds` (``invalid_data:out_of_range:<field>``,
    the value dropped so its row can be written).
    """
    symbols = []
    for s in sorted(snapshot.symbols, key=lambda s: s.symbol):
        s = bound_snapshot(s)
        if s.skip_reason is None and not is_pair_name(s.symbol):
            s = replace(s, skip_reason=f"invalid_data:{INVALID_SYMBOL_NAME}")
        elif s.skip_reason is None:
            s = replace(s, skip_reason=assess_symbol(s, max_data_age_s=max_data_age_s))
        symbols.append(s)
    return replace(snapshot, symbols=tuple(symbols))


def rules_out_of_range(rules: SymbolRules) -> str | None:
    """The first field of ``rules`` the book cannot store, or ``None``."""
    if rules.out_of_range is not None:
        return rules.out_of_range  # refused by the parser, the value dropped
    for name in ("tick_size", "lot_size"):
        value = getattr(rules, name)
        if value is not None and not step_in_range(value):
            return name
    if rules.min_notional_try is not None and not min_notional_in_range(rules.min_notional_try):
        return "min_notional_try"
    for name in ("price_scale", "quantity_scale"):
        value = getattr(rules, name)
        if value is not None and not scale_in_range(value):
            return name
    return None


_PRICE_FIELDS = ("best_bid", "best_ask", "last", "high_24h", "low_24h")
_LOW, _HIGH = PRICE.low, PRICE.high


def _price_out(value: Decimal) -> bool:
    """A price the book cannot hold. Zero and small negative prices are not range errors:
    the snapshot stage excludes them as ``non_positive_price``."""
    if not value.is_finite():
        return True
    if value > 0:
        return not PRICE.contains(value)
    return value < -_HIGH  # type: ignore[operator]


def snapshot_out_of_range(s: SymbolSnapshot) -> str | None:
    """The first field of ``s`` outside its bound (``closes`` for any close), or ``None``."""
    for name in _PRICE_FIELDS:
        value = getattr(s, name)
        if value is not None and _price_out(value):
            return name
    if s.quote_volume_try is not None and not QUOTE_VOLUME.contains(s.quote_volume_try):
        return "quote_volume_try"
    if s.daily_change_pct is not None and not CHANGE_PCT.contains(s.daily_change_pct):
        return "daily_change_pct"
    closes = s.closes
    if closes and not (min(closes) >= _LOW and max(closes) <= _HIGH) and any(map(_price_out, closes)):  # type: ignore[operator]
        return "closes"
    if s.rules is not None:
        return rules_out_of_range(s.rules)
    return None


def bound_snapshot(s: SymbolSnapshot) -> SymbolSnapshot:
    """``s`` unchanged when every value is within bounds; else excluded with
    ``invalid_data:out_of_range:<first field>`` and every out-of-range value dropped, so
    the row that records why can still be written."""
    field = snapshot_out_of_range(s)
    if field is None:
        return s
    changes: dict[str, object] = {"skip_reason": out_of_range_reason(field)}
    for name in _PRICE_FIELDS:
        value = getattr(s, name)
        if value is not None and _price_out(value):
            changes[name] = None
    if s.quote_volume_try is not None and not QUOTE_VOLUME.contains(s.quote_volume_try):
        changes["quote_volume_try"] = None
    if s.daily_change_pct is not None and not CHANGE_PCT.contains(s.daily_change_pct):
        changes["daily_change_pct"] = None
    if s.closes and any(map(_price_out, s.closes)):
        changes["closes"] = ()
    if s.rules is not None and rules_out_of_range(s.rules) is not None:
        changes["rules"] = None
    return replace(s, **changes)  # type: ignore[arg-type]
