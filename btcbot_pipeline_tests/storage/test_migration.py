"""Books of an older schema version are migrated when a run opens them, in one transaction,
and their chain goes on; a book of a newer version is refused. The old books are real ones,
written by the code of their version (``fixtures/books/README.md`` says how)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.storage import book as B
from btcbot_pipeline.storage.book import Book, BookError
from btcbot_pipeline.storage.verify import verify_book
from btcbot_pipeline.testing.cycle_harness import DEMO, START, Cycle

BOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "books"
DROPPED_IN_4 = {
    ("market_cycles", "payload"),
    ("portfolio_plan", "portfolio_plan_json"),
    ("order_intents", "intent_json"),
    ("fills", "payload"),
    ("ledger_metrics", "metrics_json"),
}


def _unzip(name: str, into: Path) -> Path:
    path = into / name.removesuffix(".gz")
    with gzip.open(BOOKS / name) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall())


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    # (the adaptation's tables came later, additive: ensure_schema creates them empty)
    present = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in B.TABLES if t in present}


@pytest.mark.parametrize("name", ["v3_dry_run_seed42_0000-0010.duckdb.gz", "v3_backtest_real10_0500-0700.duckdb.gz"])
def test_a_version_3_book_is_migrated_in_place_keeping_every_row(tmp_path: Path, name: str) -> None:
    path = _unzip(name, tmp_path)
    with duckdb.connect(str(path)) as con:
        before_cols, before = _columns(con), _counts(con)
        assert DROPPED_IN_4 <= before_cols

        assert Book(con).migrate() == 3

        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(4,)]
        assert _columns(con) == before_cols - DROPPED_IN_4
        assert _counts(con) == before
        assert Book(con).migrate() == 4  # already there: nothing to do
        assert [f.line() for f in verify_book(con).findings] == []


def test_a_failed_migration_leaves_the_book_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _unzip("v3_dry_run_seed42_0000-0010.duckdb.gz", tmp_path)
    monkeypatch.setitem(B.MIGRATIONS, 3, (*B.MIGRATIONS[3][:2], "ALTER TABLE no_such_table DROP COLUMN x"))
    with duckdb.connect(str(path)) as con:
        before = _columns(con)
        with pytest.raises(duckdb.CatalogException):
            Book(con).migrate()

        assert _columns(con) == before
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(3,)]


def test_a_migrated_dry_run_book_continues_its_chain(tmp_path: Path) -> None:
    db = _unzip("v3_dry_run_seed42_0000-0010.duckdb.gz", tmp_path)
    dataset = tmp_path / "replay"
    init_replay_dataset(dataset, seed=42, start=START, minutes=1440)  # the data the book was written from
    cycle = Cycle(db=db, dataset=dataset, overrides=dict(DEMO))

    assert cycle.run("2026-01-01T00:15").success

    chain = cycle.rows(
        "SELECT cycle_id, carried_from, opening_digest, closing_digest FROM ledger_metrics ORDER BY cycle_ts"
    )
    assert [c[0] for c in chain] == ["20260101T000000Z", "20260101T000500Z", "20260101T001000Z", "20260101T001500Z"]
    assert chain[3][1] == chain[2][0] and chain[3][2] == chain[2][3]  # opened from the v3 cycle's closing state
    assert cycle.rows("SELECT schema_version FROM book_info") == [(4,)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert [f.line() for f in verify_book(con).findings] == []


def test_a_book_of_a_newer_version_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = _unzip("v3_dry_run_seed42_0000-0010.duckdb.gz", tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE book_info SET schema_version = 9")
        with pytest.raises(BookError) as refused:
            Book(con).ensure_schema()

    assert str(refused.value) == (
        f"this book is of schema version 9, newer than this code's version {B.SCHEMA_VERSION}: open it with the "
        "version of btcbot_pipeline that wrote it (or a newer one)"
    )


def test_a_version_3_book_with_edited_rows_is_not_migrated(tmp_path: Path) -> None:
    path = _unzip("v3_dry_run_seed42_0000-0010.duckdb.gz", tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE positions SET qty = qty + 1 WHERE cycle_ts = TIMESTAMP '2026-01-01 00:05'")
        with pytest.raises(BookError) as refused:
            Book(con).migrate()

        assert str(refused.value) == (
            "this book of schema version 3 is not migrated to version 4: the rows of 1 cycle(s) differ from what "
            "their run committed (first 2026-01-01T00:05); a migration re-seals the book, so it never starts from "
            "edited rows. btcbot verify lists them"
        )
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(3,)]
