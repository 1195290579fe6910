"""Fingerprints and parity of books built from the same (or changed) inputs."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.reporting.canonical import OUTPUT_TABLES, canonical_decimal, canonical_json
from btcbot_pipeline.reporting.fingerprint import compare_books, fingerprint_book
from btcbot_pipeline.reporting.jsondiff import first_difference
from btcbot_pipeline.storage.book import Book

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of ''


def test_same_inputs_give_the_same_fingerprint(books: Path) -> None:
    base, same = fingerprint_book(books / "base.duckdb"), fingerprint_book(books / "same.duckdb")

    assert base.digest == same.digest
    assert base.tables == same.tables
    assert base.cycles == 12
    assert [t.table for t in base.tables] == list(OUTPUT_TABLES)


def test_a_changed_parameter_changes_the_fingerprint(books: Path) -> None:
    base, slipped = fingerprint_book(books / "base.duckdb"), fingerprint_book(books / "slip40.duckdb")

    assert base.digest != slipped.digest
    assert base.tables[OUTPUT_TABLES.index("fills")].digest != slipped.tables[OUTPUT_TABLES.index("fills")].digest


def test_parity_of_equal_books_exits_0(backtest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", "base", "same"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "parity OK: the books agree over 12 cycles",
        f"  A {backtest_dir / 'base.duckdb'} (12 cycles)",
        f"  B {backtest_dir / 'same.duckdb'} (12 cycles)",
        "  window all cycles",
    ]


def test_parity_names_the_first_differing_cycle_table_and_column(
    backtest_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 40 instead of 25 bps of slippage: the first cycle already sizes its third intent smaller.
    assert main(["parity", "base", "slip40"]) == 1
    assert capsys.readouterr().out.splitlines()[:4] == [
        "parity FAILED: first difference at cycle 2026-01-01T00:00 UTC (20260101T000000Z)",
        "  order_intents row 3 (symbol=TRXTRY, side=BUY, client_order_id=s7:20260101T000000Z:TRXTRY:BUY:790dcc5880d9), "
        "column qty (also differ: notional_try, client_order_id)",
        "    A 189.06",
        "    B 187.62",
    ]


def test_parity_says_which_book_lacks_a_cycle(backtest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", "short", "base"]) == 1
    assert capsys.readouterr().out.splitlines()[:3] == [
        "parity FAILED: first difference at cycle 2026-01-01T00:50 UTC (20260101T005000Z)",
        "  A lacks this cycle; B has it",
        "  cycles only in A: 0, only in B: 2",
    ]


def test_parity_over_a_window_of_equal_cycles_exits_0(backtest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", "base", "short", "--start", "2026-01-01T00:30", "--end", "2026-01-01T00:50"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "parity OK: the books agree over 4 cycles",
        f"  A {backtest_dir / 'base.duckdb'} (4 cycles)",
        f"  B {backtest_dir / 'short.duckdb'} (4 cycles)",
        "  window [2026-01-01T00:30, 2026-01-01T00:50) UTC",
    ]


def test_parity_with_a_missing_book_exits_2(backtest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", "base", "nope"]) == 2
    assert capsys.readouterr().err == (
        f"BookNotFoundError: no book 'nope': neither the file nope nor the backtest {backtest_dir / 'nope.duckdb'} "
        "exists\n"
    )


def test_parity_over_a_window_without_cycles_exits_2(backtest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", "base", "short", "--start", "2026-01-02T00:00"]) == 2
    assert capsys.readouterr().err == (
        "ReportingError: neither book has a cycle in the window [2026-01-02T00:00, …) UTC: nothing to compare\n"
    )


def test_fingerprint_command_prints_digest_cycles_and_tables(
    backtest_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = fingerprint_book(backtest_dir / "base.duckdb", end=datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc))

    assert main(["fingerprint", "base", "--end", "2026-01-01T00:10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        f"book     {backtest_dir / 'base.duckdb'}",
        "window   […, 2026-01-01T00:10) UTC",
        "cycles   2 (2026-01-01T00:00 … 2026-01-01T00:05 UTC)",
        f"digest   {expected.digest}",
    ]
    width = max(len(t.table) for t in expected.tables)  # table names are padded to the longest
    assert lines[4] == f"  {'order_intents':<{width}} {expected.tables[0].rows:>7} rows  {expected.tables[0].digest}"


# --- canonical text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.500000000000000000", "1.5"),  # DECIMAL(38, 18) as DuckDB prints it
        ("1.5", "1.5"),
        ("-0.000000000000000000", "0"),  # no negative zero
        ("100.000", "100"),  # integer zeros stay
        ("007.50", "7.5"),
        ("0.050", "0.05"),
    ],
    ids=["decimal_38_18", "text", "negative_zero", "integer_zeros", "leading_zeros", "fraction_below_one"],
)
def test_canonical_decimal(text: str, canonical: str) -> None:
    assert canonical_decimal(text) == canonical


def test_canonical_json_sorts_keys_and_normalises_numbers_not_strings() -> None:
    assert (
        canonical_json('{"b": 1.50, "a": ["1.50", {"d": 2, "c": null}]}') == '{"a":["1.50",{"c":null,"d":2}],"b":1.5}'
    )
    assert canonical_json("not json") == "not json"


def test_json_difference_names_the_path() -> None:
    a = '{"execution": {"fees_bps": "20", "slippage_bps": "25"}}'
    b = '{"execution":{"slippage_bps":"40","fees_bps":"20"}}'

    assert first_difference("active_params_json", a, b) == ("$.execution.slippage_bps", '"25"', '"40"')


def _fills_book(path: Path, *, fee: str, as_text: bool) -> Path:
    with duckdb.connect(str(path)) as con:
        if as_text:  # every column but cycle_ts as text: another writer's idea of the table
            con.execute(
                "CREATE TABLE fills (cycle_ts TIMESTAMP, cycle_id VARCHAR, fill_id VARCHAR, client_order_id VARCHAR, "
                "symbol VARCHAR, side VARCHAR, qty VARCHAR, mark_price_try VARCHAR, fill_price_try VARCHAR, "
                "notional_try VARCHAR, fee_try VARCHAR, slippage_try VARCHAR)"
            )
        else:
            Book(con).ensure_schema()
        con.execute(
            "INSERT INTO fills (cycle_ts, cycle_id, fill_id, symbol, side, notional_try, fee_try) "
            "VALUES ('2026-01-01 00:05:00', 'c5', 'f1', 'BTCTRY', 'BUY', '400', ?)",
            [fee],
        )
    return path


def test_decimal_and_text_books_have_the_same_fingerprint(tmp_path: Path) -> None:
    decimal_book = _fills_book(tmp_path / "decimal.duckdb", fee="1.5", as_text=False)
    text_book = _fills_book(tmp_path / "text.duckdb", fee="1.500", as_text=True)

    assert fingerprint_book(decimal_book).digest == fingerprint_book(text_book).digest
    assert compare_books(decimal_book, text_book).agree


def test_a_table_digest_is_the_sha256_of_its_rows_as_json_arrays(tmp_path: Path) -> None:
    book = _fills_book(tmp_path / "one.duckdb", fee="1.500", as_text=True)
    # TABLES["fills"] order: cycle_ts, cycle_id, fill_id, client_order_id, symbol, side, qty,
    # mark_price_try, fill_price_try, notional_try, fee_try, slippage_try.
    row = '["2026-01-01 00:05:00","c5","f1",null,"BTCTRY","BUY",null,null,null,"400","1.5",null]'

    fills = fingerprint_book(book).tables[OUTPUT_TABLES.index("fills")]
    assert (fills.rows, fills.digest) == (1, hashlib.sha256(row.encode()).hexdigest())


def test_parity_names_a_differing_money_column_with_canonical_values(tmp_path: Path) -> None:
    a = _fills_book(tmp_path / "a.duckdb", fee="1.5", as_text=False)
    b = _fills_book(tmp_path / "b.duckdb", fee="1.51", as_text=True)

    first = compare_books(a, b).first
    assert first is not None
    assert (first.table, first.row, first.key, first.column, first.value_a, first.value_b) == (
        "fills",
        1,
        "symbol=BTCTRY, side=BUY, fill_id=f1",
        "fee_try",
        "1.5",
        "1.51",
    )


def test_an_absent_table_counts_as_empty(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")):
        pass

    fingerprint = fingerprint_book(tmp_path / "empty.duckdb")
    lines = "".join(f"{table}\t0\t{EMPTY}\n" for table in OUTPUT_TABLES)
    assert fingerprint.digest == hashlib.sha256(lines.encode()).hexdigest()
    assert fingerprint.cycles == 0


def test_parity_names_a_row_only_one_book_has(tmp_path: Path) -> None:
    a = _fills_book(tmp_path / "a.duckdb", fee="1.5", as_text=False)
    b = _fills_book(tmp_path / "b.duckdb", fee="1.5", as_text=False)
    with duckdb.connect(str(b)) as con:
        con.execute(
            "INSERT INTO fills (cycle_ts, cycle_id, fill_id, symbol, side) VALUES ('2026-01-01 00:05:00', 'c5', 'f2', "
            "'BTCTRY', 'BUY')"
        )

    assert compare_books(a, b).text().splitlines()[:3] == [
        "parity FAILED: first difference at cycle 2026-01-01T00:05 UTC (20260101T000500Z)",
        "  fills row 2 (symbol=BTCTRY, side=BUY, fill_id=f2) only in B",
        "  differing rows: fills 1",
    ]
