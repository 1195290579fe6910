"""Waiting for a sweep's runs: progress lines, failures with their reason, daemon heartbeats,
and the workspace the backfill command loads."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from btcbot_pipeline.defs.sweep.launch import (
    ChildDaemon,
    daemon_alive,
    location_workspace,
    member_runs,
    wait_members,
)

ROOT = Path(__file__).resolve().parents[2]


@dg.op
def fine() -> None:
    pass


@dg.op
def broken() -> None:
    raise dg.Failure(description="member sw__002 stopped: the market gate failed")


def test_waiting_ends_when_every_run_has_ended_and_names_the_failure() -> None:
    instance = dg.DagsterInstance.ephemeral()
    for member, op in (("sw__001", fine), ("sw__002", broken)):
        job = dg.GraphDefinition(name=f"g_{member}", node_defs=[op]).to_job(name="sweep_job")
        job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={"btcbot/sweep": "sw", "dagster/backfill": "bf1", "dagster/partition": member},
        )
    lines: list[str] = []

    runs = wait_members(instance, "sw", "bf1", 2, progress=lines.append, poll_s=0.01)

    assert [(r.member, r.status.value, r.failure) for r in runs] == [
        ("sw__001", "SUCCESS", None),
        ("sw__002", "FAILURE", "member sw__002 stopped: the market gate failed"),
    ]
    assert lines == ["sweep sw: 1/2 done, 1 failed, 0 running, 0 queued (0 s)"]
    assert member_runs(instance, "sw", "another backfill") == []


def test_a_daemon_is_alive_while_its_run_queue_heartbeat_is_fresh() -> None:
    from dagster._daemon.types import DaemonHeartbeat  # the daemon's own record; tests only

    instance = dg.DagsterInstance.ephemeral()
    assert not daemon_alive(instance)
    instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 90, "QUEUED_RUN_COORDINATOR", "d1"))
    assert not daemon_alive(instance)
    instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 5, "QUEUED_RUN_COORDINATOR", "d1"))
    assert daemon_alive(instance)
    instance.wipe_daemon_heartbeats()
    assert not daemon_alive(instance)


def test_the_backfill_loads_only_the_backtests_location(tmp_path: Path) -> None:
    out = location_workspace(ROOT / "workspace.yaml", tmp_path / "workspace.yaml")

    assert yaml.safe_load(out.read_text()) == {
        "load_from": [
            {
                "python_module": {
                    "location_name": "btcbot_backtests",
                    "module_name": "btcbot_pipeline.backtest_definitions",
                    "working_directory": str(ROOT),
                }
            }
        ]
    }


def test_a_child_daemon_that_ended_says_so_with_its_exit_code_and_log(tmp_path: Path) -> None:
    daemon = ChildDaemon(tmp_path / "workspace.yaml", tmp_path / "daemon.log", {})
    assert daemon.failure() is None  # never started: nothing to report
    with (tmp_path / "daemon.log").open("wb") as log:
        daemon.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; print('could not load workspace.yaml'); sys.exit(3)"], stdout=log
        )
    daemon.process.wait(timeout=30)

    assert daemon.failure() == (
        f"the dagster-daemon this sweep started ended (exit 3); its log {tmp_path / 'daemon.log'}:\n"
        "  could not load workspace.yaml"
    )
