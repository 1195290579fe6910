"""The fake BTCTurk set up for a test: a cycle's two-pair market, its candles, clients that retry in
milliseconds (the fixtures that start it are in ``btcbot_pipeline_tests/conftest.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pydantic import SecretStr

from btcbot_pipeline.adapters.btcturk.client import ClientConfig
from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
from btcbot_pipeline.adapters.btcturk.signing import Credentials
from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeMarket

CYCLE = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
FAKE_CREDENTIALS = Credentials(SecretStr(FAKE_API_KEY), SecretStr(FAKE_API_SECRET))

# Two TRY pairs with numbers a cycle can trade on (stamped 30 s before CYCLE), as a test's
# "recorded" market: the live source and the equivalent replay dataset both use them.
PAIRS = {
    # symbol: bid, ask, last, high, low, volume, daily %, tick, base close
    "BTCTRY": ("3842920", "3844700", "3844648", "3900000", "3715392", "25.3073659", "2.24", "10", 3_840_000),
    "ETHTRY": ("121500.5", "121540.0", "121520", "123000", "118000", "410.55", "-1.3", "0.5", 121_000),
}


def candles_for(base: int, end: datetime, n: int = 40) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """``n`` one-minute bars whose last closes at ``end`` (t = bar open, seconds)."""
    out = []
    for i in range(n):
        t = int((end - timedelta(minutes=n - i)).timestamp())
        close = Decimal(base + (i * 37) % 200 - 100)
        out.append((t, close - 5, close + 20, close - 30, close, Decimal("0.75") + Decimal(i) / 100))
    return out


def cycle_market(end: datetime = CYCLE) -> FakeMarket:
    market = FakeMarket()
    ts_ms = int((end - timedelta(seconds=30)).timestamp() * 1000)
    for sym, (bid, ask, last, high, low, vol, pct, tick, base) in PAIRS.items():
        market.set_symbol(
            sym,
            ts_ms=ts_ms,
            bid=Decimal(bid),
            ask=Decimal(ask),
            last=Decimal(last),
            high=Decimal(high),
            low=Decimal(low),
            volume=Decimal(vol),
            daily_percent=Decimal(pct),
            tick_size=tick,
            candles=candles_for(base, end),
        )
    market.only(list(PAIRS))
    return market


def fast_config(url: str, *, attempts: int = 4, timeout_s: float = 2.0) -> ClientConfig:
    """Tiny backoff so fault tests take milliseconds; seeded jitter."""
    return ClientConfig(
        base_url=url,
        graph_base_url=url,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.001, max_delay_s=0.01, max_retry_after_s=0.01, seed=1),
    )
