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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot
from btcbot_pipeline.domain.money import ONE, ZERO
from btcbot_pipeline.domain.params import UniverseParams

MISSING_SCORE = Decimal(-1)
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


@dataclass(frozen=True, slots=True)
class UniverseSelection:
    """The ranked eligible symbols, the selected head, and why the others were left out."""

    cycle_ts: datetime
    selected: tuple[str, ...]
    ranked: tuple[ScoredSymbol, ...]
    rejected: tuple[tuple[str, str], ...]


def canonical_symbol(text: str) -> str:
    """``btc_try`` / ``BTC-TRY`` / ``btc/try`` → ``BTCTRY``."""
    return "".join(ch for ch in text.upper().strip() if ch not in "_-/ ")


def volatility(snapshot: SymbolSnapshot, lookback: int) -> Decimal | None:
    """Volatility metric of one symbol (see module docstring), ``None`` when unknown."""
    closes = snapshot.closes[-(lookback + 1) :]
    if len(closes) >= 3 and min(closes) > ZERO:
        # One pass of sums; this runs for every symbol of every cycle of a backtest.
        total = squares = ZERO
        previous = closes[0]
        for close in closes[1:]:
            r = (close - previous) / previous
            total += r
            squares += r * r
            previous = close
        n = len(closes) - 1
        mean = total / n
        variance = squares / n - mean * mean
        return variance.sqrt() if variance > ZERO else ZERO
    high, low, last = snapshot.high_24h, snapshot.low_24h, snapshot.last
    if high is not None and low is not None and last is not None and last > ZERO and high >= low:
        return (high - low) / last
    if snapshot.daily_change_pct is not None:
        return abs(snapshot.daily_change_pct) / 100
    return None


def _eligibility(snapshot: SymbolSnapshot, params: UniverseParams) -> str | None:
    symbol, quote = snapshot.symbol, params.quote_ccy.upper()
    if not symbol.endswith(quote) or len(symbol) <= len(quote):
        return f"quote_ccy_not_{quote}"
    if params.whitelist and symbol not in params.whitelist:
        return "not_whitelisted"
    if symbol in params.blacklist:
        return "blacklisted"
    if snapshot.skip_reason is not None:
        return snapshot.skip_reason
    if params.min_quote_volume_try > ZERO and (
        snapshot.quote_volume_try is None or snapshot.quote_volume_try < params.min_quote_volume_try
    ):
        return "min_quote_volume"
    spread = snapshot.spread_bps
    if spread is None or spread > params.max_spread_bps:
        return "max_spread"
    return None


def _normalise(values: dict[str, Decimal | None], *, higher_is_better: bool) -> dict[str, Decimal]:
    present = [v for v in values.values() if v is not None]
    out: dict[str, Decimal] = {}
    if not present:
        return {symbol: MISSING_SCORE for symbol in values}
    low, high = min(present), max(present)
    width = high - low
    for symbol, value in values.items():
        if value is None:
            out[symbol] = MISSING_SCORE
        elif width == ZERO:
            out[symbol] = ONE
        else:
            fraction = (value - low) / width if higher_is_better else (high - value) / width
            out[symbol] = fraction.quantize(_SCORE_GRID)
    return out


def select_universe(snapshot: MarketSnapshot, params: UniverseParams) -> UniverseSelection:
    """Rank the eligible symbols of ``snapshot`` and keep the first ``params.size``."""
    whitelist = tuple(canonical_symbol(s) for s in params.whitelist)
    blacklist = tuple(canonical_symbol(s) for s in params.blacklist)
    screen = UniverseParams(
        size=params.size,
        quote_ccy=params.quote_ccy,
        whitelist=whitelist,
        blacklist=blacklist,
        min_quote_volume_try=params.min_quote_volume_try,
        max_spread_bps=params.max_spread_bps,
        vol_lookback=params.vol_lookback,
        weights=params.weights,
    )
    eligible: list[SymbolSnapshot] = []
    rejected: list[tuple[str, str]] = []
    for symbol_snapshot in snapshot.symbols:
        reason = _eligibility(symbol_snapshot, screen)
        if reason is None:
            eligible.append(symbol_snapshot)
        else:
            rejected.append((symbol_snapshot.symbol, reason))

    volume = {s.symbol: s.quote_volume_try for s in eligible}
    spread = {s.symbol: s.spread_bps for s in eligible}
    vol = {s.symbol: volatility(s, params.vol_lookback) for s in eligible}
    liquidity_scores = _normalise(volume, higher_is_better=True)
    spread_scores = _normalise(spread, higher_is_better=False)
    volatility_scores = _normalise(vol, higher_is_better=False)
    weights = params.weights.normalised()

    ranked = sorted(
        (
            ScoredSymbol(
                symbol=s.symbol,
                quote_volume_try=volume[s.symbol],
                spread_bps=spread[s.symbol],
                volatility=vol[s.symbol],
                liquidity_score=liquidity_scores[s.symbol],
                spread_score=spread_scores[s.symbol],
                volatility_score=volatility_scores[s.symbol],
                total_score=(
                    weights.liquidity * liquidity_scores[s.symbol]
                    + weights.spread * spread_scores[s.symbol]
                    + weights.volatility * volatility_scores[s.symbol]
                ).quantize(_SCORE_GRID),
            )
            for s in eligible
        ),
        key=lambda r: (-r.total_score, -r.liquidity_score, r.symbol),
    )
    selected = tuple(r.symbol for r in ranked[: params.size])
    return UniverseSelection(
        cycle_ts=snapshot.cycle_ts, selected=selected, ranked=tuple(ranked), rejected=tuple(rejected)
    )
