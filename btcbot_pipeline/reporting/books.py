"""Finding a book by name or path and opening it read-only.

A book is named either by its file (``data/btcbot_book.duckdb``, the dry-run book) or by
a backtest name, which lives at ``<BACKTEST_DIR>/<name>.duckdb``. Reports never write, so
every book is opened read-only: a writer (a running cycle or backtest) keeps DuckDB's
file lock, and that case becomes one readable line instead of a DuckDB traceback
(the error classes are in :mod:`.errors`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Mapping

import duckdb

from btcbot_pipeline.reporting.errors import (
    BookAccessError,
    BookLockedError,
    BookNotFoundError,
    ReportingError,
)
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import naive_utc

__all__ = [
    "BookAccessError",
    "BookLockedError",
    "BookNotFoundError",
    "ReportingError",
    "access_error",
    "attach_books",
    "has_table",
    "open_book",
    "resolve_book",
    "window_sql",
]

BOOK_SUFFIX = ".duckdb"


def resolve_book(name_or_path: str, settings: BotSettings) -> Path:
    """The book file for a path or a backtest name.

    Args:
        name_or_path: an existing file (used as is), or a backtest name looked up as
            ``<settings.backtest_dir>/<name>.duckdb`` (a name already ending in
            ``.duckdb`` is not given a second suffix).
        settings: only ``backtest_dir`` is read.

    Raises:
        BookNotFoundError: if neither place holds a file; the message names both.
    """
    given = Path(name_or_path)
    if given.is_file():
        return given
    file_name = name_or_path if name_or_path.endswith(BOOK_SUFFIX) else name_or_path + BOOK_SUFFIX
    in_backtests = Path(settings.backtest_dir) / file_name
    if in_backtests.is_file():
        return in_backtests
    raise BookNotFoundError(
        f"no book {name_or_path!r}: neither the file {given} nor the backtest {in_backtests} exists"
    )


def access_error(path: Path, exc: duckdb.Error) -> BookAccessError:
    """DuckDB's error on opening ``path`` as one line saying what to do."""
    text = str(exc)
    if "Could not set lock" in text or "different configuration" in text:
        pid = re.search(r"\(PID (\d+)\)", text)
        holder = f"process {pid.group(1)}" if pid else "another connection"
        return BookLockedError(
            f"book {path} is locked by {holder} (a running cycle or backtest?): read it when that writer has finished"
        )
    return BookAccessError(f"cannot read book {path}: {text.splitlines()[0]}")


@contextmanager
def open_book(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to ``path``, closed on exit.

    Raises:
        BookLockedError: if a writer holds the file lock.
        BookAccessError: if the file is not a readable DuckDB database.
    """
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise access_error(path, exc) from None
    try:
        yield con
    finally:
        con.close()


@contextmanager
def attach_books(paths: Mapping[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with each book attached read-only under its alias.

    Raises:
        BookLockedError / BookAccessError: as :func:`open_book`.
    """
    con = duckdb.connect()
    try:
        for alias, path in paths.items():
            quoted = str(path).replace("'", "''")
            try:
                con.execute(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
            except duckdb.Error as exc:
                raise access_error(path, exc) from None
        yield con
    finally:
        con.close()


def has_table(con: duckdb.DuckDBPyConnection, table: str, catalog: str | None = None) -> bool:
    """Whether ``table`` exists in the main schema of ``catalog`` (default: the connection's own)."""
    where = "table_name = ? AND table_schema = 'main'"
    params: list[str] = [table]
    if catalog is not None:
        where += " AND table_catalog = ?"
        params.append(catalog)
    found = con.execute(f"SELECT count(*) FROM information_schema.tables WHERE {where}", params).fetchone()
    return bool(found and found[0])


def window_sql(start: datetime | None, end: datetime | None, column: str = "cycle_ts") -> tuple[str, list[datetime]]:
    """``AND``-able condition for ``[start, end)`` (either side open when None) and its parameters."""
    parts, params = ["TRUE"], []
    if start is not None:
        parts.append(f"{column} >= ?")
        params.append(naive_utc(start))
    if end is not None:
        parts.append(f"{column} < ?")
        params.append(naive_utc(end))
    return " AND ".join(parts), params
