"""A sweep in the UI is one thing: ``btcbot sweep`` run from a shell beside ``dagster dev``
(whose daemon launches the members), then the pages a person opens in Chromium.

- the group ``sweeps`` of ``btcbot_backtests`` holds the two assets, whatever the sweep's size;
- ``sweep/backtest`` lists the members as its partitions, each materialized;
- ``sweep/leaderboard`` shows the sweep's leaderboard table with its members ranked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from btcbot_pipeline_tests.ui.browser import UI, chromium, require_browser
from btcbot_pipeline_tests.ui.dagster_project import Project, Server, dagster_dev, make_project, server_env, tool

SWEEP = "uisweep"
MEMBERS = [f"{SWEEP}__001", f"{SWEEP}__002"]
WINDOW = ["--start", "2026-01-01T00:30", "--end", "2026-01-01T01:25"]  # 11 cycles: no GE import per run


@pytest.fixture(scope="module")
def browser_path() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def project(browser_path: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path_factory.mktemp("ui_sweep") / "project", minutes=180)


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[Server]:
    with dagster_dev(project) as running:
        yield running


@pytest.fixture(scope="module")
def swept(project: Project, server: Server) -> str:
    """``btcbot sweep`` as a user types it in the project, with ``dagster dev`` running."""
    grid = project.root / "grid.yaml"
    grid.write_text("grid:\n  STAGE7_SLIPPAGE_BPS: [10, 40]\n")
    dataset = project.root / "data" / "replay_backtests"
    cmd = [tool("btcbot"), "sweep", "--dataset", str(dataset), *WINDOW, "--name", SWEEP, "--grid", str(grid)]
    cmd += ["--workspace", str(project.workspace)]
    done = subprocess.run(
        cmd, cwd=project.root, env=server_env(project.home), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def ui(server: Server, browser_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    with chromium(browser_path) as browser:
        ui = UI(browser, server.url, tmp_path_factory.mktemp("shots"))
        ui.skip_community_dialog()
        yield ui


def test_the_sweep_used_the_running_daemon(swept: str) -> None:
    assert "no dagster-daemon is running" not in swept  # dagster dev's daemon launched the members
    assert f"sweep {SWEEP}: 2/2 done, 0 failed, 0 running, 0 queued" in swept


def test_the_sweeps_group_holds_two_assets_whatever_the_sweeps_size(swept: str, ui: UI) -> None:
    with ui.page("/locations/btcbot_backtests/asset-groups/sweeps/list") as page:
        text = ui.wait_text(page, "sweep / backtest", "sweep / leaderboard")
        assert SWEEP not in text.replace(f"{SWEEP}__", "")  # no asset or group named after the sweep


def test_the_members_are_partitions_of_one_asset(swept: str, ui: UI) -> None:
    with ui.page("/assets/sweep/backtest?view=partitions") as page:
        ui.wait_text(page, *MEMBERS, "Materialized (2)", "Failed (0)", "Missing (0)")
        page.locator("span", has_text=MEMBERS[1]).first.click()  # a member's own figures, from the partition list
        text = ui.wait_text(page, "fingerprint", "return_pct", "book")
        ui.shot(page, "sweep_members.png")
    assert f"{SWEEP}__002.duckdb" in text


def test_the_leaderboard_shows_the_members_ranked(swept: str, ui: UI, project: Project) -> None:
    board = (project.root / "data" / "backtests" / "sweeps" / SWEEP / "leaderboard.csv").read_text().splitlines()
    ranked = [line.split(",", 1)[0] for line in board[1:]]
    assert sorted(ranked) == MEMBERS
    with ui.page(f"/assets/sweep/leaderboard?view=partitions&partition={SWEEP}") as page:
        text = ui.wait_text(page, *MEMBERS)
        ui.shot(page, "sweep_leaderboard.png", full_page=True)
    assert text.index(ranked[0]) < text.index(ranked[1])  # best return first, as in the file
