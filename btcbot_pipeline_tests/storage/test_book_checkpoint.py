"""A book defers DuckDB's checkpoint to a larger write-ahead log, and a process that dies
between two commits leaves a book that opens, with every committed chunk and its seal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.storage.seal import unsealed_cycles

# Two committed chunks of one cycle each, then the process ends without closing the book
# (as a killed run would): what they committed is only in the write-ahead log.
WRITER = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime, timezone
    import duckdb
    from btcbot_pipeline.storage.book import Book
    from btcbot_pipeline.storage.seal import seal_from

    book = Book(duckdb.connect(sys.argv[1]))
    book.ensure_schema()
    book.con.execute("INSERT INTO book_info (kind) VALUES ('backtest')")
    for minute in (0, 5):
        ts = datetime(2026, 1, 1, 0, minute, tzinfo=timezone.utc)
        book.begin()
        book.insert_rows({"ledger_metrics": [(ts, f"c{minute}") + (None,) * 18]})
        seal_from(book.con, ts)
        book.commit()
    os._exit(0)
    """
)


def test_a_book_checkpoints_at_a_larger_log_than_duckdbs_default() -> None:
    con = duckdb.connect()
    default = con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    Book(con).ensure_schema()

    assert default != ("122.0 MiB",)
    assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchone() == ("122.0 MiB",)


def test_a_run_that_dies_between_commits_leaves_its_committed_chunks_in_the_book(tmp_path: Path) -> None:
    path = tmp_path / "book.duckdb"
    subprocess.run([sys.executable, "-c", WRITER, str(path)], check=True, timeout=120)
    assert Path(f"{path}.wal").stat().st_size > 0  # not checkpointed: the log holds the commits

    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT cycle_id FROM ledger_metrics ORDER BY cycle_ts").fetchall() == [("c0",), ("c5",)]
    assert con.execute("SELECT sealed_cycles FROM book_info").fetchone() == (2,)
    con.close()
    con = duckdb.connect(str(path))
    assert unsealed_cycles(con) == []  # the rows as committed, under their seals
    con.close()
    assert not Path(f"{path}.wal").exists()  # closing the book checkpoints the log into it


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_a_books_memory_cap_holds_inside_and_is_lifted_after(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "book.duckdb"))
    default = _memory_limit(con)
    with Book(con).memory_capped("96MB"):
        assert _memory_limit(con) == "91.5 MiB"
    assert _memory_limit(con) == default


def test_a_book_is_single_threaded_inside_and_its_thread_count_comes_back_after(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "book.duckdb"))
    con.execute("SET threads = 3")  # a count of the user's own, not DuckDB's default
    with Book(con).single_threaded():
        assert _threads(con) == 1
    assert _threads(con) == 3


def _threads(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT current_setting('threads')").fetchone()[0]


def test_a_failure_inside_the_memory_cap_is_the_error_raised(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "book.duckdb"))
    with pytest.raises(RuntimeError, match="^the run failed$"):
        with Book(con).memory_capped("96MB"):
            con.close()  # as a failure that leaves the connection unusable
            raise RuntimeError("the run failed")
