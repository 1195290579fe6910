"""Great Expectations in a second process, so its ~2–3 s import and its validations run
beside the cycles instead of before them (these machines have two cores).

:class:`GateWorker` has the engine's ``Gates`` interface: :meth:`frame` builds the narrow
frame here (pure pandas), :meth:`validate_frames` hands the frames of a chunk to the
worker process, which validates them with the same suites (:mod:`.expectations`) and
sends the verdicts back (:meth:`GateWorker.submit` returns at once: the run can do other
work, such as a backtest's report, while the gates run). The worker is started (and begins importing GE) before the run
loads its dataset; if it cannot start or dies, validation falls back to this process, so
a gate never goes unchecked.

Nothing outlives the command: :meth:`GateWorker.close` ends the worker (see there), and
the process that "spawn" starts beside it to track semaphores is stopped and waited for
when this process exits (else it outlives the command and is left an unreaped zombie).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.util
import os
import sys
import types
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from btcbot_pipeline.quality import expectations
from btcbot_pipeline.quality.rules import (
    SUITES,
    Frame,
    GateResult,
    Suite,
    evaluate_exact,
    with_rows,
)


def _ready() -> bool:
    expectations._gx()  # import GE and build the context once, in the worker
    return True


class _QuickExitProcess(multiprocessing.context.SpawnProcess):
    """The worker's process: once its work loop has returned (the pool told it to stop), it
    ends at once instead of tearing its interpreter down.

    With GE loaded that teardown took ~0.5 s, and the command waits for its worker at exit
    (nothing outlives it), so every backtest ended that much later. Everything the worker
    had to say has been sent by then (its results go through a pipe, written as they are
    made); only its own standard streams are flushed. A work loop that fails still ends
    the usual way, with its exit code."""

    def run(self) -> None:
        super().run()
        multiprocessing.util._exit_function()  # what multiprocessing does next: its finalizers
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


class _QuickExitContext(multiprocessing.context.SpawnContext):
    """The "spawn" context, its processes ending at once (:class:`_QuickExitProcess`)."""

    Process = _QuickExitProcess


def _start_worker(parent: int) -> None:
    """The worker's initializer: it ends with its parent, and GE's unused modules load lazily."""
    _end_with_parent(parent)
    expectations.defer_unused_modules()


def _end_with_parent(parent: int) -> None:
    """In the worker: end it when the process that started it is gone.

    A command killed outright (SIGKILL, the OOM killer) never closes its pool, and the
    worker would wait on its call queue for ever: it holds the queue's writing end itself,
    so it never reads an end of file. A daemon thread checks the parent once a second."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="btcbot-parent-watch", daemon=True).start()


def _validate(suite_name: str, ge_frames: Sequence[Any]) -> GateResult:
    """In the worker: GE's verdict over the narrow frames (offending rows are rendered by
    the caller, from the columns it kept)."""
    return expectations.validate_ge(SUITES[suite_name], ge_frames)


log = logging.getLogger(__name__)

# Below a day of cycles the run is over before a worker's GE import would be: validate here.
WORKER_MIN_CYCLES = 288
# GATE_VALIDATOR=auto: a run of fewer cycles (a scheduled cycle, a short catch-up) is
# validated by the exact evaluator, which gives GE's verdicts without GE's ~3 s import.
GE_MIN_CYCLES = 12
VALIDATORS = ("auto", "great_expectations", "exact")


class ExactGates:
    """The same interface without Great Expectations: each suite evaluated in pure Python by
    :func:`~btcbot_pipeline.quality.rules.evaluate_exact`, which reproduces GE's verdicts
    failure for failure (expectation type, observed count, offending rows; tested). A frame
    is the suite's narrow columns (no pandas)."""

    name = "exact"

    def __enter__(self) -> "ExactGates":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def frame(self, suite: Suite, frame: Frame) -> Any:
        return expectations.narrow(suite, frame)

    def submit(self, suite: Suite, frames: Sequence[Any]) -> Callable[[], tuple[GateResult, Frame]]:
        def result() -> tuple[GateResult, Frame]:
            whole = Frame.concat(list(frames))
            verdict = evaluate_exact(suite, whole)
            return verdict, (Frame({}, 0) if verdict.passed else whole)

        return result


class InProcessGates:
    """The same interface, validating in this process (GE imported once per process)."""

    name = "great_expectations"

    def __enter__(self) -> "InProcessGates":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def frame(self, suite: Suite, frame: Frame) -> Any:
        return expectations.frame(suite, frame)

    def validate_frames(self, suite: Suite, frames: Sequence[Any]) -> tuple[GateResult, Frame]:
        return expectations.validate_frames(suite, frames)

    def submit(self, suite: Suite, frames: Sequence[Any]) -> Callable[[], tuple[GateResult, Frame]]:
        return lambda: self.validate_frames(suite, frames)


_prestarted: list["GateWorker"] = []
# Workers told to exit that may still be tearing down (see GateWorker.close).
_idle: list[ProcessPoolExecutor] = []


def end_idle_workers() -> None:
    """Terminate and reap the worker processes that have no verdict left to give (closed
    idle, or prestarted and never used), at once: for a command about to end its process
    (``btcbot``), which would otherwise wait for each worker's interpreter teardown
    (~0.8 s with GE loaded) before exiting."""
    discard_prestarted()
    while _idle:
        pool = _idle.pop()
        for process in list((pool._processes or {}).values()):  # the executor has no public handle
            process.terminate()
            process.join()
        pool.shutdown(wait=True)


