"""Running the dry-run cycles on time: the schedule and the catch-up sensor.

Both name a cycle's run ``cycle-<partition key>`` (:func:`run_key`) and tag it
``btcbot/mode=dry_run`` and ``btcbot/book=<STATE_DB_PATH resolved>`` (the instance's queue
runs one run per book at a time); Dagster scopes run keys to one schedule or sensor, so each also
leaves out a cycle that already has a dry-run run (:func:`_not_run_yet`): a cycle both
request runs once. Both read
the settings at each tick and skip, saying why, when ``STAGE7_ENABLED`` is false or the
settings are refused. The kill switch does not pause them: with ``KILL_SWITCH=true`` the
cycles still run and record plan, trace and accounting, and the cycle itself places and
cancels nothing (resting orders stay), so no cycle is left to run after the fact when it is
switched off. Neither ever asks for a cycle past ``CYCLE_PARTITIONS_END``: the
partitions stop there.

The schedule runs the cycle that just closed at each cron tick; if the daemon was down,
it does not go back. The sensor does: with no cursor it starts from the cycle after the
last materialized ``ledger_snapshot`` (the first partition in a new instance) and each
tick requests every closed cycle after that, oldest first, at most
``CATCHUP_MAX_RUNS_PER_TICK``; then it keeps up. ``max_concurrent_runs: 1`` in
dagster.yaml runs them one at a time, in order, so each carries the ledger of the one
before.
"""

from __future__ import annotations

import dagster as dg

from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.cycle.partitions import closed_at
from btcbot_pipeline.defs.run_tags import book_tags
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings

LEDGER = dg.AssetKey("ledger_snapshot")


def run_key(partition_key: str) -> str:
    """The one run key of a dry-run cycle, whoever requests it."""
    return f"cycle-{partition_key}"


def _paused(settings: BotSettings | None, error: str | None) -> str | None:
    """Why no cycle should be requested now, or ``None``. The kill switch is not a reason: it
    freezes execution inside the cycle, and the cycle still records what it saw."""
    if error is not None:
        return f"settings refused, no cycle requested: {error}"
    assert settings is not None
    if not settings.stage7_enabled:
        return "STAGE7_ENABLED is false: the dry-run cycle is disabled, no cycle requested"
    return None


def _run_tags(settings: BotSettings) -> dict[str, str]:
    """A requested cycle's run tags: its mode and its book, from the settings read at this tick
    (the same the definitions load: their job carries the same book)."""
    return {"btcbot/mode": "dry_run", **book_tags(settings.state_db_path)}


def _settings() -> tuple[BotSettings | None, str | None]:
    try:
        return load_settings(), None
    except SettingsError as exc:
        return None, str(exc).splitlines()[0]


def build_catchup_sensor(
    job: dg.UnresolvedAssetJobDefinition, partitions_def: dg.TimeWindowPartitionsDefinition, max_per_tick: int = 12
) -> dg.SensorDefinition:
    @dg.sensor(
        name="cycle_catchup_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests every closed dry-run cycle not run yet, oldest first (from the cycle after the last "
        "materialized ledger), at most CATCHUP_MAX_RUNS_PER_TICK per tick; run keys shared with the schedule.",
        tags={"btcbot/mode": "dry_run"},
        owners=OWNERS,
    )
    def cycle_catchup_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        settings, error = _settings()
        paused = _paused(settings, error)
        if paused:
            return dg.SkipReason(paused)
        assert settings is not None  # _paused refuses the rest
        bound = settings.catchup_max_runs_per_tick if settings is not None else max_per_tick
        tags = _run_tags(settings)
        last = partitions_def.get_last_partition_key()
        if last is None:
            return dg.SkipReason("no cycle has closed yet")
        after = context.cursor or _last_ledger(context.instance)
        if after is not None and after >= last:
            return dg.SkipReason(f"no new closed cycle: the last one, {last}, is requested already")
        first = partitions_def.get_first_partition_key() if after is None else None
        # Range APIs only: enumerating every key of a large partition set is O(n).
        keys = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(first or after, last))
        if after is not None:
            keys = keys[1:]
        keys = _not_run_yet(context.instance, keys)
        if not keys:
            return dg.SkipReason(f"every closed cycle up to {last} has a run already")
        batch = keys[:bound]
        if len(keys) > bound:
            context.log.info(
                f"bound reached: {bound} of {len(keys)} missing cycles requested, the rest on the next ticks"
            )
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key(k), partition_key=k, tags=tags) for k in batch],
            cursor=batch[-1],
        )

    return cycle_catchup_sensor


def _not_run_yet(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """``keys`` without the cycles a dry-run run exists for (the schedule's or the sensor's)."""
    if not keys:
        return keys
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": keys, "btcbot/mode": "dry_run"}))
    ran = {r.tags.get("dagster/partition") for r in runs}
    return [k for k in keys if k not in ran]


def _last_ledger(instance: dg.DagsterInstance) -> str | None:
    """The newest partition with a ledger materialization (keys sort as times)."""
    done = instance.get_materialized_partitions(LEDGER)
    return max(done) if done else None


def build_cycle_schedule(
    job: dg.UnresolvedAssetJobDefinition, partitions_def: dg.TimeWindowPartitionsDefinition, cron: str
) -> dg.ScheduleDefinition:
    """At each ``CYCLE_CRON`` tick, the cycle that just closed. Stopped until a user starts it
    (``dagster schedule start cycle_job_schedule`` or the UI toggle): a schedule that trades
    on its own should be switched on deliberately."""

    @dg.schedule(
        name="cycle_job_schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="The dry-run cycle that just closed, at each CYCLE_CRON tick (run key shared with the catch-up "
        "sensor).",
        tags={"btcbot/mode": "dry_run"},
        owners=OWNERS,
    )
    def cycle_job_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        settings, error = _settings()
        paused = _paused(settings, error)
        if paused:
            return dg.SkipReason(paused)
        key = closed_at(partitions_def, context.scheduled_execution_time)
        if isinstance(key, dg.SkipReason):
            return key
        if not _not_run_yet(context.instance, [key]):
            return dg.SkipReason(f"cycle {key} has a run already (the catch-up sensor's)")
        assert settings is not None  # _paused refuses the rest
        return dg.RunRequest(run_key=run_key(key), partition_key=key, tags=_run_tags(settings))

    return cycle_job_schedule
