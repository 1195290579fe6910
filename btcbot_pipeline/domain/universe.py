"""Universe Selection v1 (seed Stage 7 PR-2).

Three factors are computed for every eligible symbol of a :class:`MarketSnapshot`:

- liquidity: 24 h quote volume in TRY, higher is better;
- spread: top-of-book spread in bps, lower is better;
- volatility: population standard deviation of simple close-to-close returns over
  ``STAGE7_VOL_LOOKBACK`` candles, lower is better; without enough closes it falls back
  to ``(high - low) / last`` from the ticker, then to ``|daily change %| / 100``.

Each factor is min-max normalised over the eligible symbols to ``[0, 1]`` (inverted for
spread and volatility; ``1`` when all values are equal). A symbol missing a factor gets
``-1`` for that component. ``total = Σ weight × component`` with weights normalised to sum
to one. The universe is the first ``STAGE7_UNIVERSE_SIZE`` symbols ordered by total
descending, liquidity descending, then symbol ascending.

:func:`select_universe` selects one snapshot, :func:`select_universes` a range of them (the
screen resolved once; returns of closes already seen reused, see :func:`_close_volatility`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal, getcontext
from itertools import repeat
from operator import attrgetter, is_, mul, sub, truediv
from typing import Iterable

from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot
from btcbot_pipeline.domain.money import ONE, ZERO
from btcbot_pipeline.domain.params import ScoreWeights, UniverseParams
from btcbot_pipeline.domain.vocabulary import canonical_symbol

MISSING_SCORE = Decimal(-1)
# A volatility (standard deviation of simple returns) above this is no market's: 1e6 is a
# return of 100,000,000 % a candle. Such a symbol is rejected ``out_of_range:volatility``
# (its value would not fit the book's DECIMAL(38, 18) column either).
MAX_VOLATILITY = Decimal("1E6")
_SCORE_GRID = Decimal("1E-12")  # scores are shown and compared at 12 decimals


@dataclass(frozen=True, slots=True)
class ScoredSymbol:
    """One eligible symbol with its raw metrics and component scores."""

    symbol: str
    quote_volume_try: Decimal | None
    spread_bps: Decimal | None
    volatility: Decimal | None
    liquidity_score: Decimal
    spread_score: Decimal
    volatility_score: Decimal
    total_score: Decimal


# ScoredSymbol(...) sets each field through object.__setattr__, as a frozen dataclass must;
# a backtest scores every symbol of every cycle, so _select sets the slots through their
# descriptors instead (half the cost; the class has no __post_init__ to skip).
_SCORED_SLOTS = (
    "symbol", "quote_volume_try", "spread_bps", "volatility",
    "liquidity_score", "spread_score", "volatility_score", "total_score",
)  # fmt: skip
if _SCORED_SLOTS != tuple(f.name for f in fields(ScoredSymbol)):  # pragma: no cover - a field added or moved
    raise AssertionError("_scored must list ScoredSymbol's fields in order")
(
    _set_symbol, _set_volume, _set_spread, _set_volatility,
    _set_liquidity_score, _set_spread_score, _set_volatility_score, _set_total_score,
) = (getattr(ScoredSymbol, name).__set__ for name in _SCORED_SLOTS)  # fmt: skip
_new = object.__new__


def _scored(
    symbol: str,
    quote_volume_try: Decimal | None,
    spread_bps: Decimal | None,
    volatility: Decimal | None,
    liquidity_score: Decimal,
    spread_score: Decimal,
    volatility_score: Decimal,
    total_score: Decimal,
) -> ScoredSymbol:
    """``ScoredSymbol(...)`` with every field given, in order: the same object, built faster."""
    scored = _new(ScoredSymbol)
    _set_symbol(scored, symbol)
    _set_volume(scored, quote_volume_try)
    _set_spread(scored, spread_bps)
    _set_volatility(scored, volatility)
    _set_liquidity_score(scored, liquidity_score)
    _set_spread_score(scored, spread_score)
    _set_volatility_score(scored, volatility_score)
    _set_total_score(scored, total_score)
    return scored


@dataclass(frozen=True, slots=True)
class UniverseSelection:
    """The ranked eligible symbols, the selected head, and why the others were left out."""

    cycle_ts: datetime
    selected: tuple[str, ...]
    ranked: tuple[ScoredSymbol, ...]
    rejected: tuple[tuple[str, str], ...]


def volatility(snapshot: SymbolSnapshot, lookback: int) -> Decimal | None:
    """Volatility metric of one symbol (see module docstring), ``None`` when unknown."""
    return _volatility(snapshot, lookback, None)


# symbol → the decimal context, the closes last seen, their returns, squared returns and
# volatility. A range of cycles keeps one; select_universe shares a module-level one, so a
# caller selecting cycle by cycle from one dataset's snapshots reuses as much.
_ReturnsMemo = dict[str, tuple[tuple[object, ...], tuple[Decimal, ...], list[Decimal], list[Decimal], Decimal]]
_SHARED_RETURNS: _ReturnsMemo = {}
_SHARED_LIMIT = 4096  # symbols; cleared beyond, as a bound, not an eviction policy


def _context_key() -> tuple[object, ...]:
    """What, besides the closes, decides the returns' digits: reuse only under the same."""
    context = getcontext()
    return context.prec, context.rounding, context.Emin, context.Emax, context.clamp