def prestart() -> None:
    """Start the worker now (``btcbot backtest``, before it checks the dataset and builds
    its definitions), so GE's import is under way by the time the run begins."""
    if not _prestarted and not expectations.imported():
        _prestarted.append(GateWorker())


def discard_prestarted() -> None:
    """End a prestarted worker no run took (the command stopped before its run: a bad
    dataset, a refused spec), without waiting for its GE import to finish."""
    while _prestarted:
        _prestarted.pop().close()


def gates_for(cycles: int, validator: str = "auto") -> "GateWorker | InProcessGates | ExactGates":
    """Who validates a run of ``cycles`` cycles.

    ``validator`` (``GATE_VALIDATOR``): ``exact`` always validates in pure Python;
    ``auto`` does so below :data:`GE_MIN_CYCLES` cycles, where Great Expectations' import
    would be most of the run's time; otherwise GE: the prestarted worker if any, a new
    worker process for a long run in a process that has not imported GE yet (``dagster
    asset materialize`` of many cycles), else this process (short runs, and long-lived
    processes such as ``dagster dev`` or tests, where GE is imported already)."""
    if validator not in VALIDATORS:
        raise ValueError(f"GATE_VALIDATOR must be one of {', '.join(VALIDATORS)}, not {validator!r}")
    if validator == "exact" or (validator == "auto" and cycles < GE_MIN_CYCLES):
        discard_prestarted()  # a worker started in case GE was needed: not needed
        return ExactGates()
    if _prestarted:
        return _prestarted.pop()
    if cycles >= WORKER_MIN_CYCLES and not expectations.imported():
        return GateWorker()
    return InProcessGates()


@contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Start the worker without re-running this process's main module in it.

    "spawn" imports the parent's ``__main__`` again in the child; some entry points run
    their command at import (``python -m dagster``, which Dagster's run launcher uses),
    which would start a second CLI inside the worker. The worker needs nothing from it."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _stop_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker and wait for it.

    "spawn" starts it beside the first worker; it ends only when this process's end closes
    its pipe, and nobody waits for it then (Python < 3.13). Run at exit after every
    semaphore's own finalizer (priority 0) has unregistered it, so the tracker has nothing
    left to clean up; if this process never started one, there is nothing to stop."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        try:
            stop()
        except (OSError, ChildProcessError):  # already gone
            pass


_tracker_stop_registered = False


def _stop_resource_tracker_at_exit() -> None:
    global _tracker_stop_registered
    if not _tracker_stop_registered:
        # exitpriority -1: multiprocessing's exit handler runs it after the priority-0
        # finalizers (the semaphores') and after joining its child processes
        multiprocessing.util.Finalize(None, _stop_resource_tracker, exitpriority=-1)
        _tracker_stop_registered = True


class GateWorker:
    """One worker process for a run's gate validations (use as a context manager)."""

    name = "great_expectations"

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future[bool] | None = None
        self._verdicts: list[Future[Any]] = []
        try:
            # spawn: a clean interpreter (no threads or locks inherited from Dagster's process)
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=_QuickExitContext(),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            _stop_resource_tracker_at_exit()
            with _main_not_reimported():  # the process starts on this first submit
                self._ready = self._pool.submit(_ready)  # the worker starts importing GE now
        except (OSError, RuntimeError):
            self._pool = None

    def __enter__(self) -> "GateWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the worker process; it is always waited for before this process exits.

        A verdict still pending is waited for here. A worker still importing GE for a run
        that turned out not to need it is terminated (no reason to let the import finish).
        An idle worker is told to exit and does so at once, beside the rest of the command
        (:class:`_QuickExitProcess`: no interpreter teardown): the executor's manager thread
        joins it, and Python joins that thread before it exits. (Terminating an idle worker
        would not make the command shorter, and the resource tracker then warned of a
        leaked semaphore at exit.)"""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pending = any(not f.done() for f in self._verdicts)
        self._verdicts.clear()
        if pending:
            pool.shutdown(wait=True)
        elif self._ready is not None and not self._ready.done():
            # SIGKILL, not SIGTERM: a worker started by a process that ignores SIGTERM inherits
            # that (SIG_IGN survives exec), and shutdown() then waited for its whole import
            for process in list((pool._processes or {}).values()):  # the executor has no public handle
                process.kill()
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            pool.shutdown(wait=False, cancel_futures=True)
            _idle.append(pool)

    def frame(self, suite: Suite, frame: Frame) -> Any:
        return expectations.frame(suite, frame)

    def validate_frames(self, suite: Suite, frames: Sequence[Any]) -> tuple[GateResult, Frame]:
        return self.submit(suite, frames)()

    def submit(self, suite: Suite, frames: Sequence[Any]) -> Callable[[], tuple[GateResult, Frame]]:
        """Hand a chunk's frames to the worker now; the returned call waits for the verdict
        (or validates here if the worker is gone)."""
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(_validate, suite.name, [f.ge for f in frames])
                self._verdicts = [f for f in self._verdicts if not f.done()] + [future]
            except BrokenProcessPool:
                self.close()

        def result() -> tuple[GateResult, Frame]:
            if future is not None:
                try:
                    verdict = future.result()
                    if verdict.passed:
                        return verdict, Frame({}, 0)
                    shown = Frame.concat([f.shown for f in frames])
                    return with_rows(verdict, shown), shown
                except BrokenProcessPool as exc:
                    self.close()  # the worker died: validate here from now on
                    log.warning("the gate worker process stopped (%s); validating in this process", exc)
            return expectations.validate_frames(suite, frames)

        return result
