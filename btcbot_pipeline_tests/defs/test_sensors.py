"""The catch-up sensor and the schedule: where they start, order, bound, shared run keys, skips."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.defs.cycle.jobs import cycle_job
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.defs.cycle.sensors import build_catchup_sensor

PARTITIONS = cycle_partitions("*/5 * * * *", "2026-01-01T00:00")
SENSOR = build_catchup_sensor(cycle_job, PARTITIONS)


def _schedule(at: datetime, instance: dg.DagsterInstance) -> dg.ScheduleExecutionData:
    """A tick of the project's schedule, partitions ending 2026-01-02T00:00 (as the demo)."""
    from btcbot_pipeline.definitions import build_definitions
    from btcbot_pipeline.settings import load_settings

    defs = build_definitions(load_settings(None, CYCLE_PARTITIONS_END="2026-01-02T00:00"), env_file=None)
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=defs.get_repository_def(), instance=instance
    )
    return defs.resolve_schedule_def("cycle_job_schedule").evaluate_tick(context)


def _at(h: int, m: int, s: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, h, m, s, tzinfo=timezone.utc)


def _keys(first_minute: int, last_minute: int) -> list[str]:
    return [f"2026-01-01T{m // 60:02d}:{m % 60:02d}" for m in range(first_minute, last_minute + 1, 5)]


@pytest.fixture(autouse=True)
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings of a running dry-run bot (read at each tick), no .env in the way."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "STAGE7_ENABLED": "true",
        "DRY_RUN": "true",
        "KILL_SWITCH": "false",
        "CATCHUP_MAX_RUNS_PER_TICK": "12",
    }.items():
        monkeypatch.setenv(name, value)


def _tick(
    cursor: str | None, now: datetime, instance: dg.DagsterInstance | None = None
) -> dg.SensorResult | dg.SkipReason:
    with dg.partition_loading_context(effective_dt=now):
        return SENSOR(dg.build_sensor_context(instance=instance or dg.DagsterInstance.ephemeral(), cursor=cursor))


def test_a_new_instance_catches_up_from_the_first_cycle_in_order_up_to_the_bound() -> None:
    result = _tick(None, _at(2, 0, 1))

    assert [r.partition_key for r in result.run_requests] == _keys(0, 55)  # 12 of the 24 closed cycles
    assert [r.run_key for r in result.run_requests][:2] == ["cycle-2026-01-01T00:00", "cycle-2026-01-01T00:05"]
    assert result.cursor == "2026-01-01T00:55"
    again = _tick(result.cursor, _at(2, 1))
    assert [r.partition_key for r in again.run_requests] == _keys(60, 115)
    assert isinstance(_tick(again.cursor, _at(2, 2)), dg.SkipReason)  # kept up


def test_thirty_cycles_missed_in_downtime_are_caught_up_in_order_then_it_keeps_up() -> None:
    # the bot ran up to 00:10, then was down until 02:45:01: 00:15 … 02:40 never ran
    requested, cursor = [], "2026-01-01T00:10"
    for now in (_at(2, 45, 1), _at(2, 46, 1), _at(2, 47, 1)):
        result = _tick(cursor, now)
        assert isinstance(result, dg.SensorResult)
        requested += [r.partition_key for r in result.run_requests]
        cursor = result.cursor

    assert requested == _keys(15, 160) and len(requested) == 30  # 12 + 12 + 6, oldest first, none twice
    assert isinstance(_tick(cursor, _at(2, 48, 1)), dg.SkipReason)
    assert [r.partition_key for r in _tick(cursor, _at(2, 50, 1)).run_requests] == ["2026-01-01T02:45"]


def test_without_a_cursor_it_starts_after_the_last_materialized_ledger() -> None:
    instance = dg.DagsterInstance.ephemeral()
    for key in ("2026-01-01T00:10", "2026-01-01T00:20"):
        instance.report_runless_asset_event(dg.AssetMaterialization("ledger_snapshot", partition=key))

    result = _tick(None, _at(0, 47, 30), instance)

    assert [r.partition_key for r in result.run_requests] == _keys(25, 40)