def _volatility(
    snapshot: SymbolSnapshot, lookback: int, memo: _ReturnsMemo | None, context: tuple[object, ...] = ()
) -> Decimal | None:
    closes = snapshot.closes[-(lookback + 1) :]
    if len(closes) >= 3:
        result = _close_volatility(snapshot.symbol, closes, memo, context)
        if result is not None:
            return result
    high, low, last = snapshot.high_24h, snapshot.low_24h, snapshot.last
    if high is not None and low is not None and last is not None and last > ZERO and high >= low:
        return (high - low) / last
    if snapshot.daily_change_pct is not None:
        return abs(snapshot.daily_change_pct) / 100
    return None


def _close_volatility(
    symbol: str, closes: tuple[Decimal, ...], memo: _ReturnsMemo | None, context: tuple[object, ...]
) -> Decimal | None:
    """Population standard deviation of the simple returns ``(c[i] - c[i-1]) / c[i-1]``,
    ``None`` if a close is not positive.

    With a ``memo``, what the previous cycle computed from the same closes is reused: a
    five-minute cycle over one-minute candles shares 15 of its 20 returns with the cycle
    before, one over hourly candles all of them. Reuse needs the very same Decimal objects
    (``is``, not ``==``: equal values written differently, ``1.0`` / ``1.00``, could give
    results that print differently) and the same decimal ``context``. The sums are always
    redone: each addition rounds to the context, so a sliding sum would round differently.
    """
    start = 0
    returns: list[Decimal] = []
    squares: list[Decimal] = []
    seen = memo.get(symbol) if memo is not None else None
    if seen is not None and seen[0] == context:
        _, seen_closes, seen_returns, seen_squares, seen_volatility = seen
        shift = _shift(seen_closes, closes)
        if shift == 0:
            return seen_volatility
        if shift is not None:
            returns, squares = seen_returns[shift:], seen_squares[shift:]
            start = len(closes) - shift - 1  # closes[start] is the last close seen before
    if min(closes[start:]) <= ZERO:  # the closes seen before were all positive
        return None
    if start == len(closes) - 2:  # the usual step: one new close, one new return
        before = closes[start]
        new_return = (closes[-1] - before) / before
        returns.append(new_return)
        squares.append(new_return * new_return)
    else:
        before_all = closes[start:-1]
        new = list(map(truediv, map(sub, closes[start + 1 :], before_all), before_all))
        returns += new
        squares += map(mul, new, new)
    # sum() adds left to right from ZERO: the same roundings as a running total.
    n = len(returns)
    mean = sum(returns, ZERO) / n
    variance = sum(squares, ZERO) / n - mean * mean
    result = variance.sqrt() if variance > ZERO else ZERO
    if memo is not None:
        memo[symbol] = (context, closes, returns, squares, result)
    return result


