"""The PostgreSQL instance runs one run per book at a time and different books side by side.

On a local PostgreSQL server (``scripts/local-postgres.sh``), a project's instance is a copy
of ``dagster_home/postgres/dagster.yaml`` with ``DAGSTER_MAX_CONCURRENT_RUNS=2`` and
``dagster-daemon run`` dequeues. Submitted through the queue as a user would, with the CLI:
two dry-run cycles on the one dry-run book (``cycle_job``), then one backtest run on
each of two backtest books (``backtest_a_job``, ``backtest_b_job``, location
``btcbot_backtests``), all queued before the daemon starts. Read back from the instance's
run records:

- every run names its book (``btcbot/book``) and succeeded;
- the two cycles (one book) never ran at the same time, and the second was held back by
  its book: a backtest queued after it started before it; runs of different books ran
  side by side;
- never more than ``DAGSTER_MAX_CONCURRENT_RUNS`` runs were in progress at once;
- the dry-run book verifies (``btcbot verify``), and so does each backtest's;
- then ``btcbot sweep`` of four members through the same queue (the daemon above stopped:
  the sweep starts its own once all are queued): members of different books run side by
  side, and each member's book has the fingerprint of the same spec run alone
  (``btcbot backtest``, one after the other).

Skipped, saying why, when no PostgreSQL server can start; failed instead under
``BTCBOT_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

import dagster as dg
import pytest

from btcbot_pipeline.defs.run_tags import BOOK_TAG
from btcbot_pipeline.defs.sweep.assets import SWEEP_TAG
from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.storage.verify import verify_book
from btcbot_pipeline_tests.deploy.conftest import MAX_CONCURRENT_RUNS, PgProject, stop_groups, wait_runs
from btcbot_pipeline_tests.ui.dagster_project import BACKTESTS, LOCATION, Backtest, tool

# Read by the pg_project fixture: the dataset (6 hours of one-minute rows from 2026-01-01T00:00)
# and the backtest specs written into the project (made, not run: the queue runs them).
PG_DATASET_MINUTES = 180
PG_BACKTESTS = [
    Backtest("a", datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 2, 0)),
    Backtest("b", datetime(2026, 1, 1, 0, 0), datetime(2026, 1, 1, 2, 0)),
]
BACKTEST_DAY = "2026-01-01"  # the backtests' one day partition
CYCLES = ["2026-01-01T00:30", "2026-01-01T00:35"]  # two cycles of the dry-run book, in order
RUNS_TIMEOUT_S = 150.0


def _submit(pg: PgProject, location: str, job: str, partitions: str) -> subprocess.Popen[str]:
    """``dagster job backfill`` of ``job``: one queued run per partition."""
    return subprocess.Popen(
        [tool("dagster"), "job", "backfill", "-w", str(pg.workspace), "--location", location, "-j", job]
        + ["--partitions", partitions, "--noprompt"],
        cwd=pg.root,
        env=pg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"{' '.join(str(a) for a in proc.args[:8])} … exited {proc.returncode}:\n{out}\n{err}"


@dataclass(frozen=True)
class Run:
    """A run as the queue counts it: in progress from its launch (the daemon's RUN_STARTING
    event, from which the run counts against the queue's limits) to its end. Not from
    its process's start: on a busy machine the daemon's launches, one after the other, took
    longer than a short run, and runs the queue had let out together looked one by one."""

    record: dg.RunRecord
    launched: float

    @property
    def dagster_run(self) -> dg.DagsterRun:
        return self.record.dagster_run

    @property
    def create_timestamp(self) -> datetime:
        return self.record.create_timestamp


def _runs(instance: dg.DagsterInstance, records: list[dg.RunRecord]) -> list[Run]:
    """``records`` with their launch times, in launch order."""
    runs = []
    for record in records:
        starting = instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_STARTING)
        assert len(starting) == 1, (record.dagster_run.run_id, starting)
        runs.append(Run(record, starting[0].timestamp))
    return sorted(runs, key=lambda r: r.launched)


def _span(run: Run) -> tuple[float, float]:
    assert run.record.end_time is not None, run.dagster_run.run_id
    return run.launched, run.record.end_time


def _overlap(a: Run, b: Run) -> float:
    (s1, e1), (s2, e2) = _span(a), _span(b)
    return min(e1, e2) - max(s1, s2)


def _most_in_progress(records: list[Run]) -> int:
    """The largest number of runs in progress at one moment (an end before a start on a tie)."""
    events = sorted([(s, 1) for s, _ in map(_span, records)] + [(e, -1) for _, e in map(_span, records)])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


@pytest.fixture(scope="module")
def queued_runs(
    request: pytest.FixtureRequest, pg_project: PgProject, pg_code_servers: object, pg_instance: dg.DagsterInstance
) -> list[Run]:
    """The four runs, all queued before the daemon starts (so that the CLI's own latency
    cannot order them), in this order: the two cycles (one backfill: created in order), then
    both backtests at once. Then the daemon dequeues them, oldest first, and they end."""
    started = time.monotonic()
    _wait(_submit(pg_project, LOCATION, "cycle_job", ",".join(CYCLES)))
    backtests = [_submit(pg_project, BACKTESTS, f"backtest_{b.name}_job", BACKTEST_DAY) for b in PG_BACKTESTS]
    for proc in backtests:
        _wait(proc)
    submitted = time.monotonic()
    request.getfixturevalue("pg_daemon")
    records = wait_runs(pg_instance, dg.RunsFilter(), 4, RUNS_TIMEOUT_S, pg_project.daemon_log)
    print(
        f"\nqueued in {submitted - started:.1f} s; the daemon started and all four ended "
        f"{time.monotonic() - submitted:.1f} s later"
    )
    return _runs(pg_instance, records)


def test_every_run_names_its_book_and_succeeds(queued_runs: list[Run], pg_project: PgProject) -> None:
    books = {}
    for record in queued_runs:
        run = record.dagster_run
        assert run.status == dg.DagsterRunStatus.SUCCESS, f"{run.job_name} {run.run_id}: {run.status}"
        books.setdefault(run.job_name, []).append(run.tags.get(BOOK_TAG))
    project = pg_project.project
    assert books == {
        "cycle_job": [str(project.book.resolve())] * 2,
        "backtest_a_job": [str(project.backtest_book("a").resolve())],
        "backtest_b_job": [str(project.backtest_book("b").resolve())],
    }


def test_one_book_runs_one_at_a_time_and_different_books_side_by_side(queued_runs: list[Run]) -> None:
    first = min(s for s, _ in map(_span, queued_runs))
    last = max(e for _, e in map(_span, queued_runs))
    one_by_one = sum(e - s for s, e in map(_span, queued_runs))
    print(f"\n4 runs: {last - first:.1f} s from the first launch to the last end; {one_by_one:.1f} s of runs in all")
    for r in queued_runs:
        s, e = _span(r)
        key = r.dagster_run.tags.get("dagster/partition")
        print(f"  {r.dagster_run.job_name:16} {key:17} launched +{s - first:5.1f} s, in progress {e - s:5.1f} s")
    cycles = [r for r in queued_runs if r.dagster_run.job_name == "cycle_job"]
    assert [r.dagster_run.tags["dagster/partition"] for r in cycles] == CYCLES  # in order, one after the other
    first_cycle, second_cycle = cycles
    assert _overlap(first_cycle, second_cycle) <= 0, [_span(r) for r in cycles]
    # ... held back by its book, not for want of a slot: the queue is dequeued oldest first,
    # and a run queued after the second cycle started before it
    overtaking = [
        r.dagster_run.job_name
        for r in queued_runs
        if r.create_timestamp > second_cycle.create_timestamp and _span(r)[0] < _span(second_cycle)[0]
    ]
    assert overtaking, [(r.dagster_run.job_name, r.create_timestamp, _span(r)) for r in queued_runs]
    side_by_side = [
        (a.dagster_run.job_name, b.dagster_run.job_name, round(_overlap(a, b), 1))
        for a, b in combinations(queued_runs, 2)
        if a.dagster_run.tags[BOOK_TAG] != b.dagster_run.tags[BOOK_TAG] and _overlap(a, b) > 0
    ]
    assert side_by_side, [(r.dagster_run.job_name, _span(r)) for r in queued_runs]
    assert _most_in_progress(queued_runs) == MAX_CONCURRENT_RUNS


def test_the_books_verify(queued_runs: list[Run], pg_project: PgProject) -> None:
    """What ``btcbot verify <book>`` checks, here: two cycles in the dry-run book, 24 (two
    hours of five-minute cycles) in each backtest's."""
    project = pg_project.project
    for book, cycles in ((project.book, 2), (project.backtest_book("a"), 24), (project.backtest_book("b"), 24)):
        with open_book(book) as con:
            report = verify_book(con)
        assert (report.exit_code, report.cycles) == (0, cycles), [f.line() for f in report.findings]


# --- a sweep through the same queue -------------------------------------------------------
# Four members on four books, launched by `btcbot sweep` through this instance's queue with
# the daemon above running: they run MAX_CONCURRENT_RUNS at a time, and each member's book
# is the book of the same spec run alone, one after the other, with `btcbot backtest`.
SWEEP = "pg"
SWEEP_WINDOW = ["--start", "2026-01-01T00:30", "--end", "2026-01-01T01:25"]  # 11 cycles
SWEEP_GRID = "grid:\n  STAGE7_SLIPPAGE_BPS: [10, 40]\n  STAGE7_REBALANCE_BAND_BPS: [0, 200]\n"


@dataclass(frozen=True)
class SweepOutcome:
    records: list[Run]
    members: dict[str, dict[str, str]]  # member → its grid values
    sweep_s: float
    sequential_s: float
    output: str


@pytest.fixture(scope="module")
def swept(
    queued_runs: list[Run],
    pg_project: PgProject,
    pg_instance: dg.DagsterInstance,
    pg_daemon: subprocess.Popen[bytes],
) -> SweepOutcome:
    """``btcbot sweep`` after the runs above, with the daemon above stopped (and its
    heartbeats wiped), so that the sweep starts one of its own once all four members are
    queued; then the same four specs one by one with ``btcbot backtest`` (no queue) into
    books of their own.

    Why not on the running daemon: the backfill command queues one run at a time, seconds
    apart on a busy 2-core machine, and a daemon dequeuing meanwhile ran each short member
    before the next was queued (CI saw no two overlap). All queued first, the queue's own
    limit is what decides (the UI test covers a sweep on a running daemon)."""
    stop_groups([pg_daemon])
    pg_instance.wipe_daemon_heartbeats()
    project = pg_project.project
    grid = project.root / "grid.yaml"
    grid.write_text(SWEEP_GRID)
    dataset = ["--dataset", str(project.dataset)]
    t0 = time.monotonic()
    out = pg_project.run(
        tool("btcbot"), "sweep", *dataset, *SWEEP_WINDOW, "--name", SWEEP, "--grid", str(grid),
        "--workspace", str(pg_project.workspace), timeout=300,
    )  # fmt: skip
    sweep_s = time.monotonic() - t0
    manifest = json.loads((project.backtest_dir / "sweeps" / SWEEP / "sweep.json").read_text())
    members = {m["name"]: m["params"] for m in manifest["members"]}
    t0 = time.monotonic()
    for member, params in members.items():
        sets = [arg for k, v in sorted(params.items()) for arg in ("--set", f"{k}={v}")]
        pg_project.run(tool("btcbot"), "backtest", *dataset, *SWEEP_WINDOW, "--name", f"alone_{member[-3:]}", *sets)
    sequential_s = time.monotonic() - t0
    records = list(pg_instance.get_run_records(filters=dg.RunsFilter(tags={SWEEP_TAG: SWEEP})))
    print(f"\nsweep of {len(members)}: {sweep_s:.1f} s through the queue; {sequential_s:.1f} s one by one")
    return SweepOutcome(_runs(pg_instance, records), members, sweep_s, sequential_s, out)


def test_a_sweep_runs_its_members_side_by_side_through_the_queue(swept: SweepOutcome, pg_project: PgProject) -> None:
    assert (
        "no dagster-daemon is running" in swept.output
        and "stopped the dagster-daemon this sweep started" in swept.output
    )
    assert len(swept.members) == 4
    books = {str((pg_project.project.backtest_dir / "sweeps" / SWEEP / f"{m}.duckdb").resolve()) for m in swept.members}
    runs = [(r.dagster_run.job_name, r.dagster_run.status, r.dagster_run.tags[BOOK_TAG]) for r in swept.records]
    assert sorted(runs) == sorted(("sweep_job", dg.DagsterRunStatus.SUCCESS, b) for b in books)
    side_by_side = [(a, b) for a, b in combinations(swept.records, 2) if _overlap(a, b) > 0]
    assert side_by_side, [(r.dagster_run.tags.get("dagster/partition"), _span(r)) for r in swept.records]
    assert _most_in_progress(swept.records) == MAX_CONCURRENT_RUNS


def test_each_member_book_is_its_spec_run_alone(swept: SweepOutcome, pg_project: PgProject) -> None:
    folder = pg_project.project.backtest_dir
    twins = {
        member: (
            fingerprint_book(folder / "sweeps" / SWEEP / f"{member}.duckdb").digest,
            fingerprint_book(folder / f"alone_{member[-3:]}.duckdb").digest,
        )
        for member in swept.members
    }
    assert all(a == b for a, b in twins.values()), twins
    assert len({a for a, _ in twins.values()}) == 4  # four parameter sets, four different books