def test_the_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATCHUP_MAX_RUNS_PER_TICK", "3")
    assert [r.partition_key for r in _tick("2026-01-01T00:10", _at(2, 0, 1)).run_requests] == _keys(15, 25)


def test_the_sensor_and_the_schedule_say_why_they_skip(
    monkeypatch: pytest.MonkeyPatch, persistent: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("STAGE7_ENABLED", "false")
    reason = "STAGE7_ENABLED is false: the dry-run cycle is disabled, no cycle requested"

    sensed = _tick(None, _at(1, 0, 1))
    scheduled = _schedule(_at(0, 10), persistent)

    assert isinstance(sensed, dg.SkipReason) and sensed.skip_message == reason
    assert scheduled.skip_message == reason and not scheduled.run_requests


def test_refused_settings_pause_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATCHUP_MAX_RUNS_PER_TICK", "zero")

    sensed = _tick(None, _at(1, 0, 1))

    assert isinstance(sensed, dg.SkipReason)
    assert sensed.skip_message.startswith("settings refused, no cycle requested: ")


def test_the_kill_switch_does_not_skip_cycles(monkeypatch: pytest.MonkeyPatch, persistent: dg.DagsterInstance) -> None:
    # the kill switch freezes execution inside the cycle; the cycle still runs and is recorded
    monkeypatch.setenv("KILL_SWITCH", "true")

    sensed = _tick("2026-01-01T00:50", _at(1, 0, 1))
    scheduled = _schedule(_at(3, 10), persistent)

    assert [r.partition_key for r in sensed.run_requests] == ["2026-01-01T00:55"]
    assert [(r.partition_key, r.run_key) for r in scheduled.run_requests] == [
        ("2026-01-01T03:05", "cycle-2026-01-01T03:05")
    ]


def test_the_sensor_skips_when_nothing_new_closed() -> None:
    result = _tick("2026-01-01T00:10", _at(0, 19))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "no new closed cycle: the last one, 2026-01-01T00:10, is requested already"


def test_schedule_runs_the_cycle_that_just_closed_with_the_sensors_run_key(persistent: dg.DagsterInstance) -> None:
    requests = _schedule(_at(0, 10), persistent).run_requests
    sensed = _tick("2026-01-01T00:00", _at(0, 10, 30)).run_requests

    assert [(r.partition_key, r.run_key) for r in requests] == [("2026-01-01T00:05", "cycle-2026-01-01T00:05")]
    assert requests[0].run_key == sensed[0].run_key


def test_nothing_runs_past_the_partitions_end(persistent: dg.DagsterInstance) -> None:
    last = _schedule(_at(0, 0, day=2), persistent)
    after = _schedule(_at(0, 5, day=2), persistent)

    assert [r.partition_key for r in last.run_requests] == ["2026-01-01T23:55"]
    assert not after.run_requests
    assert after.skip_message == "past CYCLE_PARTITIONS_END (2026-01-02T00:00): no cycle closed at 2026-01-02T00:05"


def _dry_run(instance: dg.DagsterInstance, key: str) -> None:
    """A run of that cycle, as the schedule or the sensor launches it (tags)."""
    instance.add_run(
        dg.DagsterRun(
            job_name="cycle_job", run_id=f"run-{key}", tags={"dagster/partition": key, "btcbot/mode": "dry_run"}
        )
    )


def test_neither_requests_a_cycle_the_other_has_run(persistent: dg.DagsterInstance) -> None:
    _dry_run(persistent, "2026-01-01T01:05")  # the schedule ran 01:05
    _dry_run(persistent, "2026-01-01T01:15")

    sensed = _tick("2026-01-01T00:55", _at(1, 22), persistent)
    scheduled = _schedule(_at(1, 10), persistent)
    caught_up = _tick("2026-01-01T01:10", _at(1, 22), persistent)

    assert [r.partition_key for r in sensed.run_requests] == ["2026-01-01T01:00", "2026-01-01T01:10"]
    assert scheduled.skip_message == "cycle 2026-01-01T01:05 has a run already (the catch-up sensor's)"
    assert caught_up.skip_message == "every closed cycle up to 2026-01-01T01:15 has a run already"
