"""The catch-up sensor requests closed cycles in order from its cursor."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from btcbot_pipeline.defs.cycle.jobs import cycle_job
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.defs.cycle.sensors import build_catchup_sensor

PARTITIONS = cycle_partitions("*/5 * * * *", "2026-01-01T00:00")
SENSOR = build_catchup_sensor(cycle_job, PARTITIONS)


def _tick(cursor: str | None, now: datetime) -> dg.SensorResult | dg.SkipReason:
    with dg.partition_loading_context(effective_dt=now):
        return SENSOR(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=cursor))


def test_first_tick_requests_the_last_closed_cycle() -> None:
    # at 00:17:30 the last closed window is [00:10, 00:15)
    result = _tick(None, datetime(2026, 1, 1, 0, 17, 30, tzinfo=timezone.utc))
    assert [r.partition_key for r in result.run_requests] == ["2026-01-01T00:10"]
    assert result.cursor == "2026-01-01T00:10"


def test_catches_up_every_missed_cycle_in_order_up_to_twelve() -> None:
    result = _tick("2026-01-01T00:10", datetime(2026, 1, 1, 2, 0, 1, tzinfo=timezone.utc))
    keys = [r.partition_key for r in result.run_requests]
    assert keys == [f"2026-01-01T{m // 60:02d}:{m % 60:02d}" for m in range(15, 75, 5)]
    assert [r.run_key for r in result.run_requests][:2] == ["cycle-2026-01-01T00:15", "cycle-2026-01-01T00:20"]
    assert result.cursor == "2026-01-01T01:10"


def test_skips_when_nothing_new_closed() -> None:
    result = _tick("2026-01-01T00:10", datetime(2026, 1, 1, 0, 19, tzinfo=timezone.utc))
    assert isinstance(result, dg.SkipReason)


def test_schedule_tick_runs_the_cycle_that_just_closed() -> None:
    from btcbot_pipeline.definitions import build_definitions
    from btcbot_pipeline.settings import load_settings

    schedule = build_definitions(load_settings(None), env_file=None).resolve_schedule_def("cycle_job_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc))
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-01-01T00:05"]
