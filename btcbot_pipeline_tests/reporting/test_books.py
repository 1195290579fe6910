"""Finding books by path or backtest name, and the one-line errors when they cannot be read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.reporting.books import BookNotFoundError, open_book, resolve_book
from btcbot_pipeline.settings import load_settings


def test_an_existing_file_is_used_as_it_is(tiny: Path) -> None:
    assert resolve_book(str(tiny), load_settings(None, BACKTEST_DIR="/nowhere")) == tiny


def test_a_name_is_looked_up_in_the_backtest_folder(tmp_path: Path, tiny: Path) -> None:
    settings = load_settings(None, BACKTEST_DIR=str(tmp_path))

    assert resolve_book("tiny", settings) == tmp_path / "tiny.duckdb"
    assert resolve_book("tiny.duckdb", settings) == tmp_path / "tiny.duckdb"


def test_a_missing_book_names_both_places_tried(tmp_path: Path) -> None:
    settings = load_settings(None, BACKTEST_DIR=str(tmp_path))
    message = f"no book 'nope': neither the file nope nor the backtest {tmp_path / 'nope.duckdb'} exists"

    with pytest.raises(BookNotFoundError, match=re.escape(message)):
        resolve_book("nope", settings)


def test_a_file_that_is_not_a_book_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.duckdb").write_text("hello")

    assert main(["fingerprint", str(tmp_path / "notes.duckdb")]) == 2
    assert capsys.readouterr().err == (
        f"BookAccessError: cannot read book {tmp_path / 'notes.duckdb'}: IO Error: The file "
        f'"{tmp_path / "notes.duckdb"}" '
        "exists, but it is not a valid DuckDB database file!\n"
    )


def test_a_book_locked_by_a_writer_is_a_one_line_error(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A second process holds the write lock, as a running backtest would.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(tiny)!r}); print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"

        line = (
            f"BookLockedError: book {tiny} is locked by process {holder.pid} (a running cycle or backtest?): "
            "read it when that writer has finished\n"
        )
        for command in (
            ["report", str(tiny)],
            ["fingerprint", str(tiny)],
            ["parity", str(tiny), str(tiny)],
            ["export", str(tiny), "--format", "csv", "--out", str(tiny.parent / "out")],
        ):
            assert main(command) == 2, command
            assert capsys.readouterr().err == line, command
    finally:
        holder.communicate("")


def test_open_book_is_read_only(tiny: Path) -> None:
    with open_book(tiny) as con:
        with pytest.raises(duckdb.InvalidInputException, match="attached in read-only mode"):
            con.execute("DELETE FROM fills")
