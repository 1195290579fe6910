"""``btcbot sweep``: bad input exits 2 before anything runs; a two-member sweep runs as the
README prints it, through a real instance's run queue, and each member's book is the book
of the same spec run alone with ``btcbot backtest``."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from btcbot_pipeline.cli import main
from btcbot_pipeline.defs.sweep.assets import LEADERBOARD_KEY
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.testing.cycle_harness import DEMO
from btcbot_pipeline_tests.test_no_leftover_processes import session_processes

ROOT = Path(__file__).resolve().parents[2]
SETS = [arg for k, v in DEMO.items() for arg in ("--set", f"{k}={v}")]
# 11 five-minute cycles: below GE_MIN_CYCLES, the gates run on the exact evaluator (no ~3 s GE import per run)
WINDOW = ["--start", "2026-01-01T00:30", "--end", "2026-01-01T01:25"]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder: an empty .env, backtests under it, an instance (a copy of the
    project's dagster.yaml) at DAGSTER_HOME."""
    (tmp_path / "home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "home" / "dagster.yaml")
    (tmp_path / "empty.env").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BACKTEST_DIR", str(tmp_path / "bt"))
    return tmp_path


def sweep_args(dataset: Path, grid: Path, *extra: str) -> list[str]:
    return [
        "sweep", "--dataset", str(dataset), *WINDOW, "--name", "demo", "--grid", str(grid),
        "--workspace", str(ROOT / "workspace.yaml"), "--env-file", "empty.env", *SETS, *extra,
    ]  # fmt: skip


def test_without_dagster_home_a_sweep_exits_2_and_says_why(
    folder: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DAGSTER_HOME")
    (folder / "g.yaml").write_text("grid:\n  STAGE7_SLIPPAGE_BPS: [10, 40]\n")

    assert main(sweep_args(replay_dir, folder / "g.yaml")) == 2
    assert capsys.readouterr().err == (
        "SweepError: DAGSTER_HOME is not set: a sweep launches its members through a Dagster instance's run queue; "
        "set it to the instance's folder (e.g. export DAGSTER_HOME=$PWD/dagster_home)\n"
    )
    assert not (folder / "bt").exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "g.yaml",
            "grid:\n  STAGE7_SLIPAGE_BPS: [10, 40]\n",
            "SweepError: --grid g.yaml: unknown setting 'STAGE7_SLIPAGE_BPS' (settings are named like "
            "STAGE7_SLIPPAGE_BPS)",
        ),
        (
            "g.toml",
            "[[sets]]\nSTAGE7_SLIPPAGE_BPS = 10\n[[sets]]\nSTAGE7_SLIPPAGE_BPS = -1.5\n",
            "SweepError: sweep demo member demo__002 (STAGE7_SLIPPAGE_BPS=-1.5): STAGE7_SLIPPAGE_BPS: Input should "
            "be greater than or equal to 0 (was '-1.5')",
        ),
        ("g.json", "{}", "SweepError: --grid g.json: a .yaml, .yml or .toml file is expected"),
        (
            "g.yaml",
            "grid: [",
            "SweepError: --grid g.yaml: not valid YAML (while parsing a flow node expected the "
            "node content, but found '<stream end>' in \"<unicode string>\", line 1, column 8: grid: [ ^)",
        ),
    ],
)
def test_a_bad_grid_exits_2_naming_the_problem(
    folder: Path, replay_dir: Path, name: str, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / name).write_text(text)

    assert main(sweep_args(replay_dir, Path(name))) == 2
    assert capsys.readouterr().err.strip() == message
    assert not (folder / "bt" / "sweeps" / "demo" / "sweep.json").exists()


