"""Launching a sweep's members through the Dagster instance's run queue, and waiting for them.

- The instance is ``DAGSTER_HOME`` (required: without it there is no queue to launch into).
- :func:`submit_members` adds the member names to the ``sweep_members`` partitions (and the
  sweep to ``sweeps``), then runs ``dagster job backfill -w WORKSPACE --location
  btcbot_backtests -j sweep_job --partitions ... --noprompt``: Dagster makes one run per
  member with the job's per-partition config and tags and submits each
  (``instance.submit_run``); with the ``QueuedRunCoordinator`` they wait ``QUEUED`` until a
  daemon launches them, as many at once as the instance's ``concurrency.runs`` allows (one
  per ``btcbot/book`` value with a tag limit, one in all with ``max_concurrent_runs: 1``).
- :class:`ChildDaemon`: when no ``dagster-daemon`` of this instance is alive (no run-queue
  heartbeat in the last 60 s; daemons beat every 30 s), the sweep starts one for its own
  duration, in a process group of its own, and ends that group (SIGTERM, then SIGKILL after
  a grace period) and reaps it afterwards: nothing it started outlives the command. Its
  heartbeats are then wiped, so the next sweep does not mistake them for a live daemon.
- :func:`wait_members` polls the runs of the backfill (tags ``btcbot/sweep`` and
  ``dagster/backfill``) until every member's run has ended.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml

from btcbot_pipeline.defs.sweep.assets import SWEEP_MEMBERS, SWEEP_TAG, SWEEPS
from btcbot_pipeline.defs.sweep.manifest import SweepError
from btcbot_pipeline.reporting.leaderboard import LeaderboardRow

LOCATION = "btcbot_backtests"
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
HEARTBEAT_MAX_AGE_S = 60.0
BACKFILL_TAG = "dagster/backfill"
ENDED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def require_instance() -> dg.DagsterInstance:
    """The instance at ``DAGSTER_HOME``.

    Raises:
        SweepError: ``DAGSTER_HOME`` is unset, or not a folder.
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise SweepError(
            "DAGSTER_HOME is not set: a sweep launches its members through a Dagster instance's run queue; "
            "set it to the instance's folder (e.g. export DAGSTER_HOME=$PWD/dagster_home)"
        )
    if not Path(home).is_dir():
        raise SweepError(f"DAGSTER_HOME={home} is not a folder: create it (with a dagster.yaml) first")
    return dg.DagsterInstance.get()


def needs_daemon(instance: dg.DagsterInstance) -> bool:
    """Whether submitted runs wait for a daemon (the queued run coordinator, Dagster's default)."""
    return type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


def daemon_alive(instance: dg.DagsterInstance, max_age_s: float = HEARTBEAT_MAX_AGE_S) -> bool:
    """Whether a daemon of this instance sent a run-queue heartbeat in the last ``max_age_s``."""
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return beat is not None and time.time() - beat.timestamp < max_age_s


