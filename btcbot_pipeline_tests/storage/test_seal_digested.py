"""A chunk sealed from digests taken batch by batch, as a run writes it, gets the seals of
one digest over the whole chunk."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb
import pytest

from btcbot_pipeline.storage.seal import SEAL_TABLE, Digested, seal_from, table_digests

START = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
MIDDLE = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
SEALS = f"SELECT * FROM {SEAL_TABLE} ORDER BY cycle_ts"
Sealed = tuple[duckdb.DuckDBPyConnection, list[tuple]]


@pytest.fixture
def sealed(clean_book: Path, tmp_path: Path) -> Iterator[Sealed]:
    """A copy of the book open in a transaction, and its seals as the run wrote them."""
    book = tmp_path / "book.duckdb"
    shutil.copy(clean_book, book)
    con = duckdb.connect(str(book))
    written = con.execute(SEALS).fetchall()
    con.execute("BEGIN TRANSACTION")
    yield con, written
    con.execute("ROLLBACK")
    con.close()


def test_digests_taken_ahead_give_the_seals_of_one_digest_over_the_chunk(sealed: Sealed) -> None:
    con, written = sealed
    ahead = table_digests(con, START, MIDDLE)  # the first batch, digested as soon as it was written
    assert len(ahead) == 6  # 00:30 … 00:55
    assert seal_from(con, START, digested=Digested(MIDDLE, ahead)) == 18  # 00:30 … 01:55
    assert con.execute(SEALS).fetchall() == written


def test_with_nothing_digested_ahead_sealing_digests_the_whole_chunk(sealed: Sealed) -> None:
    con, written = sealed
    con.execute(f"DELETE FROM {SEAL_TABLE} WHERE cycle_ts >= ?", [MIDDLE.replace(tzinfo=None)])
    assert seal_from(con, START, digested=Digested(START)) == 18
    assert con.execute(SEALS).fetchall() == written
