"""How the gate worker process ends: at once when nobody needs it, after its verdict when one
is pending, gracefully when idle (the command-level check, that nothing outlives
``btcbot backtest``, is in test_no_leftover_processes.py), and without tearing its
interpreter down, which the command would wait for."""

from __future__ import annotations

import atexit
import signal
import time

import pytest

from btcbot_pipeline.quality import worker as W


def _processes(gates: W.GateWorker) -> list:
    assert gates._pool is not None, "the worker did not start"
    return list(gates._pool._processes.values())


def _ended(processes: list, timeout: float) -> None:
    """Wait until each process's exit code is known (or ``timeout`` passes). Not ``join``
    alone: the executor's own thread reaps the worker too, and a join that loses that race
    returns with the exit code still unset for a moment."""
    deadline = time.monotonic() + timeout
    while any(p.exitcode is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("sigterm", ["default", "ignored"])
def test_a_worker_still_importing_ge_is_ended_and_reaped_at_once(monkeypatch: pytest.MonkeyPatch, sigterm: str) -> None:
    # "ignored": a process that ignores SIGTERM starts a worker that does too (SIG_IGN
    # survives exec); a test run before this one in the same process had left it so
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN if sigterm == "ignored" else signal.SIG_DFL)
    try:
        monkeypatch.setattr(W, "_prestarted", [W.GateWorker()])  # started in case a run needs GE
    finally:
        signal.signal(signal.SIGTERM, before)
    worker = W._prestarted[0]
    processes, ready = _processes(worker), worker._ready

    gates = W.gates_for(3)  # three cycles: validated here, the prestarted worker is not needed

    assert isinstance(gates, W.ExactGates) and W._prestarted == []
    # reaped before gates_for returned, and its import never finished: not waited for (a
    # worker waited for would have reported ready; one left running has no exit code yet)
    assert len(processes) == 1 and processes[0].exitcode is not None
    assert ready is not None and ready.done()
    assert ready.cancelled() or ready.exception() is not None


def test_a_pending_verdict_is_waited_for_then_an_idle_worker_exits_cleanly() -> None:
    gates = W.GateWorker()
    processes = _processes(gates)
    assert gates._pool is not None
    pending = gates._pool.submit(W._ready)  # a call the worker answers once GE is imported, as a verdict
    gates._verdicts.append(pending)

    gates.close()  # a verdict is pending: close waits for it (neither cancelled nor killed)

    assert pending.done() and not pending.cancelled() and pending.result() is True
    _ended(processes, timeout=60)  # then the idle worker is asked to exit, not killed
    for p in processes:
        assert p.exitcode == 0


def test_discard_prestarted_ends_an_untaken_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "_prestarted", [W.GateWorker()])
    processes = _processes(W._prestarted[0])

    W.discard_prestarted()

    assert W._prestarted == [] and all(p.exitcode is not None for p in processes)


def test_an_idle_worker_ends_without_its_interpreters_teardown() -> None:
    gates = W.GateWorker()
    processes = _processes(gates)
    assert gates._pool is not None
    # a teardown that would take a minute: exit handlers run only in an interpreter's teardown
    assert gates._pool.submit(atexit.register, time.sleep, 60).result(timeout=60) is time.sleep

    t0 = time.perf_counter()
    gates.close()
    _ended(processes, timeout=30)
    seconds = time.perf_counter() - t0

    assert [p.exitcode for p in processes] == [0], f"still running after {seconds:.0f} s: it ran its exit handlers"
