"""A local PostgreSQL server for the Dagster instance of ``dagster_home/postgres/dagster.yaml``.

:func:`local_postgres` runs ``scripts/local-postgres.sh`` (the commands docs/deploy.md
shows a user: ``initdb`` with trust authentication, ``pg_ctl start`` on 127.0.0.1 and a
free port with its socket in the server's folder, ``createdb dagster``), yields the
``DAGSTER_PG_*`` environment of the instance, and stops the server (``pg_ctl stop -m
fast``) and removes its folder on exit. When no server can start it raises
:class:`PostgresUnavailable` with a one-line reason (no PostgreSQL binaries, no script,
``initdb`` or the server refused), which the tests use as their skip reason.

As root (CI) the script runs the server as the OS user ``postgres`` (``initdb`` refuses
root), so the server's folder is made directly under the system's temp folder, which that
user can reach (pytest's ``tmp_path`` is private to root).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-postgres.sh"
START_TIMEOUT_S = 60.0  # initdb (~1 s) and a start (~0.3 s) here; generous for a slow CI disk
ENV_KEYS = ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB")


class PostgresUnavailable(RuntimeError):
    """No local PostgreSQL server could start; the message is one line saying why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_exports(text: str) -> dict[str, str]:
    """The ``DAGSTER_PG_*`` values of the script's ``export K=V ...`` line."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("export "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                env[key] = value
    missing = [k for k in ENV_KEYS if k not in env]
    if missing:
        raise PostgresUnavailable(f"{SCRIPT.name} printed no {', '.join(missing)}: {text.strip()[-200:]!r}")
    return env


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


@contextmanager
def local_postgres(root: Path | None = None, port: int | None = None) -> Iterator[dict[str, str]]:
    """A running server in ``root`` (a new temp folder by default) on ``port`` (a free one):
    yields the instance's ``DAGSTER_PG_*`` environment; stopped and removed on exit."""
    if shutil.which("bash") is None:
        raise PostgresUnavailable("no bash to run scripts/local-postgres.sh")
    if not SCRIPT.is_file():
        raise PostgresUnavailable(f"{SCRIPT} is missing (a source checkout has it)")
    owned = root is None
    folder = Path(tempfile.mkdtemp(prefix="btcbot-pg-")) if root is None else root
    try:
        done = _script("start", str(folder), str(port or free_port()))
        if done.returncode != 0:
            raise PostgresUnavailable(_last_line(done.stderr or done.stdout))
        yield parse_exports(done.stdout)
    finally:
        _stop(folder)
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


def _stop(folder: Path) -> None:
    """``pg_ctl stop -m fast``; if that fails, the postmaster is killed (nothing outlives a test)."""
    try:
        _script("stop", str(folder))
    except subprocess.TimeoutExpired:
        pass
    pid_file = folder / "data" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    for sig in (signal.SIGQUIT, signal.SIGKILL):  # SIGQUIT: PostgreSQL's immediate shutdown
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def create_database(env: dict[str, str], name: str) -> dict[str, str]:
    """A new empty database ``name`` on the server of ``env``: the environment of an instance in it
    (one per test instance, so that runs of other tests never show)."""
    import psycopg2  # dagster-postgres's driver

    con = psycopg2.connect(
        host=env["DAGSTER_PG_HOST"],
        port=int(env["DAGSTER_PG_PORT"]),
        user=env["DAGSTER_PG_USER"],
        password=env["DAGSTER_PG_PASSWORD"],
        dbname=env["DAGSTER_PG_DB"],
    )
    try:
        con.autocommit = True  # CREATE DATABASE refuses a transaction
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        con.close()
    return {**env, "DAGSTER_PG_DB": name}
