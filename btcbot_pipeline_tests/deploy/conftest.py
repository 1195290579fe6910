"""Fixtures for the deployment tests: a local PostgreSQL server, a project whose Dagster
instance lives in it (``dagster_home/postgres/dagster.yaml``), and ``dagster-daemon`` on it.

- ``postgres_server`` (module): :func:`btcbot_pipeline.testing.postgres.local_postgres`,
  i.e. ``scripts/local-postgres.sh start``; skipped with its one-line reason when no server
  can start, **failed** instead when ``BTCBOT_REQUIRE_POSTGRES=1`` (CI sets it).
- ``pg_project`` (module): a project made as the UI tests make theirs
  (:func:`btcbot_pipeline_tests.ui.dagster_project.make_project`: replay dataset, ``.env``
  with every path in the temp folder, workspace, backtest specs), its ``DAGSTER_HOME``
  holding a copy of the repository's Postgres ``dagster.yaml``, a database of its own on
  the server, and ``DAGSTER_MAX_CONCURRENT_RUNS=2``.
- ``pg_code_servers`` (module): a code server per location (``dagster api grpc``), and
  ``workspace_grpc.yaml`` pointing at them, for the daemon and the CLI: a CLI given
  ``workspace.yaml`` starts a code server of its own for every location, ~5-10 s each on this
  2-core machine, for every ``dagster job backfill``. (Production runs its code servers
  as services the same way.) They load the definitions once: specs written later (a sweep's)
  need the servers restarted.
- ``pg_daemon`` (module): ``dagster-daemon run -w workspace_grpc.yaml`` in its own session,
  stopped with its group and the code servers'; then nothing started for the project (run
  workers) may be left: leftovers are killed and the test fails.
- ``pg_instance`` (module): the same instance in this process, to read run records.

A test module that needs other backtests (a sweep's members) sets ``PG_BACKTESTS`` at its
top: ``pg_project`` reads it from the requesting module.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.testing.postgres import PostgresUnavailable, create_database, local_postgres
from btcbot_pipeline_tests.ui.dagster_project import (
    BACKTESTS,
    LOCATION,
    REPO,
    Backtest,
    Project,
    free_port,
    group_alive,
    log_tail,
    make_project,
    server_env,
    tool,
)

MAX_CONCURRENT_RUNS = 2
LOCATIONS = (("btcbot_pipeline.definitions", LOCATION), ("btcbot_pipeline.backtest_definitions", BACKTESTS))
SERVER_START_S = 120.0
STOP_GRACE_S = 1.5  # dagster-daemon and code servers stop on SIGTERM at once where it is not ignored
DAEMON_STOP_S = 10.0
_DATABASES = itertools.count(1)


@dataclass(frozen=True)
class PgProject:
    """A project on the Postgres instance: ``env`` is the environment of every process
    (the CLI, the daemon) that uses it."""

    project: Project
    env: dict[str, str]

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def daemon_log(self) -> Path:
        return self.root / "dagster_daemon.log"

    @property
    def workspace(self) -> Path:
        """The workspace of the running code servers (``pg_code_servers``)."""
        return self.root / "workspace_grpc.yaml"

    def run(self, *cmd: str, timeout: float = 120) -> str:
        """A command in the project's folder; its stdout, or a failure with its output."""
        done = subprocess.run(
            list(cmd), cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, (
            f"{' '.join(cmd[:4])} … exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}\n"
            f"--- daemon log ---\n{log_tail(self.daemon_log)}"
        )
        return done.stdout


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[dict[str, str]]:
    """The ``DAGSTER_PG_*`` environment of a running local server, stopped after the module
    (~1.5 s to start: not kept up for the rest of a session)."""
    try:
        with local_postgres() as env:
            yield env
    except PostgresUnavailable as exc:
        reason = f"no local PostgreSQL server: {exc}"
        if os.environ.get("BTCBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (BTCBOT_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_server: dict[str, str]
) -> PgProject:
    backtests: list[Backtest] = list(getattr(request.module, "PG_BACKTESTS", []))
    minutes: int = getattr(request.module, "PG_DATASET_MINUTES", 360)
    project = make_project(tmp_path_factory.mktemp("pg") / "project", minutes=minutes, backtests=backtests)
    (project.home / "dagster.yaml").unlink()
    shutil.copy(REPO / "dagster_home" / "postgres" / "dagster.yaml", project.home / "dagster.yaml")
    pg = create_database(postgres_server, f"dagster_test_{os.getpid()}_{next(_DATABASES)}")
    env = {**server_env(project.home), **pg, "DAGSTER_MAX_CONCURRENT_RUNS": str(MAX_CONCURRENT_RUNS)}
    # Dagster's tables made once, as docs/deploy.md says: three code servers started at once
    # on a new database raced to create them ("type run_tags already exists", one CI run).
    migrated = subprocess.run(
        [tool("dagster"), "instance", "migrate"], cwd=project.root, env=env, capture_output=True, timeout=180
    )
    assert migrated.returncode == 0, migrated.stderr.decode(errors="replace")[-2000:]
    return PgProject(project=project, env=env)


@pytest.fixture(scope="module")
def pg_instance(pg_project: PgProject) -> Iterator[dg.DagsterInstance]:
    """The project's instance, opened here (its yaml reads the environment while in use)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("DAGSTER_HOME", "DAGSTER_MAX_CONCURRENT_RUNS", *(k for k in pg_project.env if "_PG_" in k)):
            mp.setenv(key, pg_project.env[key])
        instance = dg.DagsterInstance.from_config(str(pg_project.project.home))
        try:
            yield instance
        finally:
            instance.dispose()


@pytest.fixture(scope="module")
def pg_code_servers(pg_project: PgProject) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One ``dagster api grpc`` per code location, serving when this returns; stopped on exit."""
    servers: list[subprocess.Popen[bytes]] = []
    entries = []
    try:
        for module, location in LOCATIONS:
            port = free_port()
            with open(pg_project.root / f"code_server_{location}.log", "wb") as log:
                servers.append(
                    subprocess.Popen(
                        [tool("dagster"), "api", "grpc", "-m", module, "-h", "127.0.0.1", "-p", str(port)]
                        + ["-d", str(pg_project.root), "--location-name", location],
                        cwd=pg_project.root,
                        env=pg_project.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            entries.append(f"  - grpc_server: {{host: 127.0.0.1, port: {port}, location_name: {location}}}\n")
        pg_project.workspace.write_text("load_from:\n" + "".join(entries))
        for server, (_, location) in zip(servers, LOCATIONS):
            _wait_serving(server, entries[servers.index(server)], pg_project.root / f"code_server_{location}.log")
        yield servers
    finally:
        stop_groups(servers)


def _wait_serving(server: subprocess.Popen[bytes], entry: str, log: Path) -> None:
    """The server accepts connections (it binds its port once the definitions are loaded)."""
    port = int(entry.split("port: ")[1].split(",")[0])
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"code server exited with {server.returncode}:\n{log_tail(log)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"code server not serving on {port} after {SERVER_START_S:.0f} s:\n{log_tail(log)}")


@pytest.fixture(scope="module")
def pg_daemon(
    pg_project: PgProject, pg_code_servers: list[subprocess.Popen[bytes]]
) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the project (its queue launches the runs), stopped on exit;
    then nothing of the project may be left (the code servers stop after it)."""
    with open(pg_project.daemon_log, "wb") as log:
        proc = subprocess.Popen(
            [tool("dagster-daemon"), "run", "-w", str(pg_project.workspace)],
            cwd=pg_project.root,
            env=pg_project.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_groups([proc, *pg_code_servers])
        left = _kill_leftovers(pg_project.project.home)
        assert not left, f"processes of the project outlived dagster-daemon (killed now): {left}"


def stop_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every process group at once, SIGKILL to those still alive after the grace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(group_alive(p.pid) for p in procs):
            time.sleep(0.1)
        if not any(group_alive(p.pid) for p in procs):
            break
    for proc in procs:
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass


def project_processes(home: Path) -> list[tuple[int, str]]:
    """(pid, command) of every process whose environment has ``DAGSTER_HOME=<home>``: the
    daemon, its code servers and run workers, whatever their process group."""
    needle = f"DAGSTER_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2] == "Z":  # ended, waiting to be reaped
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry.name), command))
    return found


def _kill_leftovers(home: Path) -> list[tuple[int, str]]:
    deadline = time.monotonic() + DAEMON_STOP_S
    left = project_processes(home)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = project_processes(home)
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def wait_runs(
    instance: dg.DagsterInstance, filters: dg.RunsFilter, count: int, timeout_s: float, log: Path
) -> list[dg.RunRecord]:
    """The run records matching ``filters`` once ``count`` of them have ended."""
    deadline = time.monotonic() + timeout_s
    records: list[dg.RunRecord] = []
    while time.monotonic() < deadline:
        records = list(instance.get_run_records(filters=filters))
        if len(records) >= count and all(r.dagster_run.is_finished for r in records):
            return records
        time.sleep(0.5)
    states = [(r.dagster_run.run_id[:8], r.dagster_run.status.value) for r in records]
    pytest.fail(f"{count} runs not ended after {timeout_s:.0f} s: {states}\n--- daemon log ---\n{log_tail(log)}")


def window(start: str, end: str) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(start), datetime.fromisoformat(end)
