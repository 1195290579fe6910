"""``backtest``: a named backtest over a replay dataset as one Dagster run, then its report."""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.abc
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.cli import options
from btcbot_pipeline.domain import utc
from btcbot_pipeline.settings import load_settings


def _backtest(args: argparse.Namespace) -> int:
    from btcbot_pipeline.quality.worker import discard_prestarted, prestart

    _arrow_without_pandas()  # before any other thread starts: see there
    prestart()  # Great Expectations starts loading in its worker process while we check and set up
    preloading = _preload(PRELOAD)
    try:
        with _collecting_rarely(preloading) as loaded:
            return _run_backtest(args, loaded)
    finally:
        discard_prestarted()  # a refused backtest never took the worker: end it now, not after its import


def _arrow_without_pandas() -> None:
    """Let pyarrow know, without importing it, that this process has no use for pandas.

    pyarrow's first ``pa.array`` imports pandas only to ask whether the values are a pandas
    object (the values of a run are lists): ~50 MiB and ~0.35 s, in a process that never
    makes a pandas object (its gates build theirs in their worker process). pyarrow tries
    that import once and remembers the answer, so it is asked once while ``import pandas``
    fails; pandas stays importable, and pyarrow imports it when asked for a conversion to
    pandas. Call it before other threads start (one importing pandas meanwhile would fail);
    a process that already imported pandas is left as it is."""
    import pyarrow as pa

    if "pandas" in sys.modules:
        return
    refuse = _RefusePandas()
    sys.meta_path.insert(0, refuse)
    try:
        pa.array([], pa.int64())
    finally:
        sys.meta_path.remove(refuse)


class _RefusePandas(importlib.abc.MetaPathFinder):
    """An import finder under which ``import pandas`` raises ImportError."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"not imported here: {name}", name=name)


# Third-party modules a backtest imports only once its run starts: Dagster's in-process
# execution and in-memory instance (SQLAlchemy, Alembic).
PRELOAD = (
    "dagster._core.execution.execute_in_process",
    "dagster._core.instance.factory",
    "dagster._core.launcher.sync_in_memory_run_launcher",
    "dagster._core.run_coordinator",
    "dagster._core.storage.event_log",
    "dagster._core.storage.runs",
    "dagster._core.storage.root",
    "dagster._core.storage.noop_compute_log_manager",
    "dagster._core.executor.in_process",
    "dagster._core.execution.plan.active",
    "dagster._core.instance.runs.run_domain",
    "dagster._core.storage.schedules",
    "dagster._core.secrets.loader",
    "dagster._core.definitions.repository_definition.repository_data_builder",
    "alembic.command",
    "alembic.config",
    "upath",
)


def _preload(modules: Sequence[str]) -> threading.Thread:
    """Import ``modules`` on a thread of their own, started now.

    The command checks its dataset meanwhile, in DuckDB, which releases the GIL: the imports
    take that time instead of the run's. Only third-party modules, none of which imports
    this package, so the two threads never wait on each other's import locks in a cycle.
    One that fails to import is left to fail where the run imports it, with its own error."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - only a head start; the run imports it again
                continue

    thread = threading.Thread(target=load, name="btcbot-preload", daemon=True)
    thread.start()
    return thread


@contextmanager
def _collecting_rarely(preloading: threading.Thread | None = None) -> Iterator[Callable[[], None]]:
    """No garbage collection while the command loads and sets up; once it calls ``loaded()``,
    what is loaded (Dagster, the dataset) is frozen (no collection walks it again)
    and the run collects as rarely as the engine's window does. The collector's settings
    are restored afterwards (the command also runs inside test processes).

    A 20-day backtest had spent about a second collecting: four full collections over the
    loaded modules and ~500 young ones during the run's setup and events."""
    enabled, threshold = gc.isenabled(), gc.get_threshold()
    gc.disable()

    def loaded() -> None:
        from btcbot_pipeline.engine import QUIET_GC_THRESHOLD

        if preloading is not None:
            preloading.join()  # its modules are frozen with the rest, whichever thread was quicker
        gc.freeze()
        gc.set_threshold(max(threshold[0], QUIET_GC_THRESHOLD), threshold[1], threshold[2])
        if enabled:
            gc.enable()

    try:
        yield loaded
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        if enabled:
            gc.enable()


