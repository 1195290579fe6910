"""The Definitions load, and the asset graph is what the README promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from btcbot_pipeline.definitions import build_definitions
from btcbot_pipeline.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _defs(**overrides: str) -> dg.Definitions:
    # No backtest specs unless a test writes some: a developer's data/backtests must not leak in.
    overrides.setdefault("BACKTEST_DIR", str(ROOT / "btcbot_pipeline_tests" / "no-backtests"))
    return build_definitions(load_settings(None, **overrides), env_file=None)


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(_defs())


def test_seven_cycle_assets_in_lineage_order() -> None:
    graph = _defs().resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == sorted(
        [
            "market_snapshot",
            "universe",
            "portfolio_plan",
            "order_intents",
            "simulated_fills",
            "ledger_snapshot",
            "cycle_trace",
        ]
    )
    parents = {
        k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
        for k in graph.get_all_asset_keys()
    }
    assert parents == {
        "market_snapshot": [],
        "universe": ["market_snapshot"],
        "portfolio_plan": ["universe"],
        "order_intents": ["portfolio_plan"],
        "simulated_fills": ["order_intents"],
        "ledger_snapshot": ["simulated_fills"],
        "cycle_trace": ["ledger_snapshot"],
    }


def test_partitions_follow_the_cycle_settings() -> None:
    graph = _defs(CYCLE_CRON="*/15 * * * *", CYCLE_PARTITIONS_START="2018-01-10T00:00").resolve_asset_graph()
    partitions = graph.get(dg.AssetKey("ledger_snapshot")).partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)
    assert partitions.cron_schedule == "*/15 * * * *"
    assert partitions.timezone == "UTC"
    assert partitions.get_first_partition_key() == "2018-01-10T00:00"
    window = partitions.time_window_for_partition_key("2018-01-10T00:15")
    assert (window.start.isoformat(), window.end.isoformat()) == (
        "2018-01-10T00:15:00+00:00",
        "2018-01-10T00:30:00+00:00",
    )


def test_every_asset_runs_a_range_in_one_run() -> None:
    graph = _defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).backfill_policy == dg.BackfillPolicy.single_run(), key


def test_schedule_runs_the_cycle_job_and_starts_stopped() -> None:
    defs = _defs()
    schedule = defs.resolve_schedule_def("cycle_job_schedule")
    assert schedule.cron_schedule == "*/5 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "cycle_job"


def test_dagster_cli_validates_the_code_location(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STAGE7_", "DRY_RUN", "KILL_SWITCH", "LIVE_TRADING"))
    }
    env["DAGSTER_HOME"] = str(tmp_path)
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "btcbot_pipeline.definitions"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_partitions_can_end_with_the_dataset() -> None:
    graph = _defs(CYCLE_PARTITIONS_END="2026-01-02T00:00").resolve_asset_graph()
    partitions = graph.get(dg.AssetKey("universe")).partitions_def
    assert isinstance(partitions, dg.StaticPartitionsDefinition)  # the UI pages its plots from the last key
    assert partitions.get_last_partition_key() == "2026-01-01T23:55"
    assert partitions.get_num_partitions() == 288


def test_each_backtest_spec_is_its_own_asset_group(tmp_path: Path, replay_dir: Path) -> None:
    from datetime import datetime, timezone

    from btcbot_pipeline.defs.backtest.spec import make_spec, save_spec

    for name in ("base", "wide"):
        save_spec(
            make_spec(
                name=name,
                dataset=str(replay_dir),
                start=datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc),
                end=datetime(2026, 1, 3, tzinfo=timezone.utc),
                env_file=None,
            ),
            tmp_path,
        )
    (tmp_path / "broken.spec.json").write_text("{not json")  # skipped: one bad file never takes the location down

    from btcbot_pipeline.backtest_definitions import build_backtest_definitions

    defs = build_backtest_definitions(load_settings(None, BACKTEST_DIR=str(tmp_path)))

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"backtest_base", "backtest_wide", "sweeps"}  # sweeps: always there, their members partitions
    ledger = graph.get(dg.AssetKey(["backtest", "base", "ledger_snapshot"]))
    assert ledger.partitions_def.get_partition_keys() == ["2026-01-01", "2026-01-02"]
    assert sorted(p.to_user_string() for p in ledger.parent_keys) == ["backtest/base/simulated_fills"]
    assert sorted(j.name for j in defs.jobs or []) == ["backtest_base_job", "backtest_wide_job", "sweep_job"]
    # the bot's location is the cycle alone, whatever specs exist: `--select '*'` keeps meaning it
    bot = _defs(BACKTEST_DIR=str(tmp_path)).resolve_asset_graph()
    assert {bot.get(k).group_name for k in bot.get_all_asset_keys()} == {"cycle"}
