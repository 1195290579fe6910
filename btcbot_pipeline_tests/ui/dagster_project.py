"""The project and the server of the Dagster UI browser tests.

A temporary project set up as a user sets one up: its own ``DAGSTER_HOME`` (the
repository's ``dagster.yaml``), a synthetic replay dataset from ``btcbot replay-init``,
the demo settings of ``.env.example`` with every path in the temp folder, a
``workspace.yaml`` with both code locations, and backtest specs written by
:func:`btcbot_pipeline.defs.backtest.spec.make_spec` (made, not run: the UI runs them).

``dagster dev`` runs in its own process group, its webserver's ``PYTHONHASHSEED`` pinned
(0 refused the UI's backfill launch before the stages became a chain), and is stopped
with its whole group. GraphQL is only read here: to wait for a run or a backfill and to
say why it failed; launches are the browser's (:mod:`btcbot_pipeline_tests.ui.browser`).
Every wait is bounded and a failure shows what the server last said (its log's tail).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from btcbot_pipeline.settings.names import known_setting_names, looks_like_ours

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's console scripts (dagster, btcbot)
LOCATION = "btcbot_pipeline"
BACKTESTS = "btcbot_backtests"
# The webserver's string hash seed. 0 (like 5 and 6) made the UI dialog's backfill launch
# fail before the stages became a chain; with it pinned the test cannot pass by luck.
# BTCBOT_UI_HASH_SEED runs the suite under another seed (e.g. 5, or 1 that always launched).
HASH_SEED = os.environ.get("BTCBOT_UI_HASH_SEED", "0")

SERVER_TIMEOUT_S = 120.0  # dagster dev up, both code locations loaded (~20 s idle)
RUN_TIMEOUT_S = 120.0  # one run queued, launched and finished (~15 s idle)
# Dagster's backfill daemon looks at requested backfills every 30 s (a constant of
# dagster._daemon.controller, no instance setting): a backfill is launched at the tick
# after it is requested and marked done at the tick after its runs end.
BACKFILL_TIMEOUT_S = 180.0
GRACE_S = 2.0  # after SIGTERM, then SIGKILL (dagster dev needs none of its graceful stop here)
STOP_TIMEOUT_S = 5.0

# --- the project ------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Project:
    root: Path
    home: Path
    book: Path
    dataset: Path
    backtest_dir: Path
    workspace: Path

    @property
    def log(self) -> Path:
        return self.root / "dagster_dev.log"

    def backtest_book(self, name: str) -> Path:
        return self.backtest_dir / f"{name}.duckdb"


def tool(name: str) -> str:
    """A console script of this interpreter's environment, else the one on PATH."""
    beside = BIN / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is neither beside {sys.executable} nor on PATH"
    return found


def server_env(home: Path, hash_seed: str | None = None) -> dict[str, str]:
    """The process environment without the developer's (or CI's) own bot settings."""
    known = known_setting_names()
    env = {k: v for k, v in os.environ.items() if not (k.upper() in known or looks_like_ours(k, known))}
    env["DAGSTER_HOME"] = str(home)
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    return env


def _run(cmd: list[str], root: Path, home: Path) -> str:
    done = subprocess.run(cmd, cwd=root, env=server_env(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"{' '.join(cmd[:3])} … exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def make_project(
    root: Path, *, minutes: int, backtests: Sequence[Backtest] = (), spoil: datetime | None = None
) -> Project:
    """A project folder: instance settings, a dataset of ``minutes`` one-minute rows from
    2026-01-01T00:00 (seed 42), ``.env``, workspace, and one spec per backtest.

    With ``spoil``, the cycle's dataset (not the backtests': they read a clean copy) has
    the books of 7 of its 12 symbols implausible at that minute (ask three times the bid),
    so that one cycle excludes 58 % of its symbols and fails the snapshot gate
    (``STAGE7_MAX_EXCLUDED_SHARE`` 50 %) while every other cycle is untouched.
    """
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    data = root / "data"
    dataset = data / "replay"
    _run(
        [
            tool("btcbot"),
            "replay-init",
            "--dataset",
            str(dataset),
            "--seed",
            "42",
            "--minutes",
            str(minutes),
            "--start",
            "2026-01-01T00:00",
        ],
        root,
        home,
    )
    clean = data / "replay_backtests"
    shutil.copytree(dataset, clean)
    if spoil is not None:
        spoil_books(dataset, spoil, count=7)
    book = data / "btcbot_book.duckdb"
    backtest_dir = data / "backtests"
    paths = {"STATE_DB_PATH": book, "REPLAY_DATASET_PATH": dataset, "BACKTEST_DIR": backtest_dir}
    # The demo profile of .env.example, with every path in the temp folder.
    lines = [
        line for line in (REPO / ".env.example").read_text().splitlines() if line.split("=", 1)[0].strip() not in paths
    ]
    lines += [f"{key}={value}" for key, value in paths.items()]
    env_file = root / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        + "".join(
            f"  - python_module:\n      module_name: {module}\n"
            f"      working_directory: {root}\n      location_name: {name}\n"
            for module, name in (
                ("btcbot_pipeline.definitions", LOCATION),
                ("btcbot_pipeline.backtest_definitions", BACKTESTS),
            )
        )
    )
    for backtest in backtests:
        # What `btcbot backtest` writes before it runs, without running it: the UI runs it.
        script = (
            "import sys; from datetime import datetime; "
            "from btcbot_pipeline.defs.backtest.spec import make_spec, save_spec; "
            "name, dataset, start, end, env_file, folder = sys.argv[1:]; "
            "spec = make_spec(name=name, dataset=dataset, start=datetime.fromisoformat(start), "
            "end=datetime.fromisoformat(end), env_file=env_file); print(save_spec(spec, folder))"
        )
        _run(
            [
                sys.executable,
                "-c",
                script,
                backtest.name,
                str(clean),
                backtest.start.isoformat(),
                backtest.end.isoformat(),
                str(env_file),
                str(backtest_dir),
            ],
            root,
            home,
        )
    return Project(root=root, home=home, book=book, dataset=dataset, backtest_dir=backtest_dir, workspace=workspace)


