"""``btcbot backtest`` from the command line: validation first, a report at the end, and a
backtest killed part way that reruns to the fingerprint of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.defs.backtest.spec import SpecError, make_spec, read_params_file
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.testing.cycle_harness import DEMO
from btcbot_pipeline_tests.defs.test_backtest import backtest

SETS = [arg for k, v in DEMO.items() for arg in ("--set", f"{k}={v}")]


@pytest.fixture
def quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder with an empty .env, backtests under it, no DAGSTER_HOME."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("BACKTEST_DIR", str(tmp_path / "bt"))
    (tmp_path / ".env").write_text("")
    return tmp_path


def test_backtest_command_runs_and_prints_the_report(
    quiet: Path, replay_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "backtest",
            "--dataset",
            str(replay_dir),
            "--start",
            "2026-01-01T00:30",
            "--end",
            "2026-01-01T01:30",
            "--name",
            "cli",
            *SETS,
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0] == (
        f"backtest cli: {replay_dir}, 2026-01-01T00:30 … 2026-01-01T01:30 UTC by day, book {quiet}/bt/cli.duckdb"
    )
    assert "  2026-01-01: 12/12 cycles computed (" in out
    assert "  2026-01-01: 12/12 cycles committed to the book, equity " in out
    assert "done: 12 cycles in " in out
    report = {
        line.split(maxsplit=1)[0] if not line.startswith("book_info") else " ".join(line.split()[:2]): line.split()[-1]
        for line in out.splitlines()
        if line and not line.startswith(" ")
    }
    assert (report["book_info kind"], report["cycles"], report["book"]) == ("backtest", "12", "cli")
    assert f"chart {quiet}/bt/cli.png" in out and (quiet / "bt" / "cli.png").read_bytes()[:4] == b"\x89PNG"
    spec = json.loads((quiet / "bt" / "cli.spec.json").read_text())
    assert (spec["name"], spec["partition"], spec["settings"]["STAGE7_UNIVERSE_SIZE"]) == ("cli", "day", "5")


def test_a_backtest_whose_chart_cannot_be_drawn_still_commits_and_says_where_the_error_is(
    quiet: Path, replay_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from btcbot_pipeline.reporting import chart

    def refuse(reports: object) -> bytes:
        raise RuntimeError("no display for you")

    monkeypatch.setattr(chart, "chart_png", refuse)
    code = main(
        ["backtest", "--dataset", str(replay_dir), "--start", "2026-01-01T00:30", "--end", "2026-01-01T00:50"]
        + ["--name", "nochart", *SETS]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "done: 4 cycles in " in out
    assert out.splitlines()[-1] == "chart not drawn: its error is in the last cycle_trace's metadata"
    assert not (quiet / "bt" / "nochart.png").exists()
    with duckdb.connect(str(quiet / "bt" / "nochart.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ledger_metrics").fetchone() == (4,)


def test_an_invalid_dataset_exits_2_with_its_errors(quiet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (quiet / "broken" / "candles").mkdir(parents=True)

    code = main(
        [
            "backtest",
            "--dataset",
            str(quiet / "broken"),
            "--start",
            "2026-01-01T00:30",
            "--end",
            "2026-01-01T01:30",
            "--name",
            "broken",
        ]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert "missing_orderbook_folder" in err
    assert err.rstrip().endswith(
        f"backtest not started: the dataset {quiet}/broken has errors (btcbot replay-validate lists them)"
    )
    assert not (quiet / "bt" / "broken.duckdb").exists()


def test_a_window_outside_the_data_exits_2(quiet: Path, replay_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "backtest",
            "--dataset",
            str(replay_dir),
            "--start",
            "2025-12-31T00:00",
            "--end",
            "2026-01-01T01:30",
            "--name",
            "early",
        ]
    )

    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "backtest not started: --start 2025-12-31T00:00 is outside the dataset's order books (2026-01-01T00:00 … "
        "2026-01-01T02:59 UTC); a cycle without data stops at the market gate: start within that span"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("9lives", "backtest name '9lives': letters, digits and _ only, starting with a letter (≤ 63 chars)"),
        ("a-b", "backtest name 'a-b': letters, digits and _ only, starting with a letter (≤ 63 chars)"),
        # a `$` regex let a trailing newline through; the whole name must match
        ("nl\n", "backtest name 'nl\\n': letters, digits and _ only, starting with a letter (≤ 63 chars)"),
    ],
)
def test_a_bad_name_is_refused(name: str, message: str, replay_dir: Path) -> None:
    with pytest.raises(SpecError) as refused:
        make_spec(
            name=name,
            dataset=str(replay_dir),
            start=datetime(2026, 1, 1, tzinfo=timezone.utc),
            end=datetime(2026, 1, 2, tzinfo=timezone.utc),
            env_file=None,
        )
    assert str(refused.value) == message


def test_params_files_and_the_recorded_settings(tmp_path: Path, replay_dir: Path) -> None:
    (tmp_path / "p.env").write_text("# risk\nSTAGE7_MAX_DRAWDOWN_PCT=0.1\nSTAGE7_UNIVERSE_WHITELIST=BTCTRY,ETHTRY\n")
    (tmp_path / "p.json").write_text('{"STAGE7_SCORE_WEIGHTS": {"liquidity": 0.6, "spread": 0.2, "volatility": 0.2}}')
    (tmp_path / "bad.env").write_text("JUSTAWORD\n")

    params = {**read_params_file(tmp_path / "p.env"), **read_params_file(tmp_path / "p.json")}
    spec = make_spec(
        name="p",
        dataset=str(replay_dir),
        start=datetime(2026, 1, 1, tzinfo=timezone.utc),
        end=datetime(2026, 1, 2, tzinfo=timezone.utc),
        env_file=None,
        params=params,
        sets={"TRY_CASH_TARGET": "250"},
    )

    assert spec.settings["STAGE7_MAX_DRAWDOWN_PCT"] == "0.1"
    assert spec.settings["STAGE7_UNIVERSE_WHITELIST"] == '["BTCTRY", "ETHTRY"]'
    assert spec.settings["TRY_CASH_TARGET"] == "250"
    assert (spec.settings["KILL_SWITCH"], spec.settings["STAGE7_ENABLED"]) == ("false", "true")
    # the simulated OMS's fill model and its parameters are part of the experiment
    assert (
        spec.settings["STAGE7_FILL_MODEL"],
        spec.settings["STAGE7_SIM_VOLUME_SHARE"],
        spec.settings["ORDER_TTL_SECONDS"],
    ) == ("seed", "0.1", "900")
    limit = make_spec(
        name="p",
        dataset=str(replay_dir),
        start=datetime(2026, 1, 1, tzinfo=timezone.utc),
        end=datetime(2026, 1, 2, tzinfo=timezone.utc),
        env_file=None,
        sets={"STAGE7_FILL_MODEL": "limit"},
    )
    assert limit.settings["STAGE7_FILL_MODEL"] == "limit"
    assert "STATE_DB_PATH" not in spec.settings and "BTCTURK_API_SECRET" not in spec.settings
    with pytest.raises(SpecError) as refused:
        read_params_file(tmp_path / "bad.env")
    assert str(refused.value) == f"--params {tmp_path}/bad.env:1: expected KEY=VALUE, got 'JUSTAWORD'"


def _processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")) == folder:
                status = (proc / "status").read_text()
                if "\nState:\tZ" not in status:
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_backtest_killed_part_way_reruns_to_the_uninterrupted_fingerprint(real_dataset: Path, tmp_path: Path) -> None:
    window = ["--start", "2018-01-10T05:00", "--end", "2018-01-13T05:00"]
    chunked = {"GATE_CHUNK_CYCLES": "288"}  # each day commits on its own
    env = {**os.environ, "BACKTEST_DIR": str(tmp_path / "bt")}
    env.pop("DAGSTER_HOME", None)
    (tmp_path / "empty.env").write_text("")
    command = [
        sys.executable,
        "-m",
        "btcbot_pipeline",
        "backtest",
        "--dataset",
        str(real_dataset),
        *window,
        "--name",
        "killed",
        "--env-file",
        str(tmp_path / "empty.env"),
        *SETS,
        "--set",
        "GATE_CHUNK_CYCLES=288",
    ]

    child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if "cycles committed to the book" in line:  # the first day is committed: kill it mid-run
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    # its gate worker, orphaned, notices within a second or two and ends (never left behind)
    deadline = time.monotonic() + 10
    while _processes_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in(tmp_path) == []
    with duckdb.connect(str(tmp_path / "bt" / "killed.duckdb"), read_only=True) as con:
        assert 0 < con.execute("SELECT count(*) FROM ledger_metrics").fetchone()[0] < 864

    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr

    whole = backtest(
        tmp_path / "ref",
        real_dataset,
        "whole",
        start=datetime(2018, 1, 10, 5, tzinfo=timezone.utc),
        end=datetime(2018, 1, 13, 5, tzinfo=timezone.utc),
        **chunked,
    )
    assert whole.success
    killed = fingerprint_book(tmp_path / "bt" / "killed.duckdb")
    assert killed.cycles == 864
    assert killed.digest == fingerprint_book(whole.book).digest
