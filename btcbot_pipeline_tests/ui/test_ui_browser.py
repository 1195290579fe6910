"""The Dagster UI, driven as a person drives it (issue 14's browser acceptance).

One temporary project (:mod:`btcbot_pipeline_tests.ui.dagster_project`: a two-day synthetic
dataset whose cycle 2026-01-01T23:30 has 7 of its 12 books implausible, the demo profile
with its 288 five-minute keys of 2026-01-01, a backtest spec ``ui2d`` of both days on a
clean copy) is served by ONE ``dagster dev`` for the module, started with
``PYTHONHASHSEED=0`` (a seed whose webserver refused the dialog's backfill before the
stages became a chain). Headless Chromium, driven by Playwright, clicks the UI's own
controls: *Materialize all…* / *Materialize…*, the partition dialog (its selector's
filter, *Select all (n)*, a key's checkbox), *Launch backfill* / *Launch 1 run*, the
*Plots* toggle, the *Checks* tab and a check's row. GraphQL is only read: to wait for
a backfill or a run and to say why it failed.

The tests share the server, and their order (the file's) saves the daemon's waits:
Dagster's backfill daemon ticks every 30 s (a constant, no setting), launching a backfill's
runs at one tick and marking it done at a later one. So the two backfills are launched
together (fixture ``backfills``); the cycle group's pages, which need only the run's
outcome, are read first, before anything fails; then a cycle failing its gate is launched
and its check page read; then a selection of separate windows is launched, and while the
daemon works on it the plots are read and the backfills' completion is asserted:

1. ``test_a_range_of_12_cycles_…``: *Materialize all…* on group ``cycle``, the selector's
   filter ``2026-01-01T22:`` and *Select all (12)*, *Launch backfill*: the backfill
   completes, as ONE run over 22:00…22:55, and the book has those 12 cycles' ledger rows.
2. ``test_a_backtest_group_backfill_…``: *Materialize all…* on group ``backtest_ui2d``,
   *All*, *Launch backfill*: one run over both days; the backtest's book has their 576 cycles.
3. ``test_the_…_plots_…``: the ledger's *Plots* (by partition) draw a point per
   materialized partition, the book's equity (the backtest's days, the cycle's 12 cycles).
4. ``test_a_failed_gate_…``: ``market_snapshot``'s *Materialize…* (confirming the six
   other stages), the key 2026-01-01T23:30, *Launch 1 run*: the run fails at the snapshot
   gate, and the asset's *Checks* tab shows the check Failed, in trading terms.

Also: the cycle group's lineage, ledger page, checks and run page after the backfill
(the former single-cycle test's assertions), and a selection of two separate windows,
refused by its runs with the range to select instead.

Screenshots go to ``$BTCBOT_UI_SCREENSHOTS`` when set, else to a temp folder; a failing
page is saved as ``FAILED-<page>.png`` beside them. Skipped without Chromium or
playwright unless ``BTCBOT_REQUIRE_BROWSER=1`` (CI), which fails instead.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from btcbot_pipeline.defs.cycle.assets import build_cycle_assets
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.errors import BookLockedError
from btcbot_pipeline_tests.ui.browser import (
    UI,
    chromium,
    launch_backfill,
    launch_dialog,
    launch_run,
    png_size,
    require_browser,
    select_keys,
    select_matching,
    value_after,
)
from btcbot_pipeline_tests.ui.browser import charts as read_charts
from btcbot_pipeline_tests.ui.dagster_project import (
    HASH_SEED,
    LOCATION,
    Backtest,
    Project,
    Server,
    dagster_dev,
    make_project,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

ASSETS = (
    "market_snapshot",
    "universe",
    "portfolio_plan",
    "order_intents",
    "simulated_fills",
    "ledger_snapshot",
    "cycle_trace",
)
FIVE = timedelta(minutes=5)
# The last hours of the demo day: Dagster's plots by partition draw the newest 120 keys of
# the group (14:00 … 23:55 here), so a window there is what the plot shows.
RANGE = [f"2026-01-01T22:{m:02d}" for m in range(0, 60, 5)]  # typed as "2026-01-01T22:" in the selector
LAST = RANGE[-1]
BACKTEST = Backtest("ui2d", datetime(2026, 1, 1), datetime(2026, 1, 3))
DAYS = ["2026-01-01", "2026-01-02"]
SPOILED = "2026-01-01T23:30"  # 7 of 12 books implausible: the snapshot gate fails (after RANGE: the chain allows it)
SEPARATE = ["2026-01-01T03:00", "2026-01-01T03:05", "2026-01-01T04:00"]  # two windows


def _checks_by_asset() -> dict[str, list[str]]:
    """The checks the definitions declare, per asset (what the graph's nodes count)."""
    checks: dict[str, list[str]] = {name: [] for name in ASSETS}
    for assets_def in build_cycle_assets(cycle_partitions("*/5 * * * *", "2026-01-01T00:00")):
        for spec in assets_def.check_specs:
            checks[spec.asset_key.to_user_string()].append(spec.name)
    return {name: sorted(found) for name, found in checks.items()}


CHECKS = _checks_by_asset()


def _ts(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M")


def _equities(book: Path) -> dict[datetime, Decimal]:
    """The book's equity per cycle (its ``ledger_metrics``), opened read-only."""
    with _reading(book) as con:
        rows = con.execute("select cycle_ts, equity_try from ledger_metrics order by cycle_ts").fetchall()
    equities = dict(rows)
    assert len(equities) == len(rows), f"{book}: a cycle with several ledger rows"
    return equities


@contextmanager
def _reading(book: Path, timeout_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The book read-only, once no process writes it: the failure-alert sensor records a
    failed run's alert in the book a moment after the run is reported failed, and DuckDB
    lets no reader in while a writer holds the file (a read right after the runs had failed
    once met the sensor's lock)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with open_book(book) as con:
                yield con
                return
        except BookLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _count(book: Path, table: str, key: str) -> int:
    with _reading(book) as con:
        return con.execute(f"select count(*) from {table} where cycle_ts = ?", [_ts(key)]).fetchone()[0]


# --- the module's project, server and browser --------------------------------------------


@pytest.fixture(scope="module")
def browser_path() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("BTCBOT_UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def project(browser_path: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(
        tmp_path_factory.mktemp("ui") / "project", minutes=2 * 1440, backtests=[BACKTEST], spoil=_ts(SPOILED)
    )


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[Server]:
    with dagster_dev(project) as running:
        yield running


@pytest.fixture(scope="module")
def ui(server: Server, browser_path: str, shots: Path) -> Iterator[UI]:
    with chromium(browser_path) as browser:
        ui = UI(browser, server.url, shots)
        ui.skip_community_dialog()
        yield ui


@dataclass(frozen=True)
class Backfills:
    cycle: str  # 2026-01-01T22:00 … 22:55 of group cycle
    backtest: str  # every day of group backtest_ui2d


@pytest.fixture(scope="module")
def backfills(ui: UI) -> Backfills:
    """Both backfills, launched from the UI one after the other (one daemon tick for both)."""
    # The cycle group → Materialize all… → Custom: the keys typed in the selector's filter.
    with ui.page(f"/locations/{LOCATION}/asset-groups/cycle") as page:
        dialog = launch_dialog(_click(page, "Materialize all…"))
        select_matching(page, dialog, "2026-01-01T22:", expected=len(RANGE))
        ui.wait_text(page, "Partition selection 12 partitions", "Launch backfill")
        ui.shot(page, "backfill_dialog_cycle.png")
        cycle = launch_backfill(page, dialog)
    # The backtest's group → Materialize all… → All (its two days).
    with ui.page(f"/locations/btcbot_backtests/asset-groups/backtest_{BACKTEST.name}") as page:
        dialog = launch_dialog(_click(page, "Materialize all…"))
        dialog.get_by_role("button", name="All", exact=True).click()
        ui.wait_text(page, "Partition selection 2 partitions", *DAYS)
        ui.shot(page, "backfill_dialog_backtest.png")
        backtest = launch_backfill(page, dialog)
    return Backfills(cycle, backtest)


def _click(page: Page, button: str) -> Page:
    page.get_by_role("button", name=button).click()
    return page


@pytest.fixture(scope="module")
def cycle_run(server: Server, backfills: Backfills) -> dict[str, Any]:
    """The cycle backfill's run over the whole range, once it succeeded."""
    return server.wait_covering_run(backfills.cycle, RANGE[0], LAST)


@pytest.fixture(scope="module")
def backtest_run(server: Server, backfills: Backfills) -> dict[str, Any]:
    return server.wait_covering_run(backfills.backtest, DAYS[0], DAYS[-1])


def _run_header(run_id: str, status: str) -> re.Pattern[str]:
    """A run page's breadcrumb and status: ``Runs / <backfill id> / <run id> Success``."""
    return re.compile(rf"Runs / (?:[a-z0-9]+ / )?{run_id[:8]} {status}\b")


# --- the healthy cycle group's pages (before anything fails) ----------------------------


def test_the_cycle_pages_show_the_backfilled_cycles_and_their_checks(
    project: Project, cycle_run: dict[str, Any], ui: UI
) -> None:
    run_id = cycle_run["runId"]
    equity = _equities(project.book)[_ts(LAST)]
    shown = format(equity.quantize(Decimal("0.01")), "f")

    # The lineage: seven assets, each node with all its checks passed. A window wide enough
    # for the nodes' details; twice the pixels so the screenshot reads well (the README's image).
    with ui.page(f"/locations/{LOCATION}/asset-groups/cycle", width=2000, height=800, scale=2) as page:
        nodes = (
            rf"(?<!\w){n} Latest event [^/]*? Asset checks {len(CHECKS[n])} / {len(CHECKS[n])} Passed" for n in ASSETS
        )
        ui.wait_text(page, *map(re.compile, nodes))
        ui.shot(page, "lineage.png")

    # The ledger's page: the range's last partition, with the book's equity.
    with ui.page("/assets/ledger_snapshot") as page:
        overview = ui.wait_text(
            page,
            "equity_try_exact",
            "gap_cycles",
            re.compile(
                rf"Latest materialization [^/]*? {LAST} Latest check results {len(CHECKS['ledger_snapshot'])}\b"
            ),
        )
        ui.shot(page, "ledger_snapshot.png")
    assert Decimal(value_after(overview, "equity_try_exact")) == equity
    assert Decimal(value_after(overview, "equity_try")) == Decimal(shown)
    assert value_after(overview, "gap_cycles") == "0"

    # Its checks: each passed, for one of the range's partitions (all 12 were evaluated in
    # the same run, so which one Dagster shows as the latest is not defined).
    with ui.page("/assets/ledger_snapshot?view=checks") as page:
        ui.wait_text(
            page,
            *(f"{name} Succeeded" for name in CHECKS["ledger_snapshot"]),
            re.compile(rf"Evaluation result Passed .*?Partition ({'|'.join(RANGE)})\b"),
        )
        ui.shot(page, "ledger_snapshot_checks.png")

    # The run: succeeded; its events filtered as a person would (the Events filter box, kept
    # in the URL): the check evaluations, then each check's (one per partition of the run,
    # each passed), then the lines that mention equity, among them each cycle's log line.
    with ui.page(f"/runs/{run_id}?logs=type:ASSET_CHECK_EVALUATION", height=2000) as page:
        ui.wait_text(page, _run_header(run_id, "Success"), "succeeded for materialization of")
        ui.shot(page, "run_checks.png")
        # The events list draws only the rows in view: a window tall enough for a check's 12.
        page.set_viewport_size({"width": 1600, "height": 5000})
        search = page.get_by_placeholder("Filter…")
        for asset, names in CHECKS.items():
            for name in names:
                search.fill(f"type:ASSET_CHECK_EVALUATION {name}")
                passed = f"Check {name} succeeded for materialization of {asset}."
                text = ui.wait_text(page, re.compile(f"(?:{re.escape(passed)}.*?){{{len(RANGE)}}}"))
                assert text.count(passed) == text.count(f"Check {name} ") == len(RANGE), (name, text[:3000])
    with ui.page(f"/runs/{run_id}?logs=equity") as page:
        ui.wait_text(
            page,
            _run_header(run_id, "Success"),
            *(re.compile(rf"cycle {key}: mode NORMAL, .*? equity [0-9.]+ TRY") for key in RANGE),
            re.compile(rf"cycle {LAST}: mode NORMAL, .*? equity {re.escape(shown)} TRY"),
        )
        ui.shot(page, "run_log.png")

    expected = {
        "lineage.png": (4000, 1600),
        "ledger_snapshot.png": (1600, 1000),
        "ledger_snapshot_checks.png": (1600, 1000),
        "run_checks.png": (1600, 2000),
        "run_log.png": (1600, 1000),
    }
    for name, size in expected.items():
        path = ui.shots / name
        assert path.stat().st_size > 20_000, f"{path}: {path.stat().st_size} bytes, not a rendered page"
        assert png_size(path) == size, (name, png_size(path))


# --- 4. a gate failure -------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate_run(ui: UI, cycle_run: dict[str, Any], backtest_run: dict[str, Any]) -> str:
    """Launched from the UI once the healthy pages were read: the cycle whose snapshot gate fails."""
    with ui.page("/assets/market_snapshot") as page:
        page.get_by_role("button", name="Materialize…").click()
        # One asset of the seven-stage step: the UI says the other six come along.
        ui.wait_text(page, "Additional assets will be materialized", *(n for n in ASSETS if n != "market_snapshot"))
        page.get_by_role("button", name="Confirm").click()
        dialog = launch_dialog(page)
        select_keys(page, dialog, [SPOILED])
        ui.wait_text(page, "Partition selection 1 partition", "Launch 1 run")
        ui.shot(page, "gate_dialog.png")
        return launch_run(page, dialog)


def test_a_failed_gate_shows_on_its_check_page_in_trading_terms(
    server: Server, project: Project, gate_run: str, ui: UI
) -> None:
    status = server.wait_run(gate_run)
    errors = server.run_errors(gate_run)
    assert status == "FAILURE", f"run {gate_run} of {SPOILED} ended {status}: {errors}"
    assert "market_snapshot_gate" in errors, errors
    assert _count(project.book, "market_snapshot", SPOILED) == 0  # nothing of the cycle written
    assert _count(project.book, "gate_failures", SPOILED) >= 1

    # The asset page → Checks tab → the failed check.
    with ui.page("/assets/market_snapshot") as page:
        page.get_by_role("tab", name="Checks").click()
        page.get_by_placeholder("Filter checks").fill("market_snapshot_gate")
        page.locator("[class*=checkRow]").filter(has_text="market_snapshot_gate").click()
        # the description too: the page can show the evaluation a moment before its text
        text = ui.wait_text(
            page,
            "market_snapshot_gate Failed",
            "Evaluation result Failed",
            f"Partition {SPOILED}",
            "market_snapshot_gate failed (ERROR)",
        )
        ui.shot(page, "gate_check.png")
    described = re.search(r"Latest execution (.*?) Evaluation result", text)
    assert described, text[:3000]
    assert described.group(1) == (
        "market_snapshot_gate failed (ERROR): 7 of 12 symbols (58 %) excluded, limit 50 %: implausible_spread ×7"
    ), described.group(1)


# --- optional: a selection of separate windows (launched here, its refusal read last) ------


@pytest.fixture(scope="module")
def separate(ui: UI, server: Server, gate_run: str) -> str:
    """A selection of two separate windows, launched from the UI after the failed gate's
    page was read (its refused runs mark the gate's latest execution "Execution failed")."""
    assert server.wait_run(gate_run) in ("SUCCESS", "FAILURE", "CANCELED")
    with ui.page(f"/locations/{LOCATION}/asset-groups/cycle") as page:
        dialog = launch_dialog(_click(page, "Materialize all…"))
        select_keys(page, dialog, SEPARATE)
        ui.wait_text(page, "Partition selection 3 partitions", "Launch backfill")
        return launch_backfill(page, dialog)


def test_the_dialog_launches_separate_windows_as_one_backfill(server: Server, separate: str) -> None:
    assert sorted(server.backfill(separate)["partitionNames"]) == SEPARATE  # its runs are read last


# --- 3. plots by partition ----------------------------------------------------------------

PLOTS_TIMEOUT_S = 15.0  # the charts replace the empty state once the partitions' events load (~3 s)


def _plots(ui: UI, asset_path: str, shot: str) -> tuple[str, dict[str, Any]]:
    """The asset's Overview → Metadata → *Plots* (by partition): its text and charts."""
    with ui.page(f"/assets/{asset_path}") as page:
        page.get_by_role("button", name="Plots").click()
        missing, text = ui.poll_text(page, "When graphing values by partition", timeout_s=PLOTS_TIMEOUT_S)
        found = {} if missing else read_charts(page)
        ui.shot(page, shot, full_page=True)
    return text, found


def _assert_points(found: dict[str, Any], text: str, expected: dict[str, Decimal]) -> None:
    assert "equity_try" in found, (
        f"the Plots view draws no equity_try chart after {PLOTS_TIMEOUT_S:.0f} s (charts: {sorted(found)}); "
        f"it says: {text[text.find('Metadata') :][:400]}"
    )
    chart = found["equity_try"]
    drawn = {key: y for key, y in chart.points.items() if y is not None}
    assert drawn.keys() == expected.keys(), f"partitions with a point: {sorted(drawn)}, expected {sorted(expected)}"
    for key, equity in expected.items():
        assert abs(Decimal(str(drawn[key])) - equity) < Decimal("0.006"), (key, drawn[key], equity)
    assert chart.ink > 100, f"the equity_try canvas has {chart.ink} line pixels: nothing drawn"


def test_the_backtests_ledger_plots_a_point_per_day(project: Project, backtest_run: dict[str, Any], ui: UI) -> None:
    equities = _equities(project.backtest_book(BACKTEST.name))
    last_of_day = {day: equities[_ts(f"{day}T23:55")] for day in DAYS}
    text, found = _plots(ui, f"backtest/{BACKTEST.name}/ledger_snapshot", "backtest_ledger_plots.png")
    _assert_points(found, text, last_of_day)
    assert {"cash_try", "fees_try_partition", "max_drawdown_pct_since_opening"} <= found.keys(), sorted(found)


def test_the_cycle_ledger_plots_the_backfilled_cycles(project: Project, cycle_run: dict[str, Any], ui: UI) -> None:
    # What a person sees right after scenario 1: the cycles just backfilled, drawn. (Dagster's
    # Plots by partition draw the asset's 120 newest keys, partitionKeyConnection(limit: 120,
    # ascending: false): of the demo's 288 static keys as they stand, 14:00…23:55.)
    book = _equities(project.book)
    text, found = _plots(ui, "ledger_snapshot", "ledger_plots.png")
    _assert_points(found, text, {key: book[_ts(key)] for key in RANGE})


# --- 1. and 2.: the backfills completed, each as ONE run -----------------------------------


def _one_successful_run(server: Server, backfill: dict[str, Any], first: str, last: str) -> dict[str, Any]:
    why = server.explain_backfill(backfill["id"])
    assert backfill["status"] == "COMPLETED_SUCCESS", why
    runs = server.backfill_runs(backfill["id"])
    assert len(runs) == 1, f"a contiguous selection must be ONE run:\n{why}"
    (run,) = runs
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS", why
    assert (tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")) == (
        first,
        last,
    ), tags
    return run


def test_a_range_of_12_cycles_from_the_dialog_is_one_successful_run(
    server: Server, project: Project, backfills: Backfills, ui: UI
) -> None:
    assert (
        server.process_env("dagster_webserver").get("PYTHONHASHSEED") == HASH_SEED
    )  # 0 by default: a seed that refused it before
    backfill = server.wait_backfill(backfills.cycle)
    assert sorted(backfill["partitionNames"]) == RANGE
    run = _one_successful_run(server, backfill, RANGE[0], LAST)
    assert sorted(_equities(project.book)) == [_ts(k) for k in RANGE]  # 12 ledger rows, nothing else
    with ui.page(f"/runs/b/{backfill['id']}?tab=runs") as page:  # the backfill's page: one run, succeeded
        ui.wait_text(
            page, "Partition selection 12 partitions Status Succeeded", re.compile(rf"{run['runId'][:8]} .*? Success")
        )
        ui.shot(page, "backfill_cycle.png")


def test_a_backtest_group_backfill_of_all_its_days_is_one_successful_run(
    server: Server,
    project: Project,
    backfills: Backfills,
    ui: UI,
) -> None:
    backfill = server.wait_backfill(backfills.backtest)
    assert sorted(backfill["partitionNames"]) == DAYS
    run = _one_successful_run(server, backfill, DAYS[0], DAYS[-1])
    cycles = sorted(_equities(project.backtest_book(BACKTEST.name)))
    expected = [BACKTEST.start + i * FIVE for i in range(int((BACKTEST.end - BACKTEST.start) / FIVE))]
    assert cycles == expected, f"{len(cycles)} cycles from {cycles[:1]} to {cycles[-1:]}, expected {len(expected)}"
    # the run's report chart, drawn in the run's process once its last chunk committed
    assert project.backtest_book(BACKTEST.name).with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with ui.page(f"/runs/b/{backfill['id']}?tab=runs") as page:
        ui.wait_text(
            page,
            f"Partition selection {' '.join(DAYS)} Status Succeeded",
            re.compile(rf"{run['runId'][:8]} .*? Success"),
        )
        ui.shot(page, "backfill_backtest.png")


# --- optional: the separate windows' runs refuse -------------------------------------------


def test_separate_windows_are_refused_by_their_runs_saying_what_to_select(
    server: Server,
    project: Project,
    separate: str,
    ui: UI,
) -> None:
    runs = server.wait_backfill_runs(separate, count=2)
    why = server.explain_backfill(separate)
    assert len(runs) == 2 and all(run["status"] == "FAILURE" for run in runs), why
    refusal = (
        "this backfill selected 2 separate windows of partitions (2026-01-01T03:00…2026-01-01T03:05, "
        "2026-01-01T04:00): a book is one chain of cycles, so a backfill must be one window, run in one run. Nothing "
        "was written."
    )
    assert all(refusal in server.run_errors(run["runId"]) for run in runs), why
    assert all(_count(project.book, "market_snapshot", key) == 0 for key in SEPARATE)
    # What a person reads on one of those runs' page.
    with ui.page(f"/runs/{runs[0]['runId']}?logs=type:RUN_FAILURE") as page:
        ui.wait_text(page, _run_header(runs[0]["runId"], "Failure"), refusal)
        ui.shot(page, "separate_windows_run.png")
