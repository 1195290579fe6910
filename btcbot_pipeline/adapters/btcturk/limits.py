"""Keeping under BTCTurk's limits and surviving its bad minutes.

- :class:`RateLimiter`: a sliding window per endpoint under the documented quotas
  (``shared/docs/btcturk-api.md`` §4.1), with a safety margin; waits rather than fails.
- :class:`CircuitBreaker`: after ``failure_threshold`` consecutive failures the endpoint
  group is refused for ``reset_after_s``, then one trial call decides (half-open).
- :class:`RetryPolicy`: exponential backoff with seeded jitter; ``Retry-After`` wins on 429.

Clocks and sleeps are injected so tests run in milliseconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

GRAPH_HOST_KEY = "GET graph-api.btcturk.com*"

# (limit, period seconds) per endpoint key "METHOD path", from the documented table.
DOCUMENTED_LIMITS: dict[str, tuple[int, float]] = {
    "GET /api/v1/users/balances": (120, 60.0),
    "POST /api/v1/order": (10, 1.0),
    "DELETE /api/v1/order": (10, 1.0),
    "GET /api/v1/openOrders": (300, 60.0),
    "GET /api/v1/allOrders": (300, 60.0),
    "GET /api/v1/users/transactions/trade": (120, 60.0),
    "GET /api/v2/ticker": (600, 60.0),
    "GET /api/v2/orderbook": (180, 60.0),
    "GET /api/v2/trades": (90, 60.0),
    "GET /v1/ohlcs": (120, 60.0),
    # Every call to the graph host (ohlcs, klines) also counts against this shared quota.
    GRAPH_HOST_KEY: (600, 600.0),
    "GET /api/v2/server/exchangeinfo": (60, 60.0),  # unpublished: be gentle
}


def endpoint_key(method: str, path: str) -> str:
    """``"GET /api/v2/orderbook"``: paths compared case-insensitively (docs spell ``orderBook``)."""
    return f"{method.upper()} {path.rstrip('/').lower()}"


@dataclass
class RateLimiter:
    """Per-endpoint sliding windows; ``margin`` < 1 keeps us below the published limit."""

    limits: dict[str, tuple[int, float]] = field(
        default_factory=lambda: {k.lower(): v for k, v in DOCUMENTED_LIMITS.items()}
    )
    margin: float = 0.9
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    _calls: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allowance(self, key: str) -> tuple[int, float] | None:
        spec = self.limits.get(key.lower())
        if spec is None:
            return None
        limit, period = spec
        return max(1, int(limit * self.margin)), period

    def acquire(self, key: str) -> float:
        """Wait until a call to ``key`` keeps under its limit; returns the seconds waited."""
        spec = self.allowance(key)
        if spec is None:
            return 0.0
        limit, period = spec
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                calls = self._calls.setdefault(key, deque())
                while calls and calls[0] <= now - period:
                    calls.popleft()
                if len(calls) < limit:
                    calls.append(now)
                    return waited
                wait = calls[0] + period - now
            self.sleep(wait)
            waited += wait


class CircuitBreaker:
    """closed → (``failure_threshold`` consecutive failures) → open → (after ``reset_after_s``) half-open."""

    def __init__(
        self, *, failure_threshold: int = 5, reset_after_s: float = 30.0, clock: Clock = time.monotonic
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self._opened_at >= self.reset_after_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.failure_threshold or self._opened_at is not None:
                self._opened_at = self.clock()


@dataclass
class RetryPolicy:
    """``max_attempts`` tries in all; delay ``base * 2**(n-1)`` capped, × jitter in [0.5, 1.0]."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    max_retry_after_s: float = 60.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        backoff = min(self.base_delay_s * (2 ** (attempt - 1)), self.max_delay_s)
        return backoff * (0.5 + self._rng.random() / 2)
