"""A book verified end to end: every kind of edit behind the runs' back is found by
`verify_book` (what `btcbot verify` prints), and the next run refuses to carry on from it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.storage.seal import SEALED_TABLES
from btcbot_pipeline.storage.verify import verify_book
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text


@pytest.fixture
def book(clean_book: Path, tmp_path: Path, replay_dir: Path) -> Cycle:
    from btcbot_pipeline.testing.cycle_harness import DEMO

    db = tmp_path / "book.duckdb"
    shutil.copy(clean_book, db)
    return Cycle(db=db, dataset=replay_dir, overrides=dict(DEMO))


def _edit(book: Cycle, *sql: str) -> None:
    with duckdb.connect(str(book.db)) as con:
        for statement in sql:
            con.execute(statement)


def _lines(book: Cycle, rows_last: int | None = None) -> tuple[int, list[str]]:
    with duckdb.connect(str(book.db), read_only=True) as con:
        report = verify_book(con, rows_last=rows_last)
    return report.exit_code, [f.line() for f in report.findings]


def _refused(book: Cycle) -> str:
    result = book.run("2026-01-01T02:00")
    assert not result.success
    text = failure_text(result)
    assert "BookCheckError: the book fails its check" in text and "Nothing was written" in text, text
    assert book.rows("SELECT count(*) FROM ledger_metrics WHERE cycle_ts >= TIMESTAMP '2026-01-01 02:00'") == [(0,)]
    return text


def test_a_book_as_the_runs_left_it_checks_out_and_carries_on(book: Cycle) -> None:
    with duckdb.connect(str(book.db), read_only=True) as con:
        report = verify_book(con)
        head = con.execute("SELECT sealed_cycles, strftime(sealed_through, '%H:%M') FROM book_info").fetchone()
    assert (report.exit_code, report.cycles, report.rows_checked, report.findings) == (0, 24, 24, [])
    assert head == (24, "01:55")
    assert book.run("2026-01-01T02:00").success
    assert _lines(book) == (0, [])


TAMPERS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "a middle cycle's closing digest": (
        ("UPDATE ledger_metrics SET closing_digest = sha256('x') WHERE cycle_ts = TIMESTAMP '2026-01-01 00:30'",),
        [
            "ERROR  2026-01-01T00:30  ledger_metrics.*  rows differ from what the run committed (edited, added or "
            "deleted)",
            "ERROR  2026-01-01T00:30  ledger_metrics.closing_digest  is not the digest of the state the cycle stores "
            "(state_json and its risk state)",
            "ERROR  2026-01-01T00:35  ledger_metrics.opening_digest  opened from ",
        ],
    ),
    "a middle cycle's rows": (
        tuple(f"DELETE FROM {t} WHERE cycle_ts = TIMESTAMP '2026-01-01 00:30'" for t in SEALED_TABLES),
        [
            "ERROR  2026-01-01T00:30  ledger_metrics.*  cycle 20260101T003000Z was sealed but its ledger row is gone",
            "ERROR  2026-01-01T00:35  cycle_seals.book_digest  the rolling digest does not follow from the cycle "
            "before it",
            "ERROR  2026-01-01T00:35  ledger_metrics.carried_from  carries from 20260101T003000Z, but the cycle before "
            "it in the book is 20260101T002500Z",
            "ERROR  2026-01-01T00:35  ledger_metrics.gap_cycles  1 cycle time skipped since the cycle before, recorded "
            "0",
        ],
    ),
    "a middle cycle's fills": (
        ("DELETE FROM fills WHERE cycle_ts = TIMESTAMP '2026-01-01 00:10'",),
        [
            "ERROR  2026-01-01T00:10  fills.*  0 fills stored, the cycle recorded ",
            "ERROR  2026-01-01T00:10  fills.*  rows differ from what the run committed (edited, added or deleted)",
            "ERROR  2026-01-01T00:10  fills.fee_try  the cycle's fills add up to 0, its ledger grew by ",
            "ERROR  2026-01-01T00:10  fills.notional_try  the cycle's fills add up to 0, its ledger grew by ",
            "ERROR  2026-01-01T00:10  fills.slippage_try  the cycle's fills add up to 0, its ledger grew by ",
        ],
    ),
    "1,000 TRY added to the last cycle's cash and equity": (
        (
            "UPDATE ledger_metrics SET cash_try = cash_try + 1000, equity_try = equity_try + 1000 "
            "WHERE cycle_ts = TIMESTAMP '2026-01-01 01:55'",
        ),
        [
            "ERROR  2026-01-01T01:55  ledger_metrics.*  rows differ from what the run committed (edited, added or "
            "deleted)",
            "ERROR  2026-01-01T01:55  ledger_metrics.cash_try  holds ",
            "ERROR  2026-01-01T01:55  ledger_metrics.equity_try  equity ≠ start capital + net PnL",
            "ERROR  2026-01-01T01:55  ledger_metrics.equity_try  holds ",
        ],
    ),
}


@pytest.mark.parametrize("what", list(TAMPERS))
def test_an_edit_is_found_by_verify_and_refused_by_the_next_run(book: Cycle, what: str) -> None:
    statements, expected = TAMPERS[what]
    _edit(book, *statements)

    code, lines = _lines(book)

    assert code == 2
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    # nothing named outside the edited cycle and the one that carried from it
    assert {line[7:23] for line in lines} == {e[7:23] for e in expected}, lines
    text = _refused(book)
    assert expected[0][:40] in text or any(e[:40] in text for e in expected), text


def test_an_old_row_edit_is_found_by_the_full_check_beyond_the_runs_last_cycles(book: Cycle) -> None:
    _edit(book, "UPDATE plan_actions SET reason = 'edited' WHERE cycle_ts = TIMESTAMP '2026-01-01 00:00'")

    assert _lines(book) == (
        2,
        ["ERROR  2026-01-01T00:00  plan_actions.*  rows differ from what the run committed (edited, added or deleted)"],
    )
    # a run recomputes the rows of the last 12 cycles only (the book-wide checks are SQL sums)
    assert _lines(book, rows_last=12) == (0, [])


def test_a_recorded_gap_is_not_a_finding_an_unrecorded_one_is(book: Cycle) -> None:
    assert book.run("2026-01-01T02:15").success  # 02:00, 02:05, 02:10 never ran: gap_cycles = 3
    assert _lines(book) == (0, [])
    _edit(book, "UPDATE ledger_metrics SET gap_cycles = 0 WHERE cycle_ts = TIMESTAMP '2026-01-01 02:15'")
    code, lines = _lines(book)
    assert (
        code == 2
        and "ERROR  2026-01-01T02:15  ledger_metrics.gap_cycles  3 cycle times skipped since the cycle "
        "before, recorded 0"
        in lines
    ), lines


def test_the_seal_head_in_book_info_follows_the_last_cycle(book: Cycle) -> None:
    statements: Callable[[str], tuple[str, ...]] = lambda ts: tuple(  # noqa: E731
        f"DELETE FROM {t} WHERE cycle_ts = TIMESTAMP '{ts}'" for t in (*SEALED_TABLES, "cycle_seals")
    )
    _edit(book, *statements("2026-01-01 01:55"))  # the last cycle gone, seal and all

    code, lines = _lines(book)

    assert code == 2 and lines == [
        "ERROR  2026-01-01T01:50  book_info.book_digest  the book's seal (through 2026-01-01T01:55, 24 cycles) is not "
        "its last cycle's"
    ]


def test_btcbot_verify_prints_one_line_per_finding_and_exits_0_or_2(
    book: Cycle, capsys: pytest.CaptureFixture[str]
) -> None:
    from btcbot_pipeline.cli import main

    assert main(["verify", str(book.db)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"verify {book.db}: 24 cycles, rows of 24 recomputed, 0 error(s), 0 warning(s) → OK"
    ]
    _edit(book, "UPDATE fills SET fee_try = fee_try + 1 WHERE cycle_ts = TIMESTAMP '2026-01-01 00:10'")

    assert main(["verify", str(book.db)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "ERROR  2026-01-01T00:10  fills.*  rows differ from what the run committed (edited, added or deleted)"
    )
    assert lines[1].startswith("ERROR  2026-01-01T00:10  fills.fee_try  the cycle's fills add up to ")
    assert lines[-1] == f"verify {book.db}: 24 cycles, rows of 24 recomputed, 2 error(s), 0 warning(s) → FAIL"