def _shift(seen: tuple[Decimal, ...], closes: tuple[Decimal, ...]) -> int | None:
    """``k`` such that ``closes`` starts with the very objects ``seen[k:]`` (``0``: the same
    closes again), or None."""
    if closes is seen:
        return 0
    if len(seen) != len(closes):
        return None
    first = closes[0]
    if seen[1] is first:  # the usual step: one candle on
        shift: int | None = 1
    else:
        # Looked up by identity: an earlier close of equal value (a price that did not
        # move) is another object, and would hide the one to reuse from.
        shift = next((k for k, close in enumerate(seen) if close is first), None)
        if shift is None:
            return None
    return shift if all(map(is_, seen[shift:], closes)) else None


@dataclass(frozen=True, slots=True)
class _Screen:
    """:class:`UniverseParams` resolved once for many snapshots."""

    params: UniverseParams
    quote: str
    whitelist: frozenset[str]
    blacklist: frozenset[str]
    weights: ScoreWeights
    # symbol → why its name alone rules it out (None: it does not), filled as symbols are met
    names: dict[str, str | None] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, params: UniverseParams) -> _Screen:
        return cls(
            params=params,
            quote=params.quote_ccy.upper(),
            whitelist=frozenset(canonical_symbol(s) for s in params.whitelist),
            blacklist=frozenset(canonical_symbol(s) for s in params.blacklist),
            weights=params.weights.normalised(),
        )


def _eligibility(snapshot: SymbolSnapshot, screen: _Screen) -> str | None:
    symbol = snapshot.symbol
    names = screen.names
    reason = names[symbol] if symbol in names else names.setdefault(symbol, _name_reason(symbol, screen))
    if reason is not None:
        return reason
    if snapshot.skip_reason is not None:
        return snapshot.skip_reason
    minimum = screen.params.min_quote_volume_try
    if minimum > ZERO and (snapshot.quote_volume_try is None or snapshot.quote_volume_try < minimum):
        return "min_quote_volume"
    return None


def _name_reason(symbol: str, screen: _Screen) -> str | None:
    """Why ``symbol`` is not eligible whatever its market (quote currency, lists), or None."""
    quote = screen.quote
    if not symbol.endswith(quote) or len(symbol) <= len(quote):
        return f"quote_ccy_not_{quote}"
    if screen.whitelist and symbol not in screen.whitelist:
        return "not_whitelisted"
    if symbol in screen.blacklist:
        return "blacklisted"
    return None


def _normalise(values: list[Decimal | None], *, higher_is_better: bool) -> list[Decimal]:
    present = [v for v in values if v is not None]
    if not present:
        return [MISSING_SCORE] * len(values)
    low, high = min(present), max(present)
    width = high - low
    if width == ZERO:
        return [MISSING_SCORE if v is None else ONE for v in values]
    if len(present) < len(values):
        return [
            MISSING_SCORE
            if v is None
            else ((v - low) / width if higher_is_better else (high - v) / width).quantize(_SCORE_GRID)
            for v in values
        ]
    # Every value present (the usual case): the same arithmetic in C-level loops. The
    # context's quantize is x.quantize(grid) under that context, without keyword parsing.
    gaps = map(sub, present, repeat(low)) if higher_is_better else map(sub, repeat(high), present)
    return list(map(getcontext().quantize, map(truediv, gaps, repeat(width)), repeat(_SCORE_GRID)))


