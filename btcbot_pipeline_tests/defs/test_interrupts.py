"""Why "SIGTERM at 240 s only started a second POST", on a one-asset job (issue 15, item 4).

Dagster turns SIGTERM/SIGINT inside a step into ``DagsterExecutionInterruptedError`` (a
``BaseException``: no ``except Exception`` of ours catches it, and the webhook and client
retry loops let it through). But its step boundary (``op_execution_error_boundary``)
answers an interrupt with ``RetryRequested`` when the op has a retry policy, as the cycle
asset has (``CYCLE_RETRY``): the step runs again and POSTs again. Converting the interrupt
into ``dg.Failure(allow_retries=False)`` inside the asset ends the run at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from btcbot_pipeline.adapters.webhook import WebhookPoster
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text
from btcbot_pipeline.testing.hostile_http import HostileServer

RETRY = dg.RetryPolicy(max_retries=1, delay=0.1)  # CYCLE_RETRY's shape, seconds shorter


@pytest.fixture
def receiver() -> Iterator[HostileServer]:
    server = HostileServer("drip", pause_s=0.05)
    yield server
    server.close()


def posting_asset(url: str, *, stop_on_interrupt: bool) -> dg.AssetsDefinition:
    @dg.asset(retry_policy=RETRY)
    def alerts_posted() -> None:
        try:
            with WebhookPoster(url + "/hook", deadline_s=1.0, attempts=1) as poster:
                poster.post({"alert_id": "run_failed:x"})
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as exc:
            if stop_on_interrupt:
                raise dg.Failure(
                    description=f"interrupted ({type(exc).__name__}); not retried", allow_retries=False
                ) from exc
            raise

    return alerts_posted


def run_with_sigterm(asset: dg.AssetsDefinition, receiver: HostileServer) -> tuple[dg.ExecuteInProcessResult, float]:
    """Materialize ``asset``; SIGTERM this process 0.2 s after the first POST arrived."""

    def terminate() -> None:
        while not receiver.requests:
            time.sleep(0.01)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    # Dagster maps SIGTERM onto its SIGINT handler while a step runs and leaves it so:
    # put both back for the rest of the session.
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    killer = threading.Thread(target=terminate, daemon=True)
    start = time.monotonic()
    try:
        killer.start()
        result = dg.materialize([asset], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    finally:
        killer.join(timeout=5)
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
    return result, time.monotonic() - start


def event_types(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.event_type_value for e in result.all_events if e.step_key == "alerts_posted"]


def test_dagster_retries_an_interrupted_step_that_has_a_retry_policy(receiver: HostileServer) -> None:
    result, _ = run_with_sigterm(posting_asset(receiver.url, stop_on_interrupt=False), receiver)

    # the interrupt became a retry: a second POST started after the SIGTERM
    assert "STEP_UP_FOR_RETRY" in event_types(result)
    assert len(receiver.requests) == 2


def test_an_interrupt_turned_into_a_failure_ends_the_run_with_no_second_post(receiver: HostileServer) -> None:
    result, took = run_with_sigterm(posting_asset(receiver.url, stop_on_interrupt=True), receiver)

    assert not result.success
    assert "STEP_UP_FOR_RETRY" not in event_types(result)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert (
        failure.step_failure_data.user_failure_data.description
        == "interrupted (DagsterExecutionInterruptedError); not retried"
    )
    assert len(receiver.requests) == 1
    assert took < 3.0  # the SIGTERM came 0.2 s into the POST; the run ends within a few seconds of it


def test_sigterm_during_a_cycles_alert_post_ends_the_run_with_no_second_post(
    cycle: Cycle, receiver: HostileServer
) -> None:
    cycle.overrides |= {
        "ALERT_WEBHOOK_URL": receiver.url + "/hook",
        "ALERT_DRAWDOWN_PCT": "0.01",
        "ALERT_DAILY_LOSS_TRY": "100",
        "ALERT_WEBHOOK_DEADLINE_SEC": "5",
    }

    def terminate() -> None:
        while not receiver.requests:
            time.sleep(0.01)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    killer = threading.Thread(target=terminate, daemon=True)
    try:
        killer.start()
        result = cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:40")
        ended = time.monotonic()
    finally:
        killer.join(timeout=5)
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])

    assert not result.success
    assert "run interrupted (DagsterExecutionInterruptedError); not retried" in failure_text(result)
    assert len(receiver.requests) == 1  # no second POST
    assert ended - receiver.requests[0] < 0.2 + 2.0
    assert cycle.rows("SELECT alert_id, status FROM alerts ORDER BY alert_id") == [
        ("daily_loss:20260101T004000Z", "pending"),
        ("drawdown_threshold:20260101T004000Z", "pending"),
    ]
