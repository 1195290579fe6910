"""The run-failure sensor: a cycle run that failed becomes an alert in its book and, for
the dry-run book, a POST to ``ALERT_WEBHOOK_URL`` (:func:`btcbot_pipeline.alerting.on_run_failure`).

It watches every job of the code location and acts on the runs of the cycle assets: the
dry-run graph (its book is ``STATE_DB_PATH``) and the backtest graphs (keys
``backtest/<name>/<stage>``, book ``BACKTEST_DIR/<name>.duckdb``: recorded, never posted).
A gate stop is already an alert the cycle recorded and posted (``gate_failure:<cycle
id>``): the same id is not added nor posted again. Anything else (a crash, the book
locked past the retries, refused settings) is a CRITICAL ``run_failed`` alert.

It runs by default (it only reports), and reads the settings at each evaluation, like
the catch-up sensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import dagster as dg

from btcbot_pipeline.alerting import RunFailure, on_run_failure
from btcbot_pipeline.defs.backtest.spec import book_path
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings

STAGES = frozenset(
    {
        "market_snapshot",
        "universe",
        "portfolio_plan",
        "order_intents",
        "simulated_fills",
        "ledger_snapshot",
        "cycle_trace",
    }
)


def run_asset_keys(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[dg.AssetKey]:
    """The assets a run was to materialize: its asset selection, else (a job over every
    asset, e.g. ``dg.materialize``) the keys of its planned materializations."""
    if run.asset_selection:
        return frozenset(run.asset_selection)
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    return frozenset(r.event_log_entry.dagster_event.asset_key for r in records if r.event_log_entry.dagster_event)


def cycle_graph(keys: frozenset[dg.AssetKey]) -> tuple[str, str | None] | None:
    """``("dry_run", None)``, ``("backtest", name)`` or ``None`` (not a run of cycle assets)."""
    for key in sorted(keys, key=lambda k: k.path):
        path = key.path
        if path[-1] not in STAGES:
            continue
        if len(path) == 1:
            return "dry_run", None
        if len(path) == 3 and path[0] == "backtest":
            return "backtest", path[1]
    return None


def failure_texts(context: dg.RunFailureSensorContext) -> tuple[str, ...]:
    """Each failed step's error and description, else the run failure's message."""
    texts: list[str] = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            texts.append(data.user_failure_data.description)
        elif data.error is not None:
            texts.append(data.error.message.strip())
    if not texts and context.failure_event.message:
        texts.append(context.failure_event.message)
    return tuple(texts)


def build_alert_sensor(load: Callable[[], BotSettings] = load_settings) -> dg.SensorDefinition:
    """``load``: how to read the settings at each evaluation (tests pass their own)."""

    @dg.run_failure_sensor(
        name="cycle_failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records a failed cycle run as an alert in its book (CRITICAL run_failed; a gate stop is the "
        "cycle's own gate_failure alert, never posted twice) and posts it to ALERT_WEBHOOK_URL for the dry-run book.",
        tags={"btcbot/mode": "dry_run", "btcbot/kind": "alerts"},  # run-status sensors take no owners (1.13)
    )
    def cycle_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        graph = cycle_graph(run_asset_keys(context.instance, run))
        if graph is None:
            context.log.info(f"run {run.run_id[:8]} of {run.job_name} is not a cycle run: no alert")
            return
        try:
            cfg = load()
        except SettingsError as exc:
            context.log.warning(f"no alert for run {run.run_id[:8]}: settings refused: {str(exc).splitlines()[0]}")
            return
        kind, name = graph
        db = Path(cfg.state_db_path) if name is None else book_path(cfg.backtest_dir, name)
        first = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start")
        last = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_end")
        failure = RunFailure(run.run_id, run.job_name, first, last, failure_texts(context))
        done = on_run_failure(db, cfg, failure, kind=kind, book_name=name or db.stem)
        context.log.info(f"run {run.run_id[:8]} failed: {done}")

    return cycle_failure_alert_sensor
