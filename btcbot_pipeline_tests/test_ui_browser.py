"""The Dagster UI, tested as a person uses it.

A temporary project (its own ``DAGSTER_HOME`` with the repository's ``dagster.yaml``, a
synthetic replay dataset made by ``btcbot replay-init --seed 42``, the demo settings of
``.env.example`` with the book and dataset in the temp folder) is served by ``dagster
dev`` on 127.0.0.1. One cycle is launched through the GraphQL API, as the UI's
*Materialize* of one partition does (a run of ``cycle_job`` tagged with the partition),
and waited for. Then headless Chromium renders the pages a user opens and the test reads
their text: the asset graph (the seven assets, each with its checks passed), the
``ledger_snapshot`` page (the cycle's equity, compared with the book read by DuckDB) and
its checks, and the run page (status, partition, check results, the cycle's log line).
Each page is also saved as a PNG: in ``$BTCBOT_UI_SCREENSHOTS`` when set, else in the
test's temp folder.

Skipped when no Chromium binary is on PATH (``chromium``, ``chromium-browser``,
``google-chrome``); with ``BTCBOT_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) it fails
instead, so CI cannot pass without running it. Every process started here is stopped
(process group) in a ``finally``; every wait is bounded; nothing listens beyond 127.0.0.1
and the browser cannot reach any other host.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from btcbot_pipeline.defs.cycle.assets import build_cycle_assets
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.setting_names import known_setting_names, looks_like_ours

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's console scripts (dagster, btcbot)
PARTITION = "2026-01-01T00:30"
CYCLE_TS = datetime(2026, 1, 1, 0, 30)
ASSETS = ("market_snapshot", "universe", "portfolio_plan", "order_intents", "simulated_fills", "ledger_snapshot", "cycle_trace")
LOCATION = "btcbot_pipeline"

SERVER_TIMEOUT_S = 120.0  # dagster dev up, code location loaded (~9 s idle)
RUN_TIMEOUT_S = 120.0  # the cycle's run queued, launched and finished (~5 s idle)
PAGE_TIMEOUT_S = 60.0  # one Chromium render (~4 s idle)
GRACE_S = 2.0  # after SIGTERM, then SIGKILL (a graceful stop of dagster dev takes ~6 s; nothing here needs it)
STOP_TIMEOUT_S = 5.0


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


BROWSER = _browser()
NO_BROWSER = "no Chromium binary on PATH (chromium, chromium-browser or google-chrome): the Dagster UI browser test needs one (Debian: apt-get install chromium)"


@pytest.fixture
def browser() -> str:
    if BROWSER is None:
        if os.environ.get("BTCBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BTCBOT_REQUIRE_BROWSER=1 but {NO_BROWSER}")
        pytest.skip(NO_BROWSER)
    return BROWSER


# --- the project and its server ------------------------------------------------------


def _tool(name: str) -> str:
    """A console script of this interpreter's environment, else the one on PATH."""
    beside = BIN / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is neither beside {sys.executable} nor on PATH"
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_project(root: Path) -> dict[str, Path]:
    """A project folder as a user sets one up: instance settings, dataset, .env, workspace."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    dataset = root / "data" / "replay"
    subprocess.run(
        [_tool("btcbot"), "replay-init", "--dataset", str(dataset), "--seed", "42"],
        cwd=root, env=_server_env(home), check=True, capture_output=True, text=True, timeout=120,
    )
    book = root / "data" / "btcbot_book.duckdb"
    paths = {"STATE_DB_PATH": book, "REPLAY_DATASET_PATH": dataset, "BACKTEST_DIR": root / "data" / "backtests"}
    # The demo profile of .env.example, with every path in the temp folder.
    lines = [
        line for line in (REPO / ".env.example").read_text().splitlines()
        if line.split("=", 1)[0].strip() not in paths
    ]
    lines += [f"{key}={value}" for key, value in paths.items()]
    (root / ".env").write_text("\n".join(lines) + "\n")
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: btcbot_pipeline.definitions\n"
        f"      working_directory: {root}\n      location_name: {LOCATION}\n"
    )
    return {"root": root, "home": home, "book": book, "workspace": workspace}


def _server_env(home: Path) -> dict[str, str]:
    """The process environment without the developer's (or CI's) own bot settings."""
    known = known_setting_names()
    env = {k: v for k, v in os.environ.items() if not (k.upper() in known or looks_like_ours(k, known))}
    env["DAGSTER_HOME"] = str(home)
    return env


@contextmanager
def _dagster_dev(project: dict[str, Path], port: int) -> Iterator[str]:
    """``dagster dev`` (webserver + daemon) in its own process group; stopped on exit."""
    log_path = project["root"] / "dagster_dev.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [_tool("dagster"), "dev", "-w", str(project["workspace"]), "-h", "127.0.0.1", "-p", str(port)],
            cwd=project["root"], env=_server_env(project["home"]), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_location(url, proc, log_path)
        yield url
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and _group_alive(proc):
            time.sleep(0.2)
        if not _group_alive(proc):
            break
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    """Whether a process of the group still runs (zombies waiting to be reaped do not count)."""
    proc.poll()  # reap the leader if it ended
    if not Path("/proc").is_dir():
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...
        except (OSError, IndexError):
            continue
        if fields[2] == str(proc.pid) and fields[0] != "Z":
            return True
    return False


def _log_tail(log_path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


_LOCATIONS = """query { workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _wait_for_location(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """The webserver answers ``/server_info`` and the code location has loaded."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    state = "no answer from /server_info"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode} before serving:\n{_log_tail(log_path)}")
        try:
            if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                entries = _graphql(url, _LOCATIONS)["workspaceOrError"].get("locationEntries", [])
                entry = next((e for e in entries if e["name"] == LOCATION), None)
                state = f"code location: {entry}"
                if entry and entry["loadStatus"] == "LOADED":
                    loaded = entry["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", f"code location failed to load: {loaded}"
                    return
        except httpx.HTTPError as exc:
            state = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    pytest.fail(f"dagster dev not ready within {SERVER_TIMEOUT_S:.0f} s ({state}):\n{_log_tail(log_path)}")


_LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
_RUN = """query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
_RUN_ERRORS = """query Logs($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection {
  events { __typename ... on MessageEvent { level message } ... on ErrorEvent { error { message } } } } } }"""


def _launch_cycle(url: str, partition: str) -> str:
    """One cycle: a run of ``cycle_job`` tagged with its partition (the UI's Materialize)."""
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": "cycle_job"},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        "runConfigData": {},
    }
    launched = _graphql(url, _LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _run_errors(url: str, run_id: str) -> str:
    """The ERROR-level messages of a run's event log (why it failed, for the assertion)."""
    events = _graphql(url, _RUN_ERRORS, {"id": run_id})["logsForRun"].get("events", [])
    lines = [
        (e.get("error") or {}).get("message") or e["message"]
        for e in events if e.get("level") in ("ERROR", "CRITICAL")
    ]
    return "\n".join(dict.fromkeys(line.strip() for line in lines)) or "(no error event)"


def _wait_run(url: str, run_id: str, log_path: Path) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = "unknown"
    while time.monotonic() < deadline:
        status = _graphql(url, _RUN, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(0.5)
    pytest.fail(f"run {run_id} still {status} after {RUN_TIMEOUT_S:.0f} s:\n{_log_tail(log_path)}")


# --- the browser -----------------------------------------------------------------------


class _Text(HTMLParser):
    """The visible text of a page: tags dropped, scripts and styles skipped, spaces collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts).replace("\u200b", " ")).strip()


def _render(browser: str, profile: Path, url: str, shot: Path, window: str, scale: str, budget_ms: int) -> str:
    """One headless Chromium load: the DOM after ``budget_ms`` of virtual time, and a PNG."""
    cmd = [
        browser, "--headless=new", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
        # Any host but 127.0.0.1 goes to a closed local port: the page can reach nothing else.
        "--proxy-server=http://127.0.0.1:9",
        f"--window-size={window}", f"--force-device-scale-factor={scale}",
        f"--virtual-time-budget={budget_ms}", f"--screenshot={shot}", "--dump-dom", url,
    ]
    # Its own process group, so a hung render is stopped with all its helper processes.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=PAGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not render {url} within {PAGE_TIMEOUT_S:.0f} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, f"chromium exited {proc.returncode} on {url}: {err[-2000:]}"
    return out


def load_page(
    browser: str, profile: Path, url: str, shot: Path, must_show: list[str], window: str = "1600,1000", scale: str = "1",
) -> str:
    """The page's text once it shows every fragment of ``must_show`` (one retry with a longer
    virtual-time budget: a busy machine can answer the app's queries late)."""
    text = ""
    for budget_ms in (15000, 30000):
        text = page_text(_render(browser, profile, url, shot, window, scale, budget_ms))
        if all(fragment in text for fragment in must_show):
            break
    return text


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG (its signature and IHDR checked)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def value_after(text: str, key: str) -> str:
    """The first number among the few words after a metadata key (its row: key, time, value)."""
    match = re.search(rf"(?<![\w.]){re.escape(key)} ((?:\S+ ){{0,6}})", text + " ")
    assert match, f"{key!r} not on the page"
    for token in match.group(1).split():
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            return token
    raise AssertionError(f"no number after {key!r}: {match.group(0)!r}")


# --- the test --------------------------------------------------------------------------


def _checks_by_asset() -> dict[str, list[str]]:
    """The checks the definitions declare, per asset (what the graph's nodes count)."""
    checks: dict[str, list[str]] = {name: [] for name in ASSETS}
    for assets_def in build_cycle_assets(cycle_partitions("*/5 * * * *", "2026-01-01T00:00")):
        for spec in assets_def.check_specs:
            checks[spec.asset_key.to_user_string()].append(spec.name)
    return {name: sorted(found) for name, found in checks.items()}


def _book_equity(book: Path) -> Decimal:
    with duckdb.connect(str(book), read_only=True) as con:
        rows = con.execute("select equity_try from ledger_metrics where cycle_ts = ?", [CYCLE_TS]).fetchall()
    assert len(rows) == 1, f"ledger rows of {PARTITION}: {rows}"
    return rows[0][0]


def test_ui_shows_one_cycle_launched_through_graphql(browser: str, tmp_path: Path) -> None:
    project = _make_project(tmp_path / "project")
    shots = Path(os.environ.get("BTCBOT_UI_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "chromium-profile"
    checks = _checks_by_asset()
    assert all(f"{name}_gate" in checks[name] for name in ASSETS), checks

    with _dagster_dev(project, _free_port()) as url:
        # A first visit shows Dagster's "join the community" dialog over every page; a person
        # clicks Skip, which records this mutation in DAGSTER_HOME.
        assert _graphql(url, "mutation { setNuxSeen }") == {"setNuxSeen": True}
        run_id = _launch_cycle(url, PARTITION)
        status = _wait_run(url, run_id, project["root"] / "dagster_dev.log")
        assert status == "SUCCESS", f"run {run_id} ended {status}:\n{_run_errors(url, run_id)}"
        equity = _book_equity(project["book"])
        shown = format(equity.quantize(Decimal("0.01")), "f")

        # The lineage: seven assets, each node with all its checks passed. A window wide
        # enough for the nodes' details; twice the pixels so the screenshot reads well.
        graph = load_page(
            browser, profile, f"{url}/locations/{LOCATION}/asset-groups/cycle", shots / "lineage.png",
            must_show=[f"{name} Latest event" for name in ASSETS], window="2000,800", scale="2",
        )
        for name in ASSETS:
            n = len(checks[name])
            assert re.search(rf"(?<!\w){name} Latest event [^/]*? Asset checks {n} / {n} Passed", graph), (name, graph[:3000])

        # The ledger's page: this partition's materialization with the book's equity.
        overview = load_page(
            browser, profile, f"{url}/assets/ledger_snapshot", shots / "ledger_snapshot.png",
            must_show=["equity_try_exact", PARTITION],
        )
        assert re.search(rf"Latest materialization [^/]*? {PARTITION} Latest check results {len(checks['ledger_snapshot'])} ", overview), overview[:3000]
        assert Decimal(value_after(overview, "equity_try_exact")) == equity
        assert Decimal(value_after(overview, "equity_try")) == Decimal(shown)
        assert value_after(overview, "gap_cycles") == "0"

        # Its checks: each passed, against this partition.
        checks_page = load_page(
            browser, profile, f"{url}/assets/ledger_snapshot?view=checks", shots / "ledger_snapshot_checks.png",
            must_show=[f"{name} Succeeded" for name in checks["ledger_snapshot"]],
        )
        for name in checks["ledger_snapshot"]:
            assert f"{name} Succeeded" in checks_page, checks_page[:3000]
        assert "Evaluation result Passed" in checks_page and f"Partition {PARTITION}" in checks_page, checks_page[:3000]

        # The run: succeeded, this partition; its events filtered as a person would (the
        # Events filter box, kept in the URL): every check's result, then the lines that
        # mention equity, among them the cycle's log line.
        run_checks = load_page(
            browser, profile, f"{url}/runs/{run_id}?logs=type:ASSET_CHECK_EVALUATION", shots / "run_checks.png",
            must_show=["Check cycle_trace_gate succeeded"], window="1600,2000",
        )
        assert f"Runs / {run_id[:8]} Success" in run_checks and f"partition: {PARTITION}" in run_checks, run_checks[:3000]
        for asset, names in checks.items():
            for name in names:
                assert f"Check {name} succeeded for materialization of {asset}" in run_checks, (name, run_checks[:3000])
        run_log = load_page(
            browser, profile, f"{url}/runs/{run_id}?logs=equity", shots / "run_log.png", must_show=[f"cycle {PARTITION}: mode"],
        )
        assert f"Runs / {run_id[:8]} Success" in run_log, run_log[:3000]
        assert re.search(rf"cycle {PARTITION}: mode NORMAL, .*? equity {re.escape(shown)} TRY", run_log), run_log[:3000]

    expected = {
        "lineage.png": (4000, 1600), "ledger_snapshot.png": (1600, 1000), "ledger_snapshot_checks.png": (1600, 1000),
        "run_checks.png": (1600, 2000), "run_log.png": (1600, 1000),
    }
    for name, size in expected.items():
        path = shots / name
        assert path.stat().st_size > 20_000, f"{path}: {path.stat().st_size} bytes, not a rendered page"
        assert png_size(path) == size, (name, png_size(path))
