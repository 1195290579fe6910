"""The BTCTurk client and the live source against an exchange that drips or floods
(the fake's ``drip`` and ``oversize`` faults, a hostile server on 127.0.0.1): each call ends
at its deadline, a cycle's reads at the cycle deadline, an oversize body is refused
unparsed; interrupts leave the retry loop at once."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import dagster as dg
import httpx
import pytest

from btcbot_pipeline.adapters.btcturk.client import (
    BtcturkPublicClient,
    ClientConfig,
    DeadlineExceededError,
    ResponseTooLargeError,
)
from btcbot_pipeline.adapters.btcturk.errors import RateLimitError
from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
from btcbot_pipeline.adapters.btcturk.market import LiveMarketSource
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import CYCLE, candles_for, fast_config
from btcbot_pipeline.testing.hostile_http import HostileServer

# Thread start-up, the watchdog's timer and a loaded CI machine: what a call may overrun.
SLACK_S = 0.5
MiB = 1024 * 1024
BOOK = "/api/v2/orderbook"


def config(url: str, *, attempts: int = 2, call_deadline_s: float = 0.3, max_body_bytes: int = MiB) -> ClientConfig:
    return replace(
        fast_config(url, attempts=attempts, timeout_s=5.0),
        call_deadline_s=call_deadline_s,
        max_body_bytes=max_body_bytes,
    )


def raised(call: object) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        call()  # type: ignore[operator]
    return info.value, time.monotonic() - start


def test_a_dripping_book_is_cut_at_each_calls_deadline_and_retried_like_a_timeout(
    fake_cycle_market: FakeBtcturk,
) -> None:
    fake_cycle_market.inject(BOOK, "drip", times=-1, delay_s=0.05)

    with BtcturkPublicClient(config(fake_cycle_market.url)) as client:
        error, took = raised(lambda: client.order_book("BTCTRY"))

    assert isinstance(error, DeadlineExceededError) and not error.budget
    assert str(error) == f"deadline of 0.3 s exceeded for url '{fake_cycle_market.url}{BOOK}'"
    assert fake_cycle_market.count(BOOK) == 2  # two attempts, as after a timeout
    assert 2 * 0.3 <= took < 2 * 0.3 + SLACK_S


def test_a_100_mib_ticker_is_refused_at_the_cap_unparsed_and_not_retried(fake_cycle_market: FakeBtcturk) -> None:
    fake_cycle_market.inject("/api/v2/ticker", "oversize", times=-1)
    tracemalloc.start()
    try:
        with BtcturkPublicClient(config(fake_cycle_market.url, attempts=4, call_deadline_s=10.0)) as client:
            error, took = raised(client.tickers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(error, ResponseTooLargeError)
    assert str(error) == f"response larger than 1048576 bytes for url '{fake_cycle_market.url}/api/v2/ticker'"
    assert fake_cycle_market.count("/api/v2/ticker") == 1  # the next call would get the same
    assert peak < 8 * MiB and took < 5.0


def test_a_huge_declared_length_is_refused_on_the_header() -> None:
    server = HostileServer("huge_length")
    try:
        with BtcturkPublicClient(config(server.url, call_deadline_s=10.0)) as client:
            error, took = raised(client.exchange_info)
    finally:
        server.close()

    assert str(error) == (
        f"response larger than 1048576 bytes (Content-Length 1000000000000) for url "
        f"'{server.url}/api/v2/server/exchangeinfo'"
    )
    assert took < SLACK_S and len(server.requests) == 1


def test_a_spent_time_budget_cuts_the_call_under_way_and_sends_nothing_after(fake_cycle_market: FakeBtcturk) -> None:
    fake_cycle_market.inject(BOOK, "drip", times=-1, delay_s=0.05)

    with (
        BtcturkPublicClient(config(fake_cycle_market.url, attempts=4, call_deadline_s=5.0)) as client,
        client.time_budget(0.3),
    ):
        first, took = raised(lambda: client.order_book("BTCTRY"))
        second, _ = raised(lambda: client.order_book("ETHTRY"))

    assert isinstance(first, DeadlineExceededError) and first.budget
    assert str(first) == f"cycle deadline of 0.3 s exceeded for url '{fake_cycle_market.url}{BOOK}'"
    assert isinstance(second, DeadlineExceededError) and second.budget
    assert str(second) == f"cycle deadline of 0.3 s spent; not calling GET {BOOK}"
    assert fake_cycle_market.count(BOOK) == 1  # no retry and no second call once spent
    assert 0.3 <= took < 0.3 + SLACK_S


def mocked(handler: object, sleeps: list[float], *, attempts: int = 4) -> BtcturkPublicClient:
    cfg = ClientConfig(
        base_url="https://api.test",
        graph_base_url="https://graph.test",
        retry=RetryPolicy(max_attempts=attempts, seed=3),
    )
    return BtcturkPublicClient(cfg, transport=httpx.MockTransport(handler), sleep=sleeps.append)  # type: ignore[arg-type]


def test_no_retry_waits_past_the_time_budget() -> None:
    sleeps: list[float] = []
    calls: list[httpx.Request] = []

    def too_many(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            429, json={"success": False, "message": "TOO_MANY_REQUESTS", "code": 429}, headers={"Retry-After": "7"}
        )

    with mocked(too_many, sleeps) as client, client.time_budget(5.0), pytest.raises(RateLimitError):
        client.tickers()

    assert (len(calls), sleeps) == (1, [])  # waiting 7 s would end after the 5 s budget: given up at once


class Interrupts:
    """A transport that raises ``interrupt`` on the first request (or 503s, for the sleep case)."""

    def __init__(self, interrupt: BaseException | None) -> None:
        self.interrupt = interrupt
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.interrupt is not None:
            raise self.interrupt
        return httpx.Response(503, json={"success": False, "message": "SERVICE_UNAVAILABLE", "code": 503})


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), dg.DagsterExecutionInterruptedError(), SystemExit(143)],
    ids=["KeyboardInterrupt", "DagsterExecutionInterruptedError", "SystemExit"],
)
def test_an_interrupt_during_a_read_leaves_the_retry_loop_at_once(interrupt: BaseException) -> None:
    transport, sleeps = Interrupts(interrupt), []

    with mocked(transport, sleeps) as client, pytest.raises(type(interrupt)):
        client.order_book("BTCTRY")

    assert (transport.requests, sleeps) == (1, [])
    assert client.breaker_states == {"rest": "closed", "graph": "closed"}


def test_an_interrupt_during_the_backoff_wait_starts_no_second_request() -> None:
    transport = Interrupts(None)

    def interrupted(seconds: float) -> None:
        raise dg.DagsterExecutionInterruptedError

    cfg = ClientConfig(base_url="https://api.test", retry=RetryPolicy(max_attempts=4, seed=3))
    with BtcturkPublicClient(cfg, transport=httpx.MockTransport(transport), sleep=interrupted) as client:
        with pytest.raises(dg.DagsterExecutionInterruptedError):
            client.order_book("BTCTRY")

    assert transport.requests == 1


# --- the live source ------------------------------------------------------------------------


@pytest.fixture
def three_pairs(fake_cycle_market: FakeBtcturk) -> Iterator[FakeBtcturk]:
    """The cycle market plus XRPTRY: three pairs read in order BTCTRY, ETHTRY, XRPTRY."""
    stamp = int(CYCLE.timestamp() * 1000) - 30_000
    fake_cycle_market.market.set_symbol(
        "XRPTRY",
        ts_ms=stamp,
        bid=Decimal("999"),
        ask=Decimal("1001"),
        last=Decimal("1000"),
        high=Decimal("1100"),
        low=Decimal("900"),
        volume=Decimal("5000"),
        candles=candles_for(1000, CYCLE),
    )
    yield fake_cycle_market


def live(
    fake: FakeBtcturk, *, call_deadline_s: float, cycle_deadline_s: float
) -> tuple[dict[str, str | None], str | None, float]:
    with BtcturkPublicClient(config(fake.url, attempts=1, call_deadline_s=call_deadline_s)) as client:
        source = LiveMarketSource(client, symbols=("BTCTRY", "ETHTRY", "XRPTRY"), cycle_deadline_s=cycle_deadline_s)
        start = time.monotonic()
        snap = source.snapshot(CYCLE, vol_lookback=20)
        took = time.monotonic() - start
    return {s.symbol: s.skip_reason for s in snap.symbols}, snap.degraded_reason, took


def test_a_spent_cycle_deadline_skips_the_pairs_not_yet_read(three_pairs: FakeBtcturk) -> None:
    three_pairs.inject(BOOK, "drip", times=-1, delay_s=0.05)

    reasons, degraded, took = live(three_pairs, call_deadline_s=5.0, cycle_deadline_s=0.5)

    # BTCTRY's book drips until the cycle's 0.5 s are spent; the others are never asked for
    assert reasons == {
        "BTCTRY": "exchange_error:deadline",
        "ETHTRY": "exchange_error:deadline",
        "XRPTRY": "exchange_error:deadline",
    }
    assert degraded == "exchange_unreachable"
    assert three_pairs.count(BOOK) == 1
    assert 0.5 <= took < 0.5 + SLACK_S


def test_one_call_past_its_own_deadline_costs_its_pair_only(three_pairs: FakeBtcturk) -> None:
    three_pairs.inject(BOOK, "drip", times=1, delay_s=0.05)  # BTCTRY's book, read first

    reasons, degraded, took = live(three_pairs, call_deadline_s=0.3, cycle_deadline_s=10.0)

    assert reasons == {"BTCTRY": "exchange_error:orderbook", "ETHTRY": None, "XRPTRY": None}
    assert degraded is None
    assert took < 0.3 + SLACK_S


def test_the_fakes_control_endpoint_injects_drip_and_oversize(fake_cycle_market: FakeBtcturk) -> None:
    for spec in (
        {"path": BOOK, "kind": "drip", "delay_s": 0.002},
        {"path": "/api/v2/ticker", "kind": "oversize", "size_bytes": 200_000},
    ):
        assert httpx.post(fake_cycle_market.url + "/_fake/faults", content=json.dumps(spec)).status_code == 200

    dripped = httpx.get(fake_cycle_market.url + BOOK, params={"pairSymbol": "BTCTRY"})
    with httpx.stream("GET", fake_cycle_market.url + "/api/v2/ticker") as flood:
        size = sum(len(chunk) for chunk in flood.iter_raw())
        chunked = flood.headers.get("Transfer-Encoding")

    assert dripped.json()["data"]["bids"] == [["3842920", "1.5"]]  # the normal body, a byte at a time
    # the envelope's opening (48 bytes) then 200000 // 65536 = 3 chunks of 64 KiB, chunked: no Content-Length
    assert (size, chunked) == (48 + 3 * 65_536, "chunked")
    fake_cycle_market.inject("/api/v2/ticker", "oversize")
    with BtcturkPublicClient(config(fake_cycle_market.url, max_body_bytes=65_536)) as client:
        with pytest.raises(ResponseTooLargeError, match=re.escape("response larger than 65536 bytes for url")):
            client.tickers()
