"""Sweeps in the backtests' code location: one group whatever the members, per-member run
tags, the manifest's rules for running a sweep again, and grid files read exactly."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.defs.backtest.run import prepare, run
from btcbot_pipeline.defs.backtest.spec import make_spec, save_spec
from btcbot_pipeline.defs.sweep.grid_file import read_grid_file
from btcbot_pipeline.defs.sweep.manifest import SweepError, load_manifest, plan_sweep, prepare_sweep
from btcbot_pipeline.domain.sweep_grid import expand
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.testing.cycle_harness import DEMO

START = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
END = datetime(2026, 1, 1, 1, 30, tzinfo=timezone.utc)


def plan(dataset: Path, grid: list[dict[str, str]], name: str = "sw") -> tuple:
    return plan_sweep(
        name=name, dataset=str(dataset), start=START, end=END, partition="day", env_file=None, params=None,
        sets=dict(DEMO), grid=grid,
    )  # fmt: skip


def test_grid_files_keep_decimal_text_exactly(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("grid:\n  STAGE7_SLIPPAGE_BPS: [0.10, 25, '40']\n  STAGE7_ENABLED: [true]\n")
    (tmp_path / "g.toml").write_text("[[sets]]\nSTAGE7_SLIPPAGE_BPS = 0.10\n[[sets]]\nSTAGE7_SLIPPAGE_BPS = 1e1\n")

    assert expand(read_grid_file(tmp_path / "g.yaml")) == [
        {"STAGE7_ENABLED": "true", "STAGE7_SLIPPAGE_BPS": "0.10"},
        {"STAGE7_ENABLED": "true", "STAGE7_SLIPPAGE_BPS": "25"},
        {"STAGE7_ENABLED": "true", "STAGE7_SLIPPAGE_BPS": "40"},
    ]
    assert expand(read_grid_file(tmp_path / "g.toml")) == [
        {"STAGE7_SLIPPAGE_BPS": "0.10"},
        {"STAGE7_SLIPPAGE_BPS": "1e1"},
    ]


def test_the_example_grid_has_eight_members_or_more() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    for path in sorted(root.glob("sweep*.yaml")) + sorted(root.glob("sweep*.toml")):
        known = {info.alias or f.upper() for f, info in type(load_settings(None)).model_fields.items()}
        assert len(expand(read_grid_file(path), known=known)) >= 8, path


def test_a_sweep_again_with_another_grid_is_refused_unless_replaced(tmp_path: Path, replay_dir: Path) -> None:
    manifest, specs = plan(replay_dir, [{"STAGE7_SLIPPAGE_BPS": "10"}, {"STAGE7_SLIPPAGE_BPS": "40"}])
    folder = prepare_sweep(manifest, specs, tmp_path)
    (folder / "sw__001.duckdb").write_bytes(b"old book")

    prepare_sweep(manifest, specs, tmp_path)  # the same sweep again: every book starts over
    assert not (folder / "sw__001.duckdb").exists()
    other, other_specs = plan(replay_dir, [{"STAGE7_SLIPPAGE_BPS": "10"}])
    with pytest.raises(SweepError) as refused:
        prepare_sweep(other, other_specs, tmp_path)
    assert str(refused.value) == (
        "sweep 'sw' already exists with another grid or spec (differs in members): run it under another --name to "
        "keep both, or pass --replace to start it over"
    )
    prepare_sweep(other, other_specs, tmp_path, replace=True)
    assert [m.name for m in load_manifest(folder).members] == ["sw__001"]
    assert sorted(p.name for p in folder.iterdir()) == ["sw__001.spec.json", "sweep.json"]
    assert load_manifest(folder).params == ["STAGE7_SLIPPAGE_BPS"]
    assert "STAGE7_SLIPPAGE_BPS" not in load_manifest(folder).settings


def test_a_bad_sweep_name_or_member_setting_is_refused(replay_dir: Path) -> None:
    with pytest.raises(SweepError) as refused:
        plan(replay_dir, [{"STAGE7_SLIPPAGE_BPS": "10"}], name="a__b")
    assert (
        str(refused.value)
        == "sweep name 'a__b': letters, digits and single _ only, starting with a letter (≤ 58 chars)"
    )
    with pytest.raises(SweepError) as refused:
        plan(replay_dir, [{"STAGE7_SLIPPAGE_BPS": "10"}, {"REPLAY_DATASET_PATH": "/x"}])
    assert str(refused.value) == (
        "sweep sw member sw__002 (REPLAY_DATASET_PATH=/x): REPLAY_DATASET_PATH cannot be set for a backtest: the "
        "dataset is --dataset and the book BACKTEST_DIR/<name>.duckdb"
    )


def test_sweeps_are_one_group_and_each_member_run_names_its_book(tmp_path: Path, replay_dir: Path) -> None:
    from btcbot_pipeline.backtest_definitions import build_backtest_definitions

    save_spec(make_spec(name="base", dataset=str(replay_dir), start=START, end=END, env_file=None), tmp_path)
    settings = load_settings(None, BACKTEST_DIR=str(tmp_path))
    graph = build_backtest_definitions(settings).resolve_asset_graph()
    # the sweeps group is there before any sweep: members are dynamic partitions in the instance
    assert {graph.get(k).group_name for k in graph.get_all_asset_keys()} == {"backtest_base", "sweeps"}

    grid = [{"STAGE7_SLIPPAGE_BPS": v} for v in ("5", "10", "20", "40")]
    prepare_sweep(*plan(replay_dir, grid), tmp_path)
    prepare_sweep(*plan(replay_dir, grid[:2], name="other"), tmp_path)
    defs = build_backtest_definitions(settings)

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {k: g for k, g in groups.items() if g == "sweeps"} == {
        "sweep/backtest": "sweeps",
        "sweep/leaderboard": "sweeps",
    }
    assert set(groups.values()) == {"backtest_base", "sweeps"}  # 6 members, still one group
    leaderboard = graph.get(dg.AssetKey(["sweep", "leaderboard"]))
    assert [p.to_user_string() for p in leaderboard.parent_keys] == ["sweep/backtest"]
    job = defs.resolve_job_def("sweep_job")
    assert job.partitioned_config.get_tags_for_partition_key("sw__003") == {
        "btcbot/sweep": "sw",
        "btcbot/book": str((tmp_path / "sweeps" / "sw" / "sw__003.duckdb").resolve()),
        "dagster/partition": "sw__003",
    }
    assert job.partitioned_config.get_run_config_for_partition_key("other__001") == {
        "ops": {"sweep__backtest": {"config": {"folder": str((tmp_path / "sweeps" / "other").resolve())}}}
    }
    assert defs.resolve_job_def("backtest_base_job").tags["btcbot/book"] == str((tmp_path / "base.duckdb").resolve())


def test_a_backtest_run_carries_its_book_tag(tmp_path: Path, replay_dir: Path) -> None:
    spec = make_spec(name="tagged", dataset=str(replay_dir), start=START, end=END, env_file=None, sets=dict(DEMO))
    prepare(spec, tmp_path)
    instance = dg.DagsterInstance.ephemeral()

    done = run(spec, tmp_path, instance=instance)

    assert done.success
    tags = instance.get_run_by_id(done.run_id).tags
    assert (tags["btcbot/book"], tags["btcbot/backtest"]) == (str((tmp_path / "tagged.duckdb").resolve()), "tagged")
