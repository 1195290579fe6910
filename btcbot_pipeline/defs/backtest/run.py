"""``btcbot backtest``: make the spec, then run every partition of it as ONE Dagster run.

The run is recorded in the instance at ``DAGSTER_HOME`` when it is set (so it shows in
the UI beside backfills launched there), else in a throwaway in-memory instance. Its
cycles run in order in this process; progress lines (partitions done, cycles/s, equity)
come from the asset's own log messages through a quiet console logger.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import dagster as dg

from btcbot_pipeline.defs.backtest.assets import backtest_graph, build_backtest
from btcbot_pipeline.defs.backtest.spec import (
    BacktestSpec,
    SpecError,
    book_path,
    save_spec,
    spec_path,
)
from btcbot_pipeline.defs.run_tags import book_tags
from btcbot_pipeline.engine import PROGRESS_LOGGER

TAG = "btcbot/backtest"


def show_progress() -> None:
    """Print the engine's progress lines (``btcbot.progress``) on stdout, plainly."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    if not any(getattr(h, "_btcbot", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("  %(message)s"))
        handler._btcbot = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@dataclass(frozen=True)
class BacktestRun:
    spec: BacktestSpec
    book: Path
    success: bool
    run_id: str
    failure: str | None


def prepare(spec: BacktestSpec, backtest_dir: str | Path, *, replace: bool = False) -> None:
    """Record the spec beside the book. An existing backtest of that name is continued
    only with the same spec; ``replace`` deletes its book and spec first."""
    book, saved = book_path(backtest_dir, spec.name), spec_path(backtest_dir, spec.name)
    if replace:
        for path in (book, Path(f"{book}.wal"), saved):
            path.unlink(missing_ok=True)
    elif saved.exists():
        old = BacktestSpec.model_validate_json(saved.read_text(encoding="utf-8"))
        if old != spec:
            changed = sorted(
                k for k in ("dataset", "start", "end", "partition") if getattr(old, k) != getattr(spec, k)
            ) + sorted(k for k in set(old.settings) | set(spec.settings) if old.settings.get(k) != spec.settings.get(k))
            raise SpecError(
                f"backtest '{spec.name}' already exists with another spec (differs in {', '.join(changed)}): "
                "run it under another --name to keep both, or pass --replace to start it over"
            )
    save_spec(spec, backtest_dir)


def run(spec: BacktestSpec, backtest_dir: str | Path, *, instance: dg.DagsterInstance | None = None) -> BacktestRun:
    """Every partition of the backtest as one run, in order."""
    assets, resources = build_backtest(spec, backtest_dir)
    graph = backtest_graph(spec, backtest_dir)
    keys = graph.partitions_def.get_partition_keys()
    job = dg.define_asset_job(
        f"{graph.group}_job", selection=dg.AssetSelection.groups(graph.group), executor_def=dg.in_process_executor
    )
    defs = dg.Definitions(assets=assets, resources=resources, jobs=[job])
    throwaway = instance is None and not os.environ.get("DAGSTER_HOME")
    if instance is None:
        instance = dg.DagsterInstance.ephemeral() if throwaway else dg.DagsterInstance.get()
    with _planned_as_ranges(throwaway):
        result = defs.resolve_job_def(job.name).execute_in_process(
            instance=instance,
            raise_on_error=False,
            # Dagster's own event lines stay in the instance; the terminal shows our progress.
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            tags={
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
                TAG: spec.name,
                **book_tags(book_path(backtest_dir, spec.name)),
            },
        )
    return BacktestRun(
        spec,
        book_path(backtest_dir, spec.name),
        result.success,
        result.run_id,
        None if result.success else _failure(result),
    )


# Dagster's switch: a run over a range of partitions records one "planned" event per asset
# for the whole range, not one per asset and partition (147 events, ~0.25 s, for 21 days).
# Its cost, per Dagster: a failed run no longer marks its partitions failed in the
# instance; only worth it for an instance thrown away when the command ends.
_PLANNED_AS_RANGES = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


@contextmanager
def _planned_as_ranges(throwaway: bool) -> Iterator[None]:
    """For a run recorded in a throwaway in-memory instance (``btcbot backtest`` without
    ``DAGSTER_HOME``): Dagster's planned events as ranges while it runs."""
    if not throwaway or _PLANNED_AS_RANGES in os.environ:
        yield
        return
    os.environ[_PLANNED_AS_RANGES] = "true"
    try:
        yield
    finally:
        del os.environ[_PLANNED_AS_RANGES]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                return user.description
            error = event.step_failure_data.error
            return error.message.strip() if error else "the run failed"
    return "the run failed"
