"""Every table of a book as CSV or Parquet files, money exact.

:func:`export_book` writes ``<table>.csv`` or ``<table>.parquet`` into a folder for every
table of the book (``book_info``, ``gate_failures`` and ``risk_clears`` included), with
DuckDB's own ``COPY … TO``:

- **Parquet** keeps ``DECIMAL(38, 18)`` as Arrow ``decimal128(38, 18)``, timestamps as
  timestamps and the JSON columns as strings; nothing passes through a float.
- **CSV** has a header row; a money value is its full fixed-point text with the 18
  fractional digits (``1.500000000000000000``), never a float and never scientific
  notation; timestamps are ``YYYY-MM-DD HH:MM:SS`` (naive UTC) and NULL is an empty field.

Rows are ordered by ``cycle_ts`` and then insertion order (``rowid``, which keeps the
domain's order within a cycle); tables without ``cycle_ts`` by insertion order. The same
book gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.errors import ReportingError

ExportFormat = Literal["csv", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet")
_COPY_OPTIONS = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet"}


@dataclass(frozen=True, slots=True)
class ExportedTable:
    table: str
    rows: int
    path: Path


def export_book(book: Path, out_dir: Path, file_format: str, *, force: bool = False) -> list[ExportedTable]:
    """Write every table of ``book`` to ``out_dir`` (created if missing), in table-name order.

    ``out_dir`` must be a new or empty folder: files already there are overwritten only
    with ``force`` (an export silently replacing another export's files loses data).

    Raises:
        ReportingError: for a format other than ``csv`` / ``parquet``, or an ``out_dir``
            that is a file, holds files (without ``force``) or cannot be written.
        BookAccessError: if the book cannot be opened.
    """
    if file_format not in FORMATS:
        raise ReportingError(f"export format must be one of {', '.join(FORMATS)}, was {file_format!r}")
    _check_out(out_dir, force)
    exported = []
    with open_book(book) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE "
                "TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
                    [table],
                ).fetchall()
            }
            order = "cycle_ts, rowid" if "cycle_ts" in columns else "rowid"
            target = out_dir / f"{table}.{file_format}"
            quoted = str(target).replace("'", "''")
            found = con.execute(
                f"COPY (SELECT * FROM \"{table}\" ORDER BY {order}) TO '{quoted}' ({_COPY_OPTIONS[file_format]})"
            ).fetchone()
            exported.append(ExportedTable(table, int(found[0]) if found else 0, target))
    return exported


def _check_out(out_dir: Path, force: bool) -> None:
    """Refuse an ``--out`` that is a file, a folder with files in it (unless ``force``), or
    a place no folder can be made or written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportingError(f"--out {out_dir} is a file: name a folder (it is created if missing)")
    if out_dir.is_dir() and not force:
        present = sorted(p.name for p in out_dir.iterdir())
        if present:
            shown = ", ".join(present[:3]) + (f" and {len(present) - 3} more" if len(present) > 3 else "")
            raise ReportingError(
                f"--out {out_dir} already holds {len(present)} file(s) ({shown}): pass --force to "
                "overwrite them, or name a new folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".btcbot-export-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportingError(f"--out {out_dir} cannot be written: {exc.strerror or exc}") from None
