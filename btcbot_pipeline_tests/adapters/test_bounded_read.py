"""``read_bounded`` against a hostile server on 127.0.0.1: each call ends at its deadline or
its body cap, with the exact error, holding little memory; interrupts pass through."""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from btcbot_pipeline.adapters.bounded import (
    BodyTooLarge,
    DeadlineExceeded,
    ReadLimits,
    read_bounded,
)
from btcbot_pipeline.testing.hostile_http import BODY, HostileServer

# Thread start-up, the watchdog's timer and a loaded CI machine: what a call may overrun.
SLACK_S = 0.5
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:  # one for the module: building its TLS context takes ~0.3 s
        yield c


def hostile(mode: str) -> Iterator[HostileServer]:
    server = HostileServer(mode, pause_s=0.05)
    yield server
    server.close()


@pytest.fixture
def drip() -> Iterator[HostileServer]:
    yield from hostile("drip")


@pytest.fixture
def drip_headers() -> Iterator[HostileServer]:
    yield from hostile("drip_headers")


@pytest.fixture
def stall() -> Iterator[HostileServer]:
    yield from hostile("stall")


@pytest.fixture
def oversize() -> Iterator[HostileServer]:
    yield from hostile("oversize")


@pytest.fixture
def huge_length() -> Iterator[HostileServer]:
    yield from hostile("huge_length")


def timed(call: object) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        call()  # type: ignore[operator]
    return info.value, time.monotonic() - start


def test_a_body_within_the_limits_is_read_whole() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=b'{"ok":true}', headers={"X-Seen": request.url.params["q"]})

    with httpx.Client(transport=httpx.MockTransport(handler)) as mocked:
        response = read_bounded(mocked, "GET", "https://x.test/a", ReadLimits(1.0, 11, 1.0), params={"q": "1"})

    assert (response.status_code, response.reason_phrase, response.url, response.content) == (
        201,
        "Created",
        "https://x.test/a?q=1",
        b'{"ok":true}',
    )
    assert response.headers["X-Seen"] == "1"


def test_a_drip_of_one_byte_per_read_is_cut_at_the_deadline(client: httpx.Client, drip: HostileServer) -> None:
    # 1000 bytes at one per 0.05 s would take 50 s; no read ever waits long enough to time out
    error, took = timed(lambda: read_bounded(client, "GET", drip.url, ReadLimits(0.5, MiB, 5.0)))

    assert isinstance(error, DeadlineExceeded) and str(error) == "deadline of 0.5 s exceeded"
    assert 0.5 <= took < 0.5 + SLACK_S


def test_headers_sent_one_byte_at_a_time_are_cut_at_the_deadline(
    client: httpx.Client, drip_headers: HostileServer
) -> None:
    error, took = timed(
        lambda: read_bounded(client, "POST", drip_headers.url, ReadLimits(0.5, MiB, 5.0), content=b"{}")
    )

    assert str(error) == "deadline of 0.5 s exceeded"
    assert 0.5 <= took < 0.5 + SLACK_S


def test_a_read_stalled_past_the_deadline_ends_at_the_deadline_not_at_the_read_timeout(
    client: httpx.Client, stall: HostileServer
) -> None:
    # the per-read timeout (5 s) would end it ten times later: the watchdog shuts the socket
    error, took = timed(lambda: read_bounded(client, "GET", stall.url, ReadLimits(0.5, MiB, 5.0)))

    assert str(error) == "deadline of 0.5 s exceeded"
    assert 0.5 <= took < 0.5 + SLACK_S


def test_a_read_timeout_before_the_deadline_stays_a_read_timeout(client: httpx.Client, stall: HostileServer) -> None:
    error, took = timed(lambda: read_bounded(client, "GET", stall.url, ReadLimits(5.0, MiB, 0.3)))

    assert isinstance(error, httpx.ReadTimeout)
    assert took < 0.3 + SLACK_S


def test_a_100_mib_chunked_body_is_refused_at_the_cap_holding_little_memory(
    client: httpx.Client, oversize: HostileServer
) -> None:
    tracemalloc.start()
    try:
        error, took = timed(lambda: read_bounded(client, "GET", oversize.url, ReadLimits(10.0, MiB, 5.0)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(error, BodyTooLarge) and str(error) == "response larger than 1048576 bytes"
    assert peak < 8 * MiB  # the cap plus a chunk or two, against 100 MiB sent
    assert took < 5.0


def test_a_declared_content_length_over_the_cap_is_refused_before_reading(
    client: httpx.Client, huge_length: HostileServer
) -> None:
    error, took = timed(lambda: read_bounded(client, "GET", huge_length.url, ReadLimits(5.0, MiB, 5.0)))

    assert str(error) == "response larger than 1048576 bytes (Content-Length 1000000000000)"
    assert took < SLACK_S  # not at the deadline: refused on the header


def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=BODY))) as mocked:
        assert read_bounded(mocked, "GET", "https://x.test/", ReadLimits(1.0, len(BODY), 1.0)).content == BODY
        with pytest.raises(
            BodyTooLarge, match=re.escape(f"response larger than {len(BODY) - 1} bytes (Content-Length {len(BODY)})")
        ):
            read_bounded(mocked, "GET", "https://x.test/", ReadLimits(1.0, len(BODY) - 1, 1.0))


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt / DagsterExecutionInterruptedError (both BaseException)."""


def test_an_interrupt_is_never_turned_into_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise Interrupt

    with httpx.Client(transport=httpx.MockTransport(handler)) as mocked, pytest.raises(Interrupt):
        read_bounded(mocked, "GET", "https://x.test/", ReadLimits(1.0, 10, 1.0))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (dict(deadline_s=0.0, max_body_bytes=1, timeout_s=1.0), "'deadline_s' must be > 0, was 0.0"),
        (dict(deadline_s=1.0, max_body_bytes=-1, timeout_s=1.0), "'max_body_bytes' must be >= 0, was -1"),
    ],
)
def test_limits_refuse_values_that_bound_nothing(limits: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ReadLimits(**limits)  # type: ignore[arg-type]
