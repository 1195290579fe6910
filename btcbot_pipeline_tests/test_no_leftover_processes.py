"""No process outlives ``btcbot backtest``: the gate worker (a "spawn" process that imports
Great Expectations) and the resource tracker "spawn" starts beside it are ended and waited
for before the command exits, whether the run used the worker, had no use for it, or never
started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from btcbot_pipeline.testing.cycle_harness import DEMO

SETS = [arg for k, v in DEMO.items() for arg in ("--set", f"{k}={v}")]


def session_processes(sid: int) -> list[tuple[int, str, str]]:
    """(pid, state, command) of every process whose session is ``sid``, zombies included."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended while we looked
            continue
        # pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(session) == sid:
            found.append(
                (int(entry.name), state, command.strip() or f"({stat[stat.index('(') + 1 : stat.rindex(')')]})")
            )
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    ("window", "code"),
    [
        (("2026-01-01T00:30", "2026-01-01T01:30"), 0),  # 12 cycles: the prestarted worker validates them
        (("2026-01-01T00:30", "2026-01-01T00:45"), 0),  # 3 cycles: validated here, the worker is not needed
        (("2025-12-31T00:00", "2026-01-01T00:45"), 2),  # refused before the run: the worker is never taken
    ],
    ids=["worker-used", "worker-unused", "never-run"],
)
def test_a_backtest_leaves_no_process_behind(
    window: tuple[str, str], code: int, replay_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "BACKTEST_DIR": str(tmp_path / "bt"), "GATE_VALIDATOR": "auto"}
    env.pop("DAGSTER_HOME", None)
    (tmp_path / "empty.env").write_text("")
    command = [
        sys.executable,
        "-m",
        "btcbot_pipeline",
        "backtest",
        "--dataset",
        str(replay_dir),
        "--start",
        window[0],
        "--end",
        window[1],
        "--name",
        "procs",
        "--env-file",
        str(tmp_path / "empty.env"),
        *SETS,
    ]

    # its own session (and process group): everything it starts stays in it unless it asks otherwise
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out, err = child.communicate(timeout=600)

    assert child.returncode == code, err[-3000:]
    # right after the command exits (a zombie would stay until init reaps it): nothing of its session is left
    assert session_processes(child.pid) == []
    assert "leaked semaphore" not in err and "Traceback" not in err, err[-3000:]
    if code == 0:
        assert "done: " in out
