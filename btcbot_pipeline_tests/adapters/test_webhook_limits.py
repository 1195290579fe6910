"""``WebhookPoster`` against a hostile receiver on 127.0.0.1: a POST ends at its deadline or
at the response cap as a failed, transient ``Delivery`` (the caller records the alert
``failed`` and posts it at the next cycle), the URL never shows, and an interrupt ends the
delivery without another attempt."""

from __future__ import annotations

import os
import signal
import threading
import time
import tracemalloc
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest

from btcbot_pipeline.adapters.webhook import Delivery, WebhookPoster
from btcbot_pipeline.testing.hostile_http import HostileServer

# Thread start-up, the watchdog's timer and a loaded CI machine: what a call may overrun.
SLACK_S = 0.5
PATH = "/hook/T0KEN-SECRET"
ALERT = {"alert_id": "daily_loss:20260101T004000Z", "message": "daily loss crossed"}


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[HostileServer]:
    server = HostileServer(request.param, pause_s=0.05)
    yield server
    server.close()


def post(
    url: str, *, attempts: int = 2, deadline_s: float = 0.5, max_body_bytes: int = 65_536
) -> tuple[Delivery, float]:
    with WebhookPoster(
        url + PATH,
        timeout_s=3.0,
        deadline_s=deadline_s,
        max_body_bytes=max_body_bytes,
        attempts=attempts,
        backoff_s=0.05,
    ) as poster:
        start = time.monotonic()
        delivery = poster.post(ALERT, idempotency_key=ALERT["alert_id"])
        return delivery, time.monotonic() - start


@pytest.mark.parametrize("receiver", ["drip"], indirect=True)
def test_a_receiver_answering_a_byte_at_a_time_fails_the_delivery_at_the_deadline(receiver: HostileServer) -> None:
    delivery, took = post(receiver.url)

    # like a timeout: tried again once (attempts=2), each POST cut at 0.5 s
    assert delivery == Delivery(False, 2, "deadline of 0.5 s exceeded", transient=True)
    assert len(receiver.requests) == 2
    assert 2 * 0.5 + 0.05 <= took < 2 * 0.5 + 0.05 + SLACK_S


@pytest.mark.parametrize("receiver", ["drip_headers"], indirect=True)
def test_a_receiver_sending_its_headers_slowly_fails_at_the_deadline(receiver: HostileServer) -> None:
    delivery, took = post(receiver.url, attempts=1)

    assert delivery == Delivery(False, 1, "deadline of 0.5 s exceeded", transient=True)
    assert took < 0.5 + SLACK_S


@pytest.mark.parametrize("receiver", ["stall"], indirect=True)
def test_a_stalled_response_ends_at_the_deadline_not_the_read_timeout(receiver: HostileServer) -> None:
    delivery, took = post(receiver.url, attempts=1)  # the read timeout is 3 s

    assert delivery == Delivery(False, 1, "deadline of 0.5 s exceeded", transient=True)
    assert took < 0.5 + SLACK_S


@pytest.mark.parametrize("receiver", ["oversize"], indirect=True)
def test_a_100_mib_response_fails_at_the_cap_without_a_retry_and_little_memory(receiver: HostileServer) -> None:
    tracemalloc.start()
    try:
        delivery, took = post(receiver.url, deadline_s=10.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert delivery == Delivery(False, 1, "response larger than 65536 bytes", transient=True)
    assert len(receiver.requests) == 1  # the same receiver would answer the same now
    assert peak < 4 * 1024 * 1024 and took < 2.0


@pytest.mark.parametrize("receiver", ["huge_length"], indirect=True)
def test_a_huge_declared_length_fails_before_the_body_is_read(receiver: HostileServer) -> None:
    delivery, took = post(receiver.url, deadline_s=10.0)

    assert delivery == Delivery(
        False, 1, "response larger than 65536 bytes (Content-Length 1000000000000)", transient=True
    )
    assert took < SLACK_S


def test_an_error_never_shows_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    with WebhookPoster("https://hooks.test" + PATH, attempts=1, transport=httpx.MockTransport(handler)) as poster:
        delivery = poster.post(ALERT)

    assert delivery == Delivery(False, 1, "ConnectError: cannot reach <ALERT_WEBHOOK_URL>", transient=True)


class Recorder:
    """A transport answering ``first`` to the first POST and 200 to later ones; counts them."""

    def __init__(self, first: BaseException | int) -> None:
        self.first = first
        self.posts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts += 1
        if self.posts == 1 and isinstance(self.first, BaseException):
            raise self.first
        return httpx.Response(self.first if self.posts == 1 else 200)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), dg.DagsterExecutionInterruptedError(), SystemExit(143)],
    ids=["KeyboardInterrupt", "DagsterExecutionInterruptedError", "SystemExit"],
)
def test_an_interrupt_during_a_post_ends_the_delivery_with_no_second_post(interrupt: BaseException) -> None:
    transport = Recorder(interrupt)

    with (
        WebhookPoster(
            "https://hooks.test" + PATH, attempts=3, transport=httpx.MockTransport(transport), sleep=lambda s: None
        ) as poster,
        pytest.raises(type(interrupt)),
    ):
        poster.post(ALERT)

    assert transport.posts == 1


def test_an_interrupt_during_the_backoff_wait_starts_no_second_post() -> None:
    transport = Recorder(503)

    def interrupted(seconds: float) -> None:
        raise dg.DagsterExecutionInterruptedError

    with (
        WebhookPoster(
            "https://hooks.test" + PATH, attempts=3, transport=httpx.MockTransport(transport), sleep=interrupted
        ) as poster,
        pytest.raises(dg.DagsterExecutionInterruptedError),
    ):
        poster.post(ALERT)

    assert transport.posts == 1


class Terminated(BaseException):
    """What the test's SIGUSR1 handler raises, as Dagster's handler raises its interrupt."""


def test_a_signal_ends_the_real_backoff_sleep_at_once() -> None:
    # time.sleep is the default: a signal whose handler raises ends it (PEP 475), here
    # 0.2 s into a 30 s backoff after a 503
    transport = Recorder(503)

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    before = signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        with WebhookPoster(
            "https://hooks.test" + PATH, attempts=2, backoff_s=30.0, transport=httpx.MockTransport(transport)
        ) as poster:
            start = time.monotonic()
            timer.start()
            with pytest.raises(Terminated):
                poster.post(ALERT)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, before)

    assert transport.posts == 1
    assert time.monotonic() - start < 0.2 + SLACK_S