def _run_backtest(args: argparse.Namespace, loaded: Callable[[], None]) -> int:
    import time

    from btcbot_pipeline.defs.backtest.run import prepare, run, show_progress
    from btcbot_pipeline.defs.backtest.spec import make_spec
    from btcbot_pipeline.reporting.books import open_book
    from btcbot_pipeline.reporting.report import build_report, format_text

    if not dataset_ok(args, "backtest"):
        return 2
    settings = load_settings(args.env_file)
    spec = make_spec(name=args.name, **spec_fields(args))
    prepare(spec, settings.backtest_dir, replace=args.replace)
    loaded()
    print(
        f"backtest {spec.name}: {args.dataset}, {utc.minute_text(spec.start)} … {utc.minute_text(spec.end)} UTC "
        f"by {spec.partition}, book {settings.backtest_dir}/{spec.name}.duckdb",
        flush=True,
    )
    show_progress()
    t0 = time.perf_counter()
    outcome = run(spec, settings.backtest_dir)
    seconds = time.perf_counter() - t0
    if not outcome.success:
        print(f"backtest {spec.name} STOPPED: {outcome.failure}", file=sys.stderr)
        return 1
    with open_book(outcome.book) as con:  # the run drew the chart beside the book already
        report = build_report(con, label=spec.name)
    print(
        f"done: {report.cycles} cycles in {seconds:.1f} s ({report.cycles / seconds:,.0f} cycles/s), Dagster run "
        f"{outcome.run_id}"
    )
    print(format_text([report]))
    chart = outcome.book.with_suffix(".png")
    print(f"chart {chart}" if chart.exists() else "chart not drawn: its error is in the last cycle_trace's metadata")
    return 0


def spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    """A spec's fields from the options ``backtest`` and ``sweep`` share (all but the name)."""
    from btcbot_pipeline.defs.backtest.spec import parse_sets, read_params_file

    return {
        "dataset": str(Path(args.dataset).resolve()),
        "start": args.start,
        "end": args.end,
        "partition": args.partition,
        "env_file": args.env_file,
        "params": read_params_file(args.params) if args.params else None,
        "sets": parse_sets(args.set),
    }


def dataset_ok(args: argparse.Namespace, what: str) -> bool:
    """Whether ``--dataset`` validates and ``--start`` lies within its order books; if not,
    the reasons on stderr, ending with ``<what> not started: …``."""
    from btcbot_pipeline.adapters.replay.span import dataset_span

    checked = validate_replay_dataset(args.dataset)
    if not checked.ok:
        print(checked.format_text(), file=sys.stderr)
        print(
            f"{what} not started: the dataset {args.dataset} has errors (btcbot replay-validate lists them)",
            file=sys.stderr,
        )
        return False
    span = dataset_span(args.dataset)
    if span is not None and (args.start < span.first or args.start > span.last):
        print(
            f"{what} not started: --start {utc.minute_text(args.start)} is outside the dataset's order books "
            f"({utc.minute_text(span.first)} … {utc.minute_text(span.last)} UTC); a cycle without data stops at the "
            "market gate: start within that span",
            file=sys.stderr,
        )
        return False
    return True


def add_backtest(sub: options.Subparsers) -> None:
    p = sub.add_parser("backtest", help="run a named backtest over a replay dataset as one Dagster run, then report it")
    options.dataset(p, "replay dataset folder (validated first; errors exit 2)")
    p.add_argument("--start", type=options.utc, required=True, help="first cycle, UTC (e.g. 2018-01-10T00:00)")
    p.add_argument("--end", type=options.utc, required=True, help="end of the window, exclusive, UTC")
    p.add_argument("--name", required=True, help="its book is BACKTEST_DIR/NAME.duckdb (letters, digits, _)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a setting for this backtest (repeatable)"
    )
    p.add_argument("--params", metavar="FILE", help="settings for this backtest: KEY=VALUE lines or a JSON object")
    p.add_argument("--partition", choices=("day", "week"), default="day", help="Dagster partition size (default day)")
    p.add_argument("--replace", action="store_true", help="delete an existing backtest of this name first")
    options.env_file(p)
    p.set_defaults(func=_backtest)