def test_a_sweep_of_two_members_runs_through_the_queue_and_ranks_them(
    folder: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "g.yaml").write_text("grid:\n  STAGE7_SLIPPAGE_BPS: [10, 40]\n")
    t0 = time.perf_counter()
    # as the README prints it, in a session of its own: whatever it starts stays in that session
    child = subprocess.Popen(
        [sys.executable, "-m", "btcbot_pipeline", *sweep_args(replay_dir, folder / "g.yaml")],
        cwd=folder,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out, err = child.communicate(timeout=300)
    seconds = time.perf_counter() - t0

    assert child.returncode == 0, out + err[-3000:]
    assert session_processes(child.pid) == []  # the daemon it started, its runs and code servers: all gone
    assert "Traceback" not in err, err[-3000:]
    lines = out.splitlines()
    sweep = folder / "bt" / "sweeps" / "demo"
    assert lines[0] == (
        f"sweep demo: 2 members (STAGE7_SLIPPAGE_BPS) over {replay_dir}, 2026-01-01T00:30 … 2026-01-01T01:25 UTC, "
        f"books in {folder}/bt/sweeps/demo"
    )
    assert any(line.startswith("no dagster-daemon is running for ") for line in lines)
    assert "stopped the dagster-daemon this sweep started" in lines
    assert any(line.startswith("sweep demo: 2/2 done, 0 failed, 0 running, 0 queued (") for line in lines)

    # The same spec alone (another name, the same outputs).
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["backtest", "--dataset", str(replay_dir), *WINDOW, "--name", "alone", "--env-file", "empty.env",
                 *SETS, "--set", "STAGE7_SLIPPAGE_BPS=10"]) == 0  # fmt: skip
    capsys.readouterr()
    alone = fingerprint_book(folder / "bt" / "alone.duckdb").digest
    members = {m: fingerprint_book(sweep / f"{m}.duckdb").digest for m in ("demo__001", "demo__002")}
    assert members["demo__001"] == alone != members["demo__002"]
    spec = json.loads((sweep / "demo__001.spec.json").read_text())
    assert spec["settings"] == json.loads((folder / "bt" / "alone.spec.json").read_text())["settings"]
    assert not (folder / "bt" / "demo__001.spec.json").exists()  # no group of its own

    # The leaderboard: best return first, one row per member, the books' fingerprints.
    with (sweep / "leaderboard.csv").open(encoding="utf-8") as f:
        board = list(csv.DictReader(f))
    assert [(r["member"], r["STAGE7_SLIPPAGE_BPS"]) for r in board] == [("demo__001", "10"), ("demo__002", "40")]
    assert [r["fingerprint"] for r in board] == [members["demo__001"][:12], members["demo__002"][:12]]
    assert pq.read_table(sweep / "leaderboard.parquet").schema.field("fees_try").type == pa.decimal128(38, 18)
    assert (sweep / "leaderboard.png").read_bytes()[:4] == b"\x89PNG"
    assert f"leaderboard csv {sweep}/leaderboard.csv" in lines

    # The instance: one run per member with its tags, and the leaderboard's materialization.
    monkeypatch.setenv("DAGSTER_HOME", str(folder / "home"))
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"btcbot/sweep": "demo"}))
        tags = sorted((r.tags["dagster/partition"], r.tags["btcbot/book"], r.job_name, r.status.value) for r in runs)
        assert tags == [
            (m, str((sweep / f"{m}.duckdb").resolve()), "sweep_job", "SUCCESS") for m in ("demo__001", "demo__002")
        ]
        event = instance.get_latest_materialization_event(LEADERBOARD_KEY)
        assert event is not None and event.asset_materialization is not None
        assert event.asset_materialization.partition == "demo"
        metadata = event.asset_materialization.metadata
        assert metadata["csv"].value == str(sweep / "leaderboard.csv")
        assert metadata["best"].value == "demo__001"
        assert "| demo__001 | 10 |" in metadata["leaderboard"].value
        assert sorted(instance.get_dynamic_partitions("sweep_members")) == ["demo__001", "demo__002"]
    print(f"sweep e2e: {seconds:.1f} s")
    assert seconds < 180  # ~35 s on an idle 2-core machine; a loaded one (other test runs) doubles it


def test_a_sweep_keeps_its_backtest_dir_when_the_project_s_env_names_another(folder: Path, replay_dir: Path) -> None:
    """Dagster's commands load a .env of their working directory over the environment: the
    sweep's own commands (the backfill, its daemon) must not pick up a project's .env whose
    BACKTEST_DIR differs from the one the sweep resolved, or its members look for their
    specs elsewhere (what ``scripts/run.sh`` then ``scripts/test.sh`` in one clone did)."""
    project = folder / "project"
    project.mkdir()
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    for entry in workspace["load_from"]:
        entry["python_module"]["working_directory"] = str(ROOT)
    (project / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    for where in (project, folder):  # beside the workspace, and where the command runs
        (where / ".env").write_text(f"BACKTEST_DIR={folder / 'elsewhere'}\n")
    (folder / "g.yaml").write_text("grid:\n  STAGE7_SLIPPAGE_BPS: [10]\n")
    args = sweep_args(replay_dir, folder / "g.yaml")
    args[args.index("--workspace") + 1] = str(project / "workspace.yaml")

    child = subprocess.run(
        [sys.executable, "-m", "btcbot_pipeline", *args],
        cwd=folder,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )

    assert child.returncode == 0, child.stdout + child.stderr[-3000:]
    assert (folder / "bt" / "sweeps" / "demo" / "demo__001.duckdb").is_file()
    assert not (folder / "elsewhere").exists()