def spoil_books(dataset: Path, at: datetime, count: int) -> list[str]:
    """The first ``count`` symbols' order book row at minute ``at``: ask = 3 × bid (an
    implausible spread: the cycle excludes the symbol; the file stays valid)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    spoiled = []
    for path in sorted((dataset / "orderbook").glob("*.csv"))[:count]:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        hits = [row for row in rows[1:] if row[0] == stamp]
        assert len(hits) == 1, f"{path.name}: {len(hits)} rows at {stamp}"
        hits[0][2] = format(Decimal(hits[0][1]) * 3, "f")
        with path.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        spoiled.append(path.stem)
    return spoiled


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_LOCATIONS = """query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
_RUN = """query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
_RUN_ERRORS = """query Logs($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection {
  events { __typename ... on MessageEvent { level message } ... on ErrorEvent { error { message } } } } } }"""
_BACKFILL = """query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { id status numPartitions partitionNames error { message } }
  ... on PythonError { message } } }"""
_RUNS_OF = """query Runs($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
  __typename ... on Runs { results { runId status tags { key value } } } ... on PythonError { message } } }"""
TERMINAL_RUN = ("SUCCESS", "FAILURE", "CANCELED")
ACTIVE_BACKFILL = ("REQUESTED", "CANCELING", "FAILING")


@dataclass
class Server:
    """``dagster dev`` at ``url``; GraphQL read to wait for outcomes and explain them."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def tail(self) -> str:
        return f"--- dagster dev log (last lines) ---\n{log_tail(self.log)}"

    def run_status(self, run_id: str) -> str:
        return self.graphql(_RUN, {"id": run_id})["runOrError"]["status"]

    def run_errors(self, run_id: str) -> str:
        """The ERROR-level messages of a run's event log (why it failed)."""
        events = self.graphql(_RUN_ERRORS, {"id": run_id})["logsForRun"].get("events", [])
        lines = [
            (e.get("error") or {}).get("message") or e["message"]
            for e in events
            if e.get("level") in ("ERROR", "CRITICAL")
        ]
        return "\n".join(dict.fromkeys(line.strip() for line in lines)) or "(no error event)"

    def wait_run(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout_s
        status = "unknown"
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in TERMINAL_RUN:
                return status
            time.sleep(0.5)
        pytest.fail(f"run {run_id} still {status} after {timeout_s:.0f} s\n{self.tail()}")

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        found = self.graphql(_BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert found["__typename"] == "PartitionBackfill", found
        return found

    def backfill_runs(self, backfill_id: str) -> list[dict[str, Any]]:
        """The runs list's runs of a backfill (tagged ``dagster/backfill``), oldest first."""
        runs = self.graphql(_RUNS_OF, {"id": backfill_id})["runsOrError"]
        assert runs["__typename"] == "Runs", runs
        return list(reversed(runs["results"]))

    def wait_backfill(self, backfill_id: str, timeout_s: float = BACKFILL_TIMEOUT_S) -> dict[str, Any]:
        """The backfill once the daemon has finished with it (its runs ended)."""
        deadline = time.monotonic() + timeout_s
        found: dict[str, Any] = {}
        while time.monotonic() < deadline:
            found = self.backfill(backfill_id)
            if found["status"] not in ACTIVE_BACKFILL:
                return found
            time.sleep(1.0)
        runs = [(r["runId"], r["status"]) for r in self.backfill_runs(backfill_id)]
        pytest.fail(
            f"backfill {backfill_id} still {found.get('status')} after {timeout_s:.0f} s; runs {runs}\n{self.tail()}"
        )

    def wait_covering_run(
        self, backfill_id: str, first: str, last: str, timeout_s: float = BACKFILL_TIMEOUT_S
    ) -> dict[str, Any]:
        """A successful run of the backfill over its whole range ``first``…``last`` as soon
        as it ends (the daemon marks the backfill done one tick later), else the backfill's
        state once the daemon is done with it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for run in self.backfill_runs(backfill_id):
                tags = {t["key"]: t["value"] for t in run["tags"]}
                whole = (
                    tags.get("dagster/asset_partition_range_start"),
                    tags.get("dagster/asset_partition_range_end"),
                ) == (first, last)
                if whole and run["status"] == "SUCCESS":
                    return run
            if self.backfill(backfill_id)["status"] not in ACTIVE_BACKFILL:
                pytest.fail(f"no successful run over {first}…{last}:\n{self.explain_backfill(backfill_id)}")
            time.sleep(1.0)
        pytest.fail(
            f"no successful run over {first}…{last} after {timeout_s:.0f} s:\n"
            f"{self.explain_backfill(backfill_id)}\n{self.tail()}"
        )

    def wait_backfill_runs(
        self, backfill_id: str, count: int, timeout_s: float = BACKFILL_TIMEOUT_S
    ) -> list[dict[str, Any]]:
        """The backfill's runs once ``count`` of them have ended (or the daemon is done with it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = self.backfill_runs(backfill_id)
            if len(runs) >= count and all(r["status"] in TERMINAL_RUN for r in runs):
                return runs
            if self.backfill(backfill_id)["status"] not in ACTIVE_BACKFILL:
                return self.backfill_runs(backfill_id)
            time.sleep(1.0)
        pytest.fail(
            f"{count} runs not ended after {timeout_s:.0f} s:\n{self.explain_backfill(backfill_id)}\n{self.tail()}"
        )

    def explain_backfill(self, backfill_id: str) -> str:
        """A backfill's status, error and each run's status and errors, for a failure message."""
        found = self.backfill(backfill_id)
        lines = [f"backfill {backfill_id}: {found['status']}, error: {(found.get('error') or {}).get('message')}"]
        for run in self.backfill_runs(backfill_id):
            errors = self.run_errors(run["runId"]) if run["status"] == "FAILURE" else ""
            lines.append(f"  run {run['runId']} {run['status']} {errors}")
        return "\n".join(lines)

    def process_env(self, module: str) -> dict[str, str]:
        """The environment of this server's process running ``python -m <module>``."""
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                args = cmdline.read_bytes().split(b"\0")
                if os.getpgid(int(cmdline.parent.name)) != self.proc.pid or module.encode() not in args:
                    continue
                environ = (cmdline.parent / "environ").read_bytes().split(b"\0")
            except (OSError, ProcessLookupError):
                continue
            return dict(item.decode(errors="replace").split("=", 1) for item in environ if b"=" in item)
        raise AssertionError(f"no process 'python -m {module}' in dagster dev's process group")


def _wait_for_locations(server: Server, names: Sequence[str]) -> None:
    """The webserver answers ``/server_info`` and every code location has loaded."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    state = "no answer from /server_info"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {server.proc.returncode} before serving\n{server.tail()}")
        try:
            if httpx.get(f"{server.url}/server_info", timeout=5).status_code == 200:
                entries = {
                    e["name"]: e for e in server.graphql(_LOCATIONS)["workspaceOrError"].get("locationEntries", [])
                }
                state = f"code locations: {entries}"
                if all(entries.get(name, {}).get("loadStatus") == "LOADED" for name in names):
                    for name in names:
                        loaded = entries[name]["locationOrLoadError"]
                        assert loaded["__typename"] == "RepositoryLocation", (
                            f"code location {name} failed to load: {loaded}"
                        )
                    return
        except httpx.HTTPError as exc:
            state = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    pytest.fail(f"dagster dev not ready within {SERVER_TIMEOUT_S:.0f} s ({state})\n{server.tail()}")


@contextmanager
def dagster_dev(project: Project, hash_seed: str = HASH_SEED) -> Iterator[Server]:
    """``dagster dev`` (webserver + daemon) in its own process group; the group is stopped on exit."""
    port = free_port()
    with open(project.log, "wb") as log:
        proc = subprocess.Popen(
            [tool("dagster"), "dev", "-w", str(project.workspace), "-h", "127.0.0.1", "-p", str(port)],
            cwd=project.root,
            env=server_env(project.home, hash_seed),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, log=project.log)
    try:
        _wait_for_locations(server, (LOCATION, BACKTESTS))
        yield server
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and group_alive(proc.pid):
            time.sleep(0.2)
        if not group_alive(proc.pid):
            break
    proc.poll()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting to be reaped do not count)."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
