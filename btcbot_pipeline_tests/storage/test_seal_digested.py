"""A chunk sealed from digests taken batch by batch, as a run writes it, gets the seals of
one digest over the whole chunk."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.storage.seal import SEAL_TABLE, seal_from, table_digests
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle

START = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
MIDDLE = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
SEALS = f"SELECT * FROM {SEAL_TABLE} ORDER BY cycle_ts"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> Path:
    """24 cycles, 00:00 … 01:55, in one run."""
    db = tmp_path_factory.mktemp("seal") / "book.duckdb"
    assert (
        Cycle(db=db, dataset=replay_dir, overrides=dict(DEMO))
        .run(first="2026-01-01T00:00", last="2026-01-01T01:55")
        .success
    )
    return db


def test_digests_taken_ahead_give_the_seals_of_one_digest_over_the_chunk(book: Path) -> None:
    con = duckdb.connect(str(book))
    written = con.execute(SEALS).fetchall()

    con.execute("BEGIN TRANSACTION")
    ahead = table_digests(con, START, MIDDLE)  # the first batch, digested as soon as it was written
    assert len(ahead) == 6  # 00:30 … 00:55
    assert seal_from(con, START, digested=(MIDDLE, ahead)) == 18  # 00:30 … 01:55
    assert con.execute(SEALS).fetchall() == written
    con.execute("ROLLBACK")


def test_with_nothing_digested_ahead_sealing_digests_the_whole_chunk(book: Path) -> None:
    con = duckdb.connect(str(book))
    written = con.execute(SEALS).fetchall()

    con.execute("BEGIN TRANSACTION")
    con.execute(f"DELETE FROM {SEAL_TABLE} WHERE cycle_ts >= ?", [MIDDLE.replace(tzinfo=None)])
    assert seal_from(con, START, digested=(START, {})) == 18
    assert con.execute(SEALS).fetchall() == written
    con.execute("ROLLBACK")