class ChildDaemon:
    """``dagster-daemon run -w WORKSPACE`` as this command's child, in its own process group,
    its output in ``log``; :meth:`stop` ends the whole group and reaps the daemon."""

    def __init__(self, workspace: Path, log: Path, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.workspace, self.log, self.env, self.cwd = workspace, log, dict(env), cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        log = self.log.open("wb")
        try:
            self.process = subprocess.Popen(
                [_tool("dagster-daemon"), "run", "-w", str(self.workspace)],
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                process_group=0,  # its runs and code servers join this group: stop() ends them all
            )
        finally:
            log.close()
        return self.process.pid

    def failure(self) -> str | None:
        """Why the daemon has ended while the sweep still needs it (its exit code and the last
        lines of its log), or ``None`` while it runs: queued runs would otherwise wait for ever."""
        if self.process is None or self.process.poll() is None:
            return None
        try:
            tail = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        except OSError:
            tail = []
        lines = "\n".join(f"  {line}" for line in tail) or "  (its log is empty)"
        code = self.process.returncode
        return f"the dagster-daemon this sweep started ended (exit {code}); its log {self.log}:\n{lines}"

    def stop(self, grace_s: float = 2.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace_s``: the daemon's own graceful stop
        takes ~13 s (it waits on its code servers), and by now every run it launched has
        ended, so nothing is lost by not waiting."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 30.0)):
            _signal_group(process.pid, sig)
            try:
                process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        _signal_group(process.pid, signal.SIGKILL)  # children that outlived the daemon itself
        for _ in range(50):
            if not _group_alive(process.pid):
                break
            time.sleep(0.1)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SweepError(f"{name} not found beside {sys.executable} nor on PATH")
    return found


def add_partitions(instance: dg.DagsterInstance, sweep: str, members: Sequence[str], stale: Sequence[str]) -> None:
    """The sweep's members (and the sweep) as dynamic partition keys; ``stale`` keys (members
    of a replaced sweep that the new one no longer has) are deleted."""
    for key in stale:
        instance.delete_dynamic_partition(SWEEP_MEMBERS.name, key)  # type: ignore[arg-type]
    instance.add_dynamic_partitions(SWEEP_MEMBERS.name, list(members))  # type: ignore[arg-type]
    instance.add_dynamic_partitions(SWEEPS.name, [sweep])  # type: ignore[arg-type]


def location_workspace(workspace: Path, out: Path, location: str = LOCATION) -> Path:
    """A workspace file at ``out`` with only ``location`` of ``workspace`` (its working
    directory made absolute): the backfill command then starts one code server, not one per
    location. Runs name their location and code the same way, so the daemon, which loads the
    whole workspace, launches them as it would runs submitted from it.

    Raises:
        SweepError: the workspace has no such location.
    """
    data = yaml.safe_load(workspace.read_text(encoding="utf-8")) or {}
    kept = []
    for entry in data.get("load_from") or []:
        target = next(iter(entry.values()), None) if isinstance(entry, dict) and len(entry) == 1 else None
        if isinstance(target, dict) and target.get("location_name") == location:
            if "grpc_server" in entry:  # a running code server: nothing to resolve
                kept.append(entry)
                continue
            # paths in a workspace are relative to its file: the copy lives elsewhere
            target = {
                **target,
                "working_directory": str((workspace.parent / target.get("working_directory", ".")).resolve()),
            }
            if "relative_path" in target:
                target["relative_path"] = str((workspace.parent / target["relative_path"]).resolve())
            kept.append({next(iter(entry)): target})
    if not kept:
        raise SweepError(f"--workspace {workspace}: no code location named {location}")
    out.write_text(yaml.safe_dump({"load_from": kept}, sort_keys=True), encoding="utf-8")
    return out


def submit_members(members: Sequence[str], workspace: Path, env: Mapping[str, str], cwd: Path) -> str:
    """One queued run per member (a ``dagster job backfill`` of ``sweep_job``); returns the backfill id.

    Raises:
        SweepError: the backfill command failed (its last lines in the message).
    """
    command = [
        _tool("dagster"),
        "job",
        "backfill",
        "-w",
        str(workspace),
        "--location",
        LOCATION,
        "-j",
        "sweep_job",
        "--partitions",
        ",".join(members),
        "--noprompt",
    ]
    done = subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    found = re.search(r"Launched backfill job `([^`]+)`", done.stdout)
    if done.returncode != 0 or not found:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise SweepError(f"dagster job backfill failed (exit {done.returncode}):\n{tail}")
    return found.group(1)


@dataclass(frozen=True, slots=True)
class MemberRun:
    member: str
    run_id: str
    status: dg.DagsterRunStatus
    tags: dict[str, str]
    failure: str | None = None


def member_runs(instance: dg.DagsterInstance, sweep: str, backfill: str) -> list[MemberRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={SWEEP_TAG: sweep, BACKFILL_TAG: backfill}))
    return sorted(
        (MemberRun(r.tags.get("dagster/partition", "?"), r.run_id, r.status, dict(r.tags)) for r in runs),
        key=lambda r: r.member,
    )


def wait_members(
    instance: dg.DagsterInstance,
    sweep: str,
    backfill: str,
    count: int,
    *,
    progress: Callable[[str], None],
    on_idle: Callable[[], None] = lambda: None,
    poll_s: float = 1.0,
    report_every_s: float = 10.0,
) -> list[MemberRun]:
    """Poll until ``count`` runs of the backfill have ended; a progress line when the counts
    change (or every ``report_every_s``); ``on_idle`` is called at each poll (the caller
    starts a daemon there if the one it relied on has gone). Returns the runs, failures
    with their reason."""
    t0, last, last_at = time.monotonic(), None, 0.0
    while True:
        runs = member_runs(instance, sweep, backfill)
        counts = Counter(_state(r.status) for r in runs)
        now = time.monotonic()
        line = (
            f"{counts['done']}/{count} done, {counts['failed']} failed, {counts['running']} running, "
            f"{counts['queued'] + count - len(runs)} queued"
        )
        if line != last or now - last_at >= report_every_s:
            progress(f"sweep {sweep}: {line} ({now - t0:.0f} s)")
            last, last_at = line, now
        if len(runs) >= count and all(r.status in ENDED for r in runs):
            return [r if r.status == dg.DagsterRunStatus.SUCCESS else _with_failure(instance, r) for r in runs]
        on_idle()
        time.sleep(poll_s)


def _state(status: dg.DagsterRunStatus) -> str:
    if status == dg.DagsterRunStatus.SUCCESS:
        return "done"
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return "failed"
    if status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
        return "queued"
    return "running"


def _with_failure(instance: dg.DagsterInstance, run: MemberRun) -> MemberRun:
    reason = f"run {run.run_id} ended {run.status.value}"
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.is_step_failure and event.step_failure_data is not None:
            user = event.step_failure_data.user_failure_data
            error = event.step_failure_data.error
            text = user.description if user is not None and user.description else (error.message if error else None)
            if text:
                reason = text.strip()
                break
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE and record.message:
            reason = record.message.strip()
    return MemberRun(run.member, run.run_id, run.status, run.tags, reason)


def report_leaderboard(
    instance: dg.DagsterInstance,
    sweep: str,
    rows: Sequence[LeaderboardRow],
    params: Sequence[str],
    *,
    files: Mapping[str, Path],
    extra: Mapping[str, object],
) -> None:
    """The leaderboard's materialization (partition ``sweep``), recorded without a run: the
    ranked ``rows`` as markdown and as a table, the files' paths and ``extra``."""
    from btcbot_pipeline.defs.sweep.assets import LEADERBOARD_KEY
    from btcbot_pipeline.reporting import leaderboard as lb

    table = dg.TableMetadataValue(
        records=[
            dg.TableRecord({k: v if isinstance(v, int) else lb.text(v) for k, v in r.values(params).items()})
            for r in rows
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(n, "int" if n == "fills" else "string") for n in lb.columns(params)]
        ),
    )
    metadata: dict[str, object] = {"leaderboard": dg.MetadataValue.md(lb.markdown_table(rows, params)), "table": table}
    metadata |= {name: dg.MetadataValue.path(str(path)) for name, path in files.items()}
    metadata |= dict(extra)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=LEADERBOARD_KEY, partition=sweep, metadata=metadata)  # type: ignore[arg-type]
    )
