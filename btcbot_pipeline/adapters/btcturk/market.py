"""Live market snapshots from the BTCTurk public API → :class:`MarketSnapshot`.

:class:`LiveMarketSource` (and :func:`live_snapshots`) reads, per cycle, exchangeinfo and
the ticker once, then each candidate's order book and the 1-minute candles closed at or
before the cycle time; its numbers mean exactly what the replay reader makes of the same
rows, so a cycle decides the same from either source. Every number is checked against
:mod:`~btcbot_pipeline.domain.bounds` where it enters (out of range: that pair skipped as
``invalid_data:out_of_range:<field>``). Failures never raise: an unreachable exchange
gives ``degraded_reason="exchange_unreachable"``, a failing call for one pair
``exchange_error:<endpoint>``, and all reads share one deadline per cycle
(``exchange_error:deadline`` past it). Field mapping and deadlines: ``docs/data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Protocol

from btcbot_pipeline.adapters.btcturk.client import (
    BtcturkPublicClient,
    ClientConfig,
    DeadlineExceededError,
)
from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
from btcbot_pipeline.adapters.btcturk.schemas import Candle, Ticker, ms_to_datetime
from btcbot_pipeline.adapters.replay.exchangeinfo import ExchangeInfoError, parse_exchange_info
from btcbot_pipeline.domain.bounds import FIELD_BOUNDS, PRICE, out_of_range_reason
from btcbot_pipeline.domain.market import (
    MarketSnapshot,
    SymbolRules,
    SymbolSnapshot,
    bound_snapshot,
    finalize_snapshot,
)
from btcbot_pipeline.domain.money import MONEY_CONTEXT
from btcbot_pipeline.domain.vocabulary import INVALID_SYMBOL_NAME, is_pair_name

SOURCE = "btcturk"
# Field → endpoint and timestamp it comes from (shown in the market_snapshot metadata).
PROVENANCE = {
    "best_bid/best_ask": "GET /api/v2/orderbook, first level; data_ts from its timestamp (ms)",
    "last/high_24h/low_24h/daily_change_pct": "GET /api/v2/ticker last/high/low/dailyPercent",
    "quote_volume_try": "GET /api/v2/ticker volume × last",
    "closes": "graph GET /v1/klines/history resolution=1, bars closed by the cycle time (t + 60 s)",
    "rules": "GET /api/v2/server/exchangeinfo PRICE_FILTER + scales",
    "staleness_s": "cycle time − min(book timestamp, last bar close), ≥ 0",
}
BAR_S = 60
# Exchange times outside 2000-01-01 .. 2100-01-01 (ms) are not times of a market.
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000
UNREACHABLE = "exchange_unreachable"
AFTER_CYCLE = "live_data_after_cycle"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class LiveMarketSource:
    """Builds one snapshot per cycle time from a *public* client (it cannot trade).

    Attributes:
        symbols: explicit candidates (e.g. the universe whitelist); empty = every pair
            quoted in ``quote_ccy`` in the ticker, the ``max_symbols`` largest by volume.
        horizon_s: exchange data newer than ``cycle_ts + horizon_s`` means the cycle is not
            live; such a snapshot is degraded rather than filled with the present.
        cycle_deadline_s: seconds all of one snapshot's reads may take (``None``: only
            each call's own deadline; :func:`live_snapshots` passes ``BTCTURK_CYCLE_DEADLINE_SEC``).
    """

    client: BtcturkPublicClient
    symbols: tuple[str, ...] = ()
    quote_ccy: str = "TRY"
    max_symbols: int = 30
    book_limit: int = 25
    horizon_s: int = 900
    clock: Callable[[], datetime] = _now
    # Also give each pair the bar of the 1-minute candles closed in (cycle - bar_s, cycle]
    # (the limit fill model meets resting orders with it); None: no bars.
    bar_s: int | None = None
    cycle_deadline_s: float | None = None
    _rules: dict[str, SymbolRules] | None = field(default=None, repr=False)

    def snapshot(self, cycle_ts: datetime, *, vol_lookback: int) -> MarketSnapshot:
        if self.cycle_deadline_s is None:
            return self._snapshot(cycle_ts, vol_lookback)
        with self.client.time_budget(self.cycle_deadline_s):
            return self._snapshot(cycle_ts, vol_lookback)

    def _snapshot(self, cycle_ts: datetime, vol_lookback: int) -> MarketSnapshot:
        fetched_at = self.clock()
        try:
            rules = self._exchange_rules()
            tickers = {t.symbol: t for t in self.client.tickers()}
        except BtcturkError:
            # Explicit candidates keep their rows, so the trace says why each was not traded.
            lost = tuple(
                SymbolSnapshot(symbol=sym, rules=(self._rules or {}).get(sym), skip_reason=UNREACHABLE)
                for sym in sorted(set(self.symbols))
            )
            return MarketSnapshot(
                cycle_ts=cycle_ts, symbols=lost, source=SOURCE, degraded_reason=UNREACHABLE, fetched_at=fetched_at
            )
        candidates = self._candidates(tickers)
        symbols = tuple(
            self._symbol(sym, tickers.get(sym), rules.get(sym), cycle_ts, vol_lookback + 1) for sym in candidates
        )
        degraded = None
        if symbols and all((s.skip_reason or "").startswith("exchange_error:") for s in symbols):
            degraded = UNREACHABLE
        newest = max((t.timestamp for t in tickers.values() if _valid_ms(t.timestamp)), default=None)
        if (
            degraded is None
            and newest is not None
            and ms_to_datetime(newest) > cycle_ts + timedelta(seconds=self.horizon_s)
        ):
            degraded = AFTER_CYCLE
        return MarketSnapshot(
            cycle_ts=cycle_ts, symbols=symbols, source=SOURCE, degraded_reason=degraded, fetched_at=fetched_at
        )

    def _exchange_rules(self) -> dict[str, SymbolRules]:
        if self._rules is None:
            try:
                self._rules = parse_exchange_info(self.client.exchange_info())
            except ExchangeInfoError:
                self._rules = {}
        return self._rules

    def _candidates(self, tickers: dict[str, Ticker]) -> list[str]:
        if self.symbols:
            return sorted(set(self.symbols))
        quoted = [t for t in tickers.values() if (t.denominatorsymbol or t.symbol[-3:]).upper() == self.quote_ccy]
        quoted.sort(key=lambda t: (-(_quote_volume(t) or Decimal(0)), t.symbol))
        return sorted(t.symbol for t in quoted[: self.max_symbols])

    def _symbol(
        self, symbol: str, ticker: Ticker | None, rules: SymbolRules | None, cycle_ts: datetime, n_closes: int
    ) -> SymbolSnapshot:
        if not is_pair_name(symbol):
            return SymbolSnapshot(symbol=symbol, skip_reason=f"invalid_data:{INVALID_SYMBOL_NAME}")
        if ticker is None:
            return SymbolSnapshot(symbol=symbol, rules=rules, skip_reason="symbol_not_listed")
        field = _first_out_of_range(
            (("last", ticker.last), ("high", ticker.high), ("low", ticker.low), ("volume", ticker.volume))
        )
        if field is not None:
            return SymbolSnapshot(symbol=symbol, skip_reason=out_of_range_reason(field))
        fields: dict[str, object] = {
            "symbol": symbol,
            "rules": rules,
            "last": ticker.last,
            "high_24h": ticker.high,
            "low_24h": ticker.low,
            "quote_volume_try": _quote_volume(ticker),
            "daily_change_pct": ticker.dailypercent,
        }
        try:
            book = self.client.order_book(symbol, limit=self.book_limit)
        except BtcturkError as exc:
            return SymbolSnapshot(**fields, skip_reason=_exchange_error("orderbook", exc))  # type: ignore[arg-type]
        try:
            closed = self._closed_candles(symbol, cycle_ts, n_closes)
        except BtcturkError as exc:
            return SymbolSnapshot(**fields, skip_reason=_exchange_error("klines", exc))  # type: ignore[arg-type]
        candles = closed[-n_closes:] if n_closes else []
        end = int(cycle_ts.timestamp())
        bar = [c for c in closed if c.time + BAR_S > end - self.bar_s] if self.bar_s is not None else []
        field = _first_out_of_range((("best_bid", book.best_bid), ("best_ask", book.best_ask)))
        if field is None and not all(PRICE.contains(c.close) for c in candles):
            field = "close"
        if field is None and not all(PRICE.contains(c.low) and PRICE.contains(c.high) for c in bar):
            field = "bar_price"
        if field is None and bar and not FIELD_BOUNDS["volume"].contains(sum((c.volume for c in bar), Decimal(0))):
            field = "bar_volume"
        if field is None and book.timestamp is not None and not _valid_ms(book.timestamp):
            field = "timestamp"
        if field is None and candles and not _valid_ms((candles[-1].time + BAR_S) * 1000):
            field = "time"
        if field is not None:
            return bound_snapshot(SymbolSnapshot(**fields, skip_reason=out_of_range_reason(field)))  # type: ignore[arg-type]
        fields["best_bid"], fields["best_ask"] = book.best_bid, book.best_ask
        fields["closes"] = tuple(c.close for c in candles)
        if bar:
            fields["bar_low"], fields["bar_high"] = min(c.low for c in bar), max(c.high for c in bar)
            fields["bar_volume"] = sum((c.volume for c in bar), Decimal(0))
        if candles and book.timestamp is not None:
            data_ts = min(
                ms_to_datetime(book.timestamp), datetime.fromtimestamp(candles[-1].time + BAR_S, tz=timezone.utc)
            )
            fields["data_ts"] = data_ts
            fields["staleness_s"] = max(0, int((cycle_ts - data_ts).total_seconds()))
        # Derived values (volume × last, the daily change) must fit the book too.
        return bound_snapshot(SymbolSnapshot(**fields))  # type: ignore[arg-type]

    def _closed_candles(self, symbol: str, cycle_ts: datetime, n: int) -> list[Candle]:
        """The 1-minute candles closed by ``cycle_ts``: enough for ``n`` closes (room for
        minutes without trades) and for the bar of ``bar_s``."""
        end = int(cycle_ts.timestamp())
        start = end - (3 * n + 10) * BAR_S
        if self.bar_s is not None:
            start = min(start, end - self.bar_s - BAR_S)
        return [
            c for c in self.client.klines(symbol, resolution_min=1, start_s=start, end_s=end) if c.time + BAR_S <= end
        ]


def _exchange_error(endpoint: str, exc: BtcturkError) -> str:
    """``exchange_error:<endpoint>``, or ``exchange_error:deadline`` when the cycle's time ran out."""
    return (
        "exchange_error:deadline"
        if isinstance(exc, DeadlineExceededError) and exc.budget
        else f"exchange_error:{endpoint}"
    )


