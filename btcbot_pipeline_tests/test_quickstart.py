"""The quick start's main job survives the README's backtest section.

A project folder as a user has it after both: the demo profile of ``.env.example``, a
replay dataset, and a backtest spec in ``BACKTEST_DIR`` (what ``btcbot backtest`` leaves
there). The main job's command is taken from ``scripts/run.sh`` as it stands and run
unchanged; before backtests moved to their own code location it failed in 3 s with
``CheckError: There is no PartitionsDefinition shared by all the provided assets``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from btcbot_pipeline.defs.backtest.spec import make_spec, save_spec
from btcbot_pipeline.settings.names import known_setting_names, looks_like_ours

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _main_job() -> list[str]:
    """The `dagster asset materialize` line of scripts/run.sh, with its partition variable."""
    line = next(s for s in (REPO / "scripts" / "run.sh").read_text().splitlines() if "dagster asset materialize" in s)
    command = re.search(r"\.venv/bin/(dagster asset materialize .*?)\s*>", line)
    assert command, line
    args = shlex.split(command.group(1).replace('"$PARTITION"', "2026-01-01T00:30"))
    return [str(BIN / args[0]), *args[1:]]


def _project(root: Path, dataset: Path, **settings: str) -> tuple[dict[str, Path], dict[str, str]]:
    """A project folder: the demo .env (paths in ``root``, then ``settings``), an instance."""
    paths = {"STATE_DB_PATH": root / "book.duckdb", "REPLAY_DATASET_PATH": dataset, "BACKTEST_DIR": root / "backtests"}
    lines = [
        s
        for s in (REPO / ".env.example").read_text().splitlines()
        if s.split("=", 1)[0].strip() not in paths and s.split("=", 1)[0].strip() not in settings
    ]
    lines += [f"{k}={v}" for k, v in {**paths, **settings}.items()]
    (root / ".env").write_text("\n".join(lines) + "\n")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    known = known_setting_names()
    env = {k: v for k, v in os.environ.items() if not (k.upper() in known or looks_like_ours(k, known))}
    env["DAGSTER_HOME"] = str(home)
    return paths, env


def test_the_quick_start_main_job_runs_unchanged_with_a_backtest_spec_beside_it(
    tmp_path: Path, replay_dir: Path
) -> None:
    paths, env = _project(tmp_path, replay_dir)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    save_spec(
        make_spec(name="real10", dataset=str(replay_dir), start=start, end=start + timedelta(hours=2), env_file=None),
        paths["BACKTEST_DIR"],
    )

    command = _main_job()
    assert command[1:] == [
        "asset",
        "materialize",
        "-m",
        "btcbot_pipeline.definitions",
        "--select",
        "*",
        "--partition",
        "2026-01-01T00:30",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    with duckdb.connect(str(paths["STATE_DB_PATH"]), read_only=True) as con:
        assert con.execute("select count(*) from ledger_metrics").fetchone() == (1,)
    # and the backtest is still there to launch, in its own code location
    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "btcbot_pipeline.backtest_definitions"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert validate.returncode == 0 and "Validation successful" in validate.stdout + validate.stderr, validate.stderr[
        -2000:
    ]


def test_a_disabled_cycle_is_refused_in_one_line_and_a_misspelt_setting_is_warned(
    tmp_path: Path, replay_dir: Path
) -> None:
    _, env = _project(tmp_path, replay_dir, STAGE7_ENABLED="false")
    done = subprocess.run(_main_job(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: STAGE7_ENABLED is false: the Stage 7 dry-run cycle is disabled. Set STAGE7_ENABLED=true (with "
        "DRY_RUN=true), e.g. `cp .env.example .env`."
    )
    assert "Traceback" not in done.stdout + done.stderr and "Stack Trace" not in done.stdout + done.stderr

    (tmp_path / "dagster_home" / "runs.db").unlink(missing_ok=True)
    text = (tmp_path / ".env").read_text().replace("STAGE7_ENABLED=false", "STAGE7_ENABLED=true")
    (tmp_path / ".env").write_text(text + "DRY_RUNN=false\n")
    done = subprocess.run(_main_job(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "DRY_RUNN" in done.stderr and "did you mean DRY_RUN" in done.stderr, done.stderr[-3000:]
