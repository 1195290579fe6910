"""Rate limiter, circuit breaker and retry policy with injected clocks (no sleeping)."""

from __future__ import annotations

from btcbot_pipeline.adapters.btcturk.limits import (
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    endpoint_key,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_documented_orderbook_quota_with_margin() -> None:
    # 180 per 60 s documented, 90 % margin → 162 calls, then the 163rd waits for the window
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    key = endpoint_key("GET", "/api/v2/orderBook")
    waits = [limiter.acquire(key) for _ in range(163)]
    assert waits[:162] == [0.0] * 162
    assert waits[162] == 60.0


def test_unknown_endpoint_is_not_limited() -> None:
    assert RateLimiter().acquire("GET /nowhere") == 0.0


def test_order_writes_limited_per_second() -> None:
    # 10 per 1 s → 9 with margin
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(endpoint_key("POST", "/api/v1/order")) for _ in range(10)]
    assert waits[-1] == 1.0 and sum(waits[:-1]) == 0.0


def test_breaker_half_opens_after_reset_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now = 30
    assert (breaker.state, breaker.allow()) == ("half_open", True)
    breaker.record_failure()  # the trial call failed: open again for another 30 s
    assert breaker.state == "open"
    clock.now = 60
    breaker.record_success()
    assert breaker.state == "closed"


def test_retry_delay_backoff_caps_and_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=4, max_retry_after_s=60, seed=0)
    # attempt n: min(1 * 2**(n-1), 4) × jitter in [0.5, 1)
    delays = [policy.delay(n) for n in (1, 2, 3, 4)]
    assert 0.5 <= delays[0] < 1 and 1 <= delays[1] < 2 and 2 <= delays[2] < 4 and 2 <= delays[3] < 4
    assert policy.delay(1, retry_after=55) == 55
    assert policy.delay(1, retry_after=600) == 60


def test_graph_host_shares_one_quota_across_its_endpoints() -> None:
    # 600 per 10 min documented for graph-api.btcturk.com*, 90 % → 540 calls, then a wait
    from btcbot_pipeline.adapters.btcturk.limits import GRAPH_HOST_KEY

    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(GRAPH_HOST_KEY) for _ in range(541)]
    assert sum(waits[:540]) == 0.0 and waits[540] == 600.0