def _quote_volume(ticker: Ticker) -> Decimal | None:
    volume, last = ticker.volume, ticker.last
    if volume is None or last is None or _first_out_of_range((("volume", volume), ("last", last))):
        return None  # out of range: the pair is skipped; 1e999999 × 1e999999 would overflow
    return MONEY_CONTEXT.multiply(volume, last)


def _first_out_of_range(values: tuple[tuple[str, Decimal | None], ...]) -> str | None:
    for name, value in values:
        if value is not None and not FIELD_BOUNDS[name].contains(value):
            return name
    return None


def _valid_ms(ms: int | None) -> bool:
    return ms is not None and _MIN_MS <= ms <= _MAX_MS


class LiveSourceConfig(Protocol):
    """What :func:`live_snapshots` reads from ``BtcturkMarketData``."""

    btcturk_base_url: str
    btcturk_graph_base_url: str
    btcturk_timeout_s: float
    btcturk_call_deadline_s: float
    btcturk_cycle_deadline_s: float
    btcturk_max_body_bytes: int
    btcturk_retry_attempts: int
    btcturk_retry_base_delay_s: float
    btcturk_max_symbols: int
    symbols: list[str]
    quote_ccy: str


def client_config(cfg: LiveSourceConfig) -> ClientConfig:
    return ClientConfig(
        base_url=cfg.btcturk_base_url,
        graph_base_url=cfg.btcturk_graph_base_url,
        timeout_s=cfg.btcturk_timeout_s,
        retry=RetryPolicy(max_attempts=cfg.btcturk_retry_attempts, base_delay_s=cfg.btcturk_retry_base_delay_s),
        call_deadline_s=cfg.btcturk_call_deadline_s,
        max_body_bytes=cfg.btcturk_max_body_bytes,
    )


def live_snapshots(
    cfg: LiveSourceConfig,
    cycle_times: list[datetime],
    *,
    vol_lookback: int,
    max_data_age_s: int,
    bar_seconds: int | None = None,
) -> list[MarketSnapshot]:
    """One finalized live snapshot per cycle time (the resource's ``btcturk`` source)."""
    with BtcturkPublicClient(client_config(cfg)) as client:
        source = LiveMarketSource(
            client,
            symbols=tuple(cfg.symbols),
            quote_ccy=cfg.quote_ccy,
            max_symbols=cfg.btcturk_max_symbols,
            bar_s=bar_seconds,
            cycle_deadline_s=cfg.btcturk_cycle_deadline_s,
        )
        return [
            finalize_snapshot(source.snapshot(ts, vol_lookback=vol_lookback), max_data_age_s=max_data_age_s)
            for ts in cycle_times
        ]
