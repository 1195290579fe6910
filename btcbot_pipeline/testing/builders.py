"""Builders with defaults for tests, demos and benchmarks: state only what matters.

Kept in the package (not the tests) so the benchmark script and the CLI's self-check use
the same builders as the tests.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from btcbot_pipeline.domain.market import MarketSnapshot, SymbolRules, SymbolSnapshot

CYCLE_TS = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)


def rules(
    symbol: str = "BTCTRY",
    *,
    tick: str | None = "1",
    lot: str | None = None,
    min_notional: str | None = "99.91",
    price_scale: int | None = 2,
    quantity_scale: int | None = 8,
    status: str = "TRADING",
) -> SymbolRules:
    return SymbolRules(
        symbol=symbol,
        tick_size=None if tick is None else Decimal(tick),
        lot_size=None if lot is None else Decimal(lot),
        min_notional_try=None if min_notional is None else Decimal(min_notional),
        price_scale=price_scale,
        quantity_scale=quantity_scale,
        status=status,
    )


def symbol(
    name: str = "BTCTRY",
    *,
    bid: str | None = "100",
    ask: str | None = "101",
    volume: str | None = "1000000",
    last: str | None = None,
    high: str | None = None,
    low: str | None = None,
    change_pct: str | None = None,
    closes: tuple[str, ...] = (),
    staleness_s: int | None = 0,
    data_ts: datetime | None = CYCLE_TS,
    symbol_rules: SymbolRules | None | bool = True,
    skip_reason: str | None = None,
) -> SymbolSnapshot:
    """A tradable symbol with a 100/101 book and rules on a 0.01 price grid by default."""
    resolved_rules = rules(name, tick="0.01") if symbol_rules is True else (symbol_rules or None)
    return SymbolSnapshot(
        symbol=name,
        data_ts=data_ts,
        staleness_s=staleness_s,
        best_bid=None if bid is None else Decimal(bid),
        best_ask=None if ask is None else Decimal(ask),
        last=None if last is None else Decimal(last),
        high_24h=None if high is None else Decimal(high),
        low_24h=None if low is None else Decimal(low),
        quote_volume_try=None if volume is None else Decimal(volume),
        daily_change_pct=None if change_pct is None else Decimal(change_pct),
        closes=tuple(Decimal(c) for c in closes),
        rules=resolved_rules,  # type: ignore[arg-type]
        skip_reason=skip_reason,
    )


def snapshot(*symbols: SymbolSnapshot, cycle_ts: datetime = CYCLE_TS) -> MarketSnapshot:
    return MarketSnapshot(cycle_ts=cycle_ts, symbols=tuple(sorted(symbols, key=lambda s: s.symbol)))
