"""Books of every older schema version since 3 are migrated when a run opens them, in one
transaction, keeping every row, and their chain goes on; a book of a newer version is
refused naming both versions. The old books are real ones, written by the code of their
version (``fixtures/books/README.md`` says how): ``v<version>_<what>.duckdb.gz``, at
least a dry-run and a backtest book of every version from 3 to the one before
:data:`~btcbot_pipeline.storage.schema.SCHEMA_VERSION` (a test fails when a bump comes
without the previous version's books)."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.storage import book as B
from btcbot_pipeline.storage import seal
from btcbot_pipeline.storage.book import Book, BookError
from btcbot_pipeline.storage.schema import ADAPTATION_TABLES
from btcbot_pipeline.storage.verify import verify_book
from btcbot_pipeline.testing.cycle_harness import DEMO, START, Cycle

BOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "books"
OLDEST = 3  # books before version 3 have no migration: they are refused
FIXTURES = sorted(p.name for p in BOOKS.glob("v*.duckdb.gz"))
DRY_RUNS = [n for n in FIXTURES if "_dry_run_" in n]


def _version(name: str) -> int:
    found = re.match(r"v(\d+)_", name)
    assert found, f"{name}: fixture books are named v<version>_<what>.duckdb.gz"
    return int(found.group(1))


def _unzip(name: str, into: Path) -> Path:
    path = into / name.removesuffix(".gz")
    with gzip.open(BOOKS / name) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _ddl(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str, str]]:
    """Every table's columns in order, with their types: the book's shape."""
    return con.execute(
        "SELECT table_name, ordinal_position, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def _seals(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        f"SELECT cycle_ts, cycle_id, rows_digest, book_digest FROM {seal.SEAL_TABLE} ORDER BY cycle_ts"
    ).fetchall()


def _current_shape(tmp_path: Path) -> list[tuple[str, int, str, str]]:
    """The shape of a book this code creates (no run needed: the schema alone)."""
    with duckdb.connect(str(tmp_path / "fresh.duckdb")) as con:
        Book(con).ensure_schema()
        return _ddl(con)


def test_every_version_since_3_has_real_books_and_a_migration() -> None:
    versions = {_version(n) for n in FIXTURES}
    previous = set(range(OLDEST, B.SCHEMA_VERSION))

    assert versions == previous, "a schema version bump adds real books of the version before it (README)"
    assert set(B.MIGRATIONS) == previous
    for v in previous:
        kinds = {n.split("_", 1)[1] for n in FIXTURES if _version(n) == v}
        assert any(k.startswith("dry_run_") for k in kinds) and any(k.startswith("backtest_") for k in kinds), v
    readme = (BOOKS / "README.md").read_text()
    assert [n for n in FIXTURES if f"`{n}`" not in readme] == []


@pytest.mark.parametrize("name", FIXTURES)
def test_a_book_of_an_older_version_is_migrated_in_place_keeping_every_row(tmp_path: Path, name: str) -> None:
    version = _version(name)
    path = _unzip(name, tmp_path)
    fingerprint = fingerprint_book(path).digest
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(version,)]
        before, seals = _counts(con), _seals(con)

        assert Book(con).migrate() == version

        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(B.SCHEMA_VERSION,)]
        assert _ddl(con) == _current_shape(tmp_path)  # the shape this code writes, column order included
        after = _counts(con)
        assert {t: n for t, n in after.items() if t in before} == before  # every row kept
        assert {t: n for t, n in after.items() if t not in before} == dict.fromkeys(set(after) - set(before), 0)
        assert Book(con).migrate() == B.SCHEMA_VERSION  # already there: nothing to do
        assert [f.line() for f in verify_book(con).findings] == []
        adds_tables_only = all(
            s.startswith("CREATE TABLE") for v in range(version, B.SCHEMA_VERSION) for s in B.MIGRATIONS[v]
        )
        if adds_tables_only:  # the same rows: re-sealed to the very same digests
            assert _seals(con) == seals
    assert fingerprint_book(path).digest == fingerprint  # outputs unchanged


@pytest.mark.parametrize("name", FIXTURES)
def test_a_book_of_an_older_version_verifies_before_it_is_migrated(tmp_path: Path, name: str) -> None:
    path = _unzip(name, tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:  # btcbot verify only reads: no migration
        assert [f.line() for f in verify_book(con).findings] == []
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(_version(name),)]


@pytest.mark.parametrize(
    "edit, table",
    [
        ("UPDATE positions SET qty = qty + 1 WHERE cycle_ts = TIMESTAMP '2026-01-01 00:05'", "positions"),
        # a column version 4 dropped: still sealed until the migration drops it
        ("UPDATE market_cycles SET payload = '{}' WHERE cycle_ts = TIMESTAMP '2026-01-01 00:05'", "market_cycles"),
    ],
)
def test_an_edit_of_a_book_not_migrated_yet_is_found(tmp_path: Path, edit: str, table: str) -> None:
    path = _unzip("v3_dry_run_seed42_0000-0010.duckdb.gz", tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute(edit)
        assert [f.line() for f in verify_book(con).findings] == [
            f"ERROR  2026-01-01T00:05  {table}.*  rows differ from what the run committed (edited, added or deleted)"
        ]


@pytest.mark.parametrize("name", DRY_RUNS)
def test_a_failed_migration_leaves_the_book_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    last = B.SCHEMA_VERSION - 1  # the last step fails: every step before it is undone too
    monkeypatch.setitem(B.MIGRATIONS, last, (*B.MIGRATIONS[last][:1], "ALTER TABLE no_such_table DROP COLUMN x"))
    path = _unzip(name, tmp_path)
    with duckdb.connect(str(path)) as con:
        before, counts, seals = _ddl(con), _counts(con), _seals(con)
        with pytest.raises(duckdb.CatalogException):
            Book(con).migrate()

        assert _ddl(con) == before
        assert _counts(con) == counts
        assert _seals(con) == seals
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(_version(name),)]


@pytest.mark.parametrize("name", DRY_RUNS)
def test_a_migrated_dry_run_book_continues_its_chain(tmp_path: Path, name: str) -> None:
    db = _unzip(name, tmp_path)
    dataset = tmp_path / "replay"
    init_replay_dataset(dataset, seed=42, start=START, minutes=1440)  # the data the book was written from
    cycle = Cycle(db=db, dataset=dataset, overrides=dict(DEMO))

    assert cycle.run("2026-01-01T00:15").success

    chain = cycle.rows(
        "SELECT cycle_id, carried_from, opening_digest, closing_digest FROM ledger_metrics ORDER BY cycle_ts"
    )
    assert [c[0] for c in chain] == ["20260101T000000Z", "20260101T000500Z", "20260101T001000Z", "20260101T001500Z"]
    assert chain[3][1] == chain[2][0] and chain[3][2] == chain[2][3]  # opened from the old cycle's closing state
    assert cycle.rows("SELECT schema_version FROM book_info") == [(B.SCHEMA_VERSION,)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert [f.line() for f in verify_book(con).findings] == []


@pytest.mark.parametrize("name", DRY_RUNS)
def test_a_book_of_a_newer_version_is_refused_naming_both_versions(tmp_path: Path, name: str) -> None:
    newer = B.SCHEMA_VERSION + 1
    path = _unzip(name, tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE book_info SET schema_version = ?", [newer])
        shape = _ddl(con)
        with pytest.raises(BookError) as refused:
            Book(con).ensure_schema()

        assert _ddl(con) == shape  # nothing created or changed
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(newer,)]
    assert str(refused.value) == (
        f"this book is of schema version {newer}, newer than this code's version {B.SCHEMA_VERSION}: open it with the "
        "version of btcbot_pipeline that wrote it (or a newer one)"
    )


@pytest.mark.parametrize(
    "name, edit, first",
    [
        (n, "UPDATE positions SET qty = qty + 1 WHERE cycle_ts = TIMESTAMP '2026-01-01 00:05'", "2026-01-01T00:05")
        for n in DRY_RUNS
    ]
    + [
        (  # the adaptation's rows are sealed too, where a book has them
            "v4_adaptive_backtest_real10_0500-0700.duckdb.gz",
            "UPDATE params_active SET active_version = 9 WHERE cycle_ts = TIMESTAMP '2018-01-10 05:30'",
            "2018-01-10T05:30",
        )
    ],
)
def test_a_book_with_edited_rows_is_not_migrated(tmp_path: Path, name: str, edit: str, first: str) -> None:
    version = _version(name)
    path = _unzip(name, tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute(edit)
        shape = _ddl(con)
        with pytest.raises(BookError) as refused:
            Book(con).migrate()

        assert str(refused.value) == (
            f"this book of schema version {version} is not migrated to version {B.SCHEMA_VERSION}: the rows of "
            f"1 cycle(s) differ from what their run committed (first {first}); a migration re-seals the book, so it "
            "never starts from edited rows. btcbot verify lists them"
        )
        assert _ddl(con) == shape
        assert con.execute("SELECT schema_version FROM book_info").fetchall() == [(version,)]


def test_version_4_came_in_two_shapes_and_both_migrate(tmp_path: Path) -> None:
    """20562d3's books lack the adaptation's tables; books of 472b469 … 5dffd32 said version 4
    too, with them (and, adapting, with their rows, sealed). Both become version 5."""

    def adaptation_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        return {t: n for t, n in _counts(con).items() if t in ADAPTATION_TABLES}

    shapes = {}
    for name in ("v4_backtest_real10_0500-0700.duckdb.gz", "v4_adaptive_backtest_real10_0500-0700.duckdb.gz"):
        with duckdb.connect(str(_unzip(name, tmp_path))) as con:
            before = adaptation_rows(con)
            Book(con).migrate()
            shapes[name] = (before, adaptation_rows(con))
    assert shapes == {
        "v4_backtest_real10_0500-0700.duckdb.gz": (
            {},
            {"params_active": 0, "param_changes": 0, "params_checkpoints": 0},
        ),
        "v4_adaptive_backtest_real10_0500-0700.duckdb.gz": (
            {"params_active": 24, "param_changes": 7, "params_checkpoints": 2},
            {"params_active": 24, "param_changes": 7, "params_checkpoints": 2},
        ),
    }
