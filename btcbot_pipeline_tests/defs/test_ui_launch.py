"""What the Dagster UI does with the seven assets: launch a backfill of any selection,
page the partitions for its plots, split a selection into runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
from dagster._core.definitions.partitions.context import PartitionLoadingContext
from dagster._core.definitions.temporal_context import TemporalContext

from btcbot_pipeline.defs.cycle.assets import (
    STAGES,
    CycleGraph,
    backfill_windows,
    build_cycle_assets,
    split_backfill,
)
from btcbot_pipeline.defs.cycle.partitions import STATIC_KEYS_LIMIT, cycle_partitions, ui_partitions

PROBE = Path(__file__).with_name("ui_launch_probe.py")


def test_the_ui_dialogs_backfill_launches_whatever_the_webservers_hash_seed() -> None:
    # Seeds 0, 5 and 6 refused every launch before the stages became a chain (1, 2, 3, 7
    # launched): the webserver's own check, run in processes started with each seed.
    procs = {
        seed: subprocess.Popen(
            [sys.executable, str(PROBE)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for seed in (0, 5, 6, 1)
    }
    results = {seed: p.communicate(timeout=120)[0].strip() for seed, p in procs.items()}
    assert results == {0: "ok 5", 5: "ok 5", 6: "ok 5", 1: "ok 5"}


def test_each_stage_has_one_parent_the_stage_before_it() -> None:
    (cycle,) = build_cycle_assets(cycle_partitions("*/5 * * * *", "2026-01-01T00:00"))
    parents = {k.to_user_string(): sorted(p.to_user_string() for p in deps) for k, deps in cycle.asset_deps.items()}
    assert parents == {"market_snapshot": [], **{stage: [before] for before, stage in zip(STAGES, STAGES[1:])}}


def _latest(partitions: dg.PartitionsDefinition, limit: int = 3) -> list[str]:
    """The UI's plots' query: the newest keys, paged backwards from now."""
    from dagster._time import get_current_datetime

    context = PartitionLoadingContext(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        dynamic_partitions_store=None,
    )
    return list(partitions.get_paginated_partition_keys(context=context, limit=limit, ascending=False).results)


def test_plots_page_back_from_the_last_cycle_of_a_finished_window_not_from_today() -> None:
    calendar = cycle_partitions("*/5 * * * *", "2026-01-01T00:00", "2026-01-02T00:00")
    # Dagster's time-window paging starts at the wall clock whatever its end: today's keys
    assert _latest(calendar) != ["2026-01-01T23:55", "2026-01-01T23:50", "2026-01-01T23:45"]
    shown = ui_partitions(calendar)
    assert isinstance(shown, dg.StaticPartitionsDefinition) and shown.get_num_partitions() == 288
    assert _latest(shown) == ["2026-01-01T23:55", "2026-01-01T23:50", "2026-01-01T23:45"]
    days = dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * *", start="2018-01-10", end="2018-01-31", fmt="%Y-%m-%d", timezone="UTC"
    )
    assert _latest(ui_partitions(days)) == ["2018-01-30", "2018-01-29", "2018-01-28"]


def test_an_open_or_very_long_calendar_stays_a_time_window() -> None:
    live = cycle_partitions("*/5 * * * *", "2026-01-01T00:00")
    assert ui_partitions(live) is live  # its newest keys are now's: paging from the clock is right
    year = cycle_partitions("*/5 * * * *", "2026-01-01T00:00", "2027-01-01T00:00")
    assert ui_partitions(year) is year and year.get_num_partitions() > STATIC_KEYS_LIMIT


def test_a_selection_splits_into_the_windows_dagster_runs_apart() -> None:
    shown = ui_partitions(cycle_partitions("*/5 * * * *", "2026-01-01T00:00", "2026-01-02T00:00"))
    windows = backfill_windows(shown, ["2026-01-01T01:00", "2026-01-01T00:30", "2026-01-01T00:35", "2026-01-01T02:00"])
    assert [(w.start, w.end) for w in windows] == [
        ("2026-01-01T00:30", "2026-01-01T00:35"),
        ("2026-01-01T01:00", "2026-01-01T01:00"),
        ("2026-01-01T02:00", "2026-01-01T02:00"),
    ]


class _Backfills:
    def __init__(self, backfill: object) -> None:
        self.backfill = backfill

    def get_backfill(self, backfill_id: str) -> object:
        return self.backfill if backfill_id == "bf1" else None


def _context(backfill: object, tags: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(run=SimpleNamespace(tags=tags), instance=_Backfills(backfill))


def test_a_backfill_of_separate_windows_is_refused_saying_what_to_select() -> None:
    graph = CycleGraph(cycle_partitions("*/5 * * * *", "2026-01-01T00:00", "2026-01-02T00:00"))
    job_backfill = SimpleNamespace(
        is_asset_backfill=False, partition_names=["2026-01-01T00:30", "2026-01-01T01:00", "2026-01-01T01:05"]
    )
    text = split_backfill(_context(job_backfill, {"dagster/backfill": "bf1"}), graph)  # type: ignore[arg-type]
    assert text == (
        "this backfill selected 2 separate windows of partitions (2026-01-01T00:30, "
        "2026-01-01T01:00…2026-01-01T01:05): a book is one chain of cycles, so a backfill must be one window, run in "
        "one run. Nothing was written. Launch one contiguous range instead (every partition from 2026-01-01T00:30 "
        "through 2026-01-01T01:05), or each window on its own, oldest first."
    )
    one_window = SimpleNamespace(is_asset_backfill=False, partition_names=["2026-01-01T00:30", "2026-01-01T00:35"])
    assert split_backfill(_context(one_window, {"dagster/backfill": "bf1"}), graph) is None  # type: ignore[arg-type]
    assert split_backfill(_context(job_backfill, {}), graph) is None  # type: ignore[arg-type]  # not a backfill's run