def select_universe(snapshot: MarketSnapshot, params: UniverseParams) -> UniverseSelection:
    """Rank the eligible symbols of ``snapshot`` and keep the first ``params.size``."""
    if len(_SHARED_RETURNS) > _SHARED_LIMIT:
        _SHARED_RETURNS.clear()
    return _select(snapshot, _Screen.of(params), _SHARED_RETURNS)


def select_universes(snapshots: Iterable[MarketSnapshot], params: UniverseParams) -> list[UniverseSelection]:
    """:func:`select_universe` for every snapshot of a range, in order.

    Equal to selecting one snapshot at a time; faster because the screen is resolved once
    and the range keeps its own memo of returns. Pass the snapshots in time order: any
    order gives the same selections, time order the most reuse.
    """
    screen = _Screen.of(params)
    memo: _ReturnsMemo = {}
    return [_select(snapshot, screen, memo) for snapshot in snapshots]


def _select(snapshot: MarketSnapshot, screen: _Screen, memo: _ReturnsMemo | None) -> UniverseSelection:
    params = screen.params
    eligible: list[SymbolSnapshot] = []
    spreads: list[Decimal] = []
    vols: list[Decimal | None] = []
    rejected: list[tuple[str, str]] = []
    max_spread, lookback, context = params.max_spread_bps, params.vol_lookback, _context_key()
    out_of_range = False
    for symbol_snapshot in snapshot.symbols:
        reason = _eligibility(symbol_snapshot, screen)
        if reason is None:
            spread = symbol_snapshot.spread_bps  # kept on the snapshot: the market rows read it again
            if spread is None or spread > max_spread:
                reason = "max_spread"
            else:
                eligible.append(symbol_snapshot)
                spreads.append(spread)
                vol = _volatility(symbol_snapshot, lookback, memo, context)
                vols.append(vol)
                if vol is not None and vol > MAX_VOLATILITY:
                    out_of_range = True
                continue
        rejected.append((symbol_snapshot.symbol, reason))
    if out_of_range:
        # Closes that jump by a factor of 1e12 within the lookback (each in bounds) give a
        # volatility the book cannot store: not a market, rejected with its reason.
        keep = [i for i, v in enumerate(vols) if v is None or v <= MAX_VOLATILITY]
        rejected += [(eligible[i].symbol, "out_of_range:volatility") for i in range(len(vols)) if i not in keep]
        eligible, spreads, vols = [eligible[i] for i in keep], [spreads[i] for i in keep], [vols[i] for i in keep]
    volumes = [s.quote_volume_try for s in eligible]
    liquidity_scores = _normalise(volumes, higher_is_better=True)
    spread_scores = _normalise(spreads, higher_is_better=False)  # type: ignore[arg-type]
    volatility_scores = _normalise(vols, higher_is_better=False)
    w_liquidity, w_spread, w_volatility = screen.weights.liquidity, screen.weights.spread, screen.weights.volatility
    quantize = getcontext().quantize
    ranked = [
        _scored(
            s.symbol,
            volume,
            spread,
            vol,
            liquidity,
            spread_score,
            vol_score,
            quantize(w_liquidity * liquidity + w_spread * spread_score + w_volatility * vol_score, _SCORE_GRID),
        )
        for s, volume, spread, vol, liquidity, spread_score, vol_score in zip(
            eligible, volumes, spreads, vols, liquidity_scores, spread_scores, volatility_scores
        )
    ]
    # Total descending, liquidity descending, then symbol ascending: two stable sorts on
    # plain attributes (C-level keys) order exactly as the key (-total, -liquidity, symbol).
    ranked.sort(key=_BY_SYMBOL)
    ranked.sort(key=_BY_SCORES, reverse=True)
    selected = tuple(r.symbol for r in ranked[: params.size])
    return UniverseSelection(
        cycle_ts=snapshot.cycle_ts, selected=selected, ranked=tuple(ranked), rejected=tuple(rejected)
    )


_BY_SYMBOL = attrgetter("symbol")
_BY_SCORES = attrgetter("total_score", "liquidity_score")
