"""Every run the bot's locations launch names its book (``btcbot/book``): the dry-run job and
its schedule's and catch-up sensor's requests (``STATE_DB_PATH``), the live job and its
schedule's requests (``LIVE_STATE_DB_PATH``). The instance's queue runs one run per book."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.definitions import build_definitions
from btcbot_pipeline.defs.run_tags import BOOK_TAG
from btcbot_pipeline.live_definitions import build_live_definitions
from btcbot_pipeline.settings import load_settings

AT = datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc)  # a cron tick: the cycle of 00:05 has just closed


def _ours(tags: dict[str, str]) -> dict[str, str]:
    """The bot's tags (Dagster adds its own: partition, schedule name, ...)."""
    return {k: v for k, v in tags.items() if k.startswith("btcbot/")}


def _tick(defs: dg.Definitions, schedule: str, instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    """The run requests of ``schedule``'s tick at ``AT``. The context is closed after the tick:
    its evaluation opens an instance that Dagster makes current, and one left to the garbage
    collector breaks later loads."""
    with dg.build_schedule_context(
        scheduled_execution_time=AT, repository_def=defs.get_repository_def(), instance=instance
    ) as context:
        return list(defs.resolve_schedule_def(schedule).evaluate_tick(context).run_requests or [])


@pytest.fixture(autouse=True)
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dry-run bot's settings (read at each tick) with relative book paths, from tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "STAGE7_ENABLED": "true",
        "DRY_RUN": "true",
        "KILL_SWITCH": "false",
        "STATE_DB_PATH": "data/dry.duckdb",
        "LIVE_STATE_DB_PATH": "data/live.duckdb",
        "CYCLE_PARTITIONS_END": "2026-01-02T00:00",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_the_dry_run_job_schedule_and_sensor_name_the_dry_run_book(
    running: Path, persistent: dg.DagsterInstance
) -> None:
    defs = build_definitions(load_settings(None), env_file=None)
    book = str(running / "data" / "dry.duckdb")
    assert defs.resolve_job_def("cycle_job").tags == {"btcbot/mode": "dry_run", BOOK_TAG: book}
    scheduled = _tick(defs, "cycle_job_schedule", persistent)
    with dg.partition_loading_context(effective_dt=AT):
        sensed = defs.resolve_sensor_def("cycle_catchup_sensor")(
            dg.build_sensor_context(instance=persistent, cursor="2026-01-01T00:00")
        ).run_requests
    expected = [("2026-01-01T00:05", {"btcbot/mode": "dry_run", BOOK_TAG: book})]
    assert [(r.partition_key, _ours(r.tags)) for r in scheduled] == expected
    assert [(r.partition_key, _ours(r.tags)) for r in sensed] == expected


def test_the_live_job_and_schedule_name_the_live_book(running: Path, persistent: dg.DagsterInstance) -> None:
    # with CYCLE_PARTITIONS_END set (the demo profile) the job's partitions are static: the
    # location must still load, and its schedule still ask for the cycle that just closed
    defs = build_live_definitions(load_settings(None), env_file=None)
    book = str(running / "data" / "live.duckdb")
    assert defs.resolve_job_def("live_cycle_job").tags == {"btcbot/mode": "live", BOOK_TAG: book}
    requests = _tick(defs, "live_cycle_schedule", persistent)
    assert [(r.partition_key, _ours(r.tags)) for r in requests] == [
        ("2026-01-01T00:05", {"btcbot/mode": "live", BOOK_TAG: book})
    ]
    dg.Definitions.validate_loadable(defs)
    with dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 2, 0, 10, tzinfo=timezone.utc),
        repository_def=defs.get_repository_def(),
        instance=persistent,
    ) as late:
        skipped = defs.resolve_schedule_def("live_cycle_schedule").evaluate_tick(late)
    assert skipped.skip_message == "past CYCLE_PARTITIONS_END (2026-01-02T00:00): no cycle closed at 2026-01-02T00:10"
