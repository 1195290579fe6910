"""The book's seal: a digest of every row a run committed for each cycle, and a rolling
digest of the whole book.

When a chunk of cycles is about to commit, :func:`seal_from` hashes, per cycle and per
table, every stored column as DuckDB holds it (typed money columns included, so an edit
of ``cash_try`` shows, not only an edit of the state JSON), and records per cycle

- ``rows_digest``: sha256 of the cycle's table digests (``table=<sha256>`` lines);
- ``book_digest``: sha256 of the previous cycle's ``book_digest``, this cycle's id and
  its ``rows_digest``: the book up to this cycle in one value.

``book_info`` keeps the last ``book_digest``, the cycle it seals through and how many
cycles are sealed. :mod:`btcbot_pipeline.storage.verify` recomputes all of it.

The digest runs in SQL (one grouped query per table over the chunk's window): each row
becomes the text of its columns in table order, ``NULL`` marked, joined by a unit
separator, and its md5; a table's digest for a cycle is the sha256 of its rows' md5s in
sorted order, so it depends on what is stored, not on insertion order. The columns that
say how a run ran (``run_metrics``' run id and milliseconds, :data:`RUN_ONLY_COLUMNS`)
are left out, as fingerprints leave them out: the seal is taken while the gates
validate, before the gates' own time is known.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from btcbot_pipeline.storage.schema import ADAPTATION_TABLES, RUN_ONLY_COLUMNS, TABLES, naive_utc

# Tables a committed cycle writes. gate_failures are a stopped cycle's, not a committed one's.
SEALED_TABLES: tuple[str, ...] = tuple(t for t in TABLES if t != "gate_failures")
SEAL_TABLE = "cycle_seals"
SEAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cycle_ts", "TIMESTAMP"),
    ("cycle_id", "VARCHAR"),
    ("rows_digest", "VARCHAR"),
    ("tables_json", "VARCHAR"),
    ("book_digest", "VARCHAR"),
)
# The head of the seal, in the book's one book_info row (added to books made before it).
INFO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("book_digest", "VARCHAR"),
    ("sealed_through", "TIMESTAMP"),
    ("sealed_cycles", "BIGINT"),
)
_NULL = "<null>"
_SEP = "chr(31)"


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """The seal's table, and its columns in ``book_info`` (a book made before them gets them)."""
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in SEAL_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {SEAL_TABLE} ({cols})")
    for name, sql_type in INFO_COLUMNS:
        con.execute(f'ALTER TABLE book_info ADD COLUMN IF NOT EXISTS "{name}" {sql_type}')


def _row_text(table: str, stored: list[str] | None = None) -> str:
    """A row as text: its columns in table order (``stored``: the columns the book's table
    has, for a book of an older schema; default: this schema's)."""
    skip = RUN_ONLY_COLUMNS.get(table, ())
    names = stored if stored is not None else [name for name, _ in TABLES[table]]
    parts = [f"coalesce(CAST(\"{name}\" AS VARCHAR), '{_NULL}')" for name in names if name not in skip]
    return f"concat_ws({_SEP}, {', '.join(parts)})"


def _stored_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table]
        ).fetchall()
    ]


def unsealed_cycles(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    """Cycles whose stored rows (read with the columns the book's tables have now) no
    longer give the digest they were sealed with: checked before a migration rewrites
    the tables, so that a migration never re-seals edited rows as good."""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [SEAL_TABLE]).fetchone()[
        0
    ]:
        return []
    digests = table_digests(con, stored=True)
    return [
        ts
        for ts, rows in con.execute(f"SELECT cycle_ts, rows_digest FROM {SEAL_TABLE} ORDER BY cycle_ts").fetchall()
        if rows_digest(digests.get(ts, {})) != rows
    ]


def table_digests(
    con: duckdb.DuckDBPyConnection, start: datetime | None = None, end: datetime | None = None, *, stored: bool = False
) -> dict[datetime, dict[str, str]]:
    """``{cycle_ts: {table: sha256}}`` of the stored rows of cycles in ``[start, end)``
    (``None``: unbounded), for every sealed table that has rows for the cycle. ``stored``:
    hash the columns the book's tables have (a book not migrated yet), not this schema's."""
    where, params = _window(start, end)
    out: dict[datetime, dict[str, str]] = {}
    present = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for table in SEALED_TABLES:
        if table not in present:  # a table added later (the adaptation's), in a book not opened since
            continue
        text = _row_text(table, _stored_columns(con, table) if stored else None)
        rows = con.execute(
            f"SELECT cycle_ts, sha256(string_agg(h, chr(10) ORDER BY h)) FROM "
            f"(SELECT cycle_ts, md5({text}) AS h FROM {table} {where}) GROUP BY cycle_ts",
            params,
        ).fetchall()
        for ts, digest in rows:
            out.setdefault(ts, {})[table] = digest
    return out


def rows_digest(tables: dict[str, str]) -> str:
    """One cycle's digest over its tables' digests (a table without rows: ``-``; the
    adaptation's tables only when they have rows, so a book that never adapted keeps the
    seals it was written with)."""
    text = "\n".join(f"{t}={tables.get(t, '-')}" for t in SEALED_TABLES if t in tables or t not in ADAPTATION_TABLES)
    return hashlib.sha256(text.encode()).hexdigest()


def book_digest(previous: str | None, cycle_id: str, rows: str) -> str:
    """The book through one cycle: the digest through the cycle before, this cycle's id and rows."""
    return hashlib.sha256(f"{previous or ''}\n{cycle_id}\n{rows}".encode()).hexdigest()


@dataclass
class Digested:
    """:func:`table_digests` of a chunk's cycles in ``[start, through)``, taken batch by batch
    as they are written (a run digests each batch beside the next one's computing): sealing
    the chunk then digests only what lies past ``through``. One thread at a time uses it."""

    through: datetime
    digests: dict[datetime, dict[str, str]] = field(default_factory=dict)

    def add(self, con: duckdb.DuckDBPyConnection, end: datetime) -> None:
        """Digest the stored rows of the cycles in ``[through, end)``, just written."""
        self.digests.update(table_digests(con, self.through, end))
        self.through = end


def seal_from(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    *,
    digested: Digested | None = None,
) -> int:
    """Seal every cycle of the ledger from ``start`` on (inside the caller's transaction,
    after its rows are written, before it commits); returns how many were sealed.

    Seals at or after ``start`` are replaced; the rolling digest continues from the last
    seal before ``start``. ``digested``: the chunk's rows from ``start`` already digested as
    they stand (:class:`Digested`); only cycles from its ``through`` on are digested here."""
    ensure(con)
    begin = naive_utc(start)
    con.execute(f"DELETE FROM {SEAL_TABLE} WHERE cycle_ts >= ?", [begin])
    row = con.execute(
        f"SELECT book_digest FROM {SEAL_TABLE} WHERE cycle_ts < ? ORDER BY cycle_ts DESC LIMIT 1", [begin]
    ).fetchone()
    previous = row[0] if row else None
    if digested is None:
        digests = table_digests(con, begin)
    else:
        digests = {**digested.digests, **table_digests(con, digested.through)}
    seals: list[tuple[Any, ...]] = []
    for ts, cycle_id in con.execute(
        "SELECT cycle_ts, cycle_id FROM ledger_metrics WHERE cycle_ts >= ? ORDER BY cycle_ts", [begin]
    ).fetchall():
        tables = digests.get(ts, {})
        rows = rows_digest(tables)
        previous = book_digest(previous, cycle_id, rows)
        seals.append((ts, cycle_id, rows, json.dumps(tables, sort_keys=True), previous))
    if seals:
        # one statement through Arrow: a backtest chunk seals thousands of cycles
        columns = list(zip(*seals))
        arrow = pa.table(
            {
                name: pa.array(values, type=pa.timestamp("us") if name == "cycle_ts" else pa.string())
                for (name, _), values in zip(SEAL_COLUMNS, columns)
            }
        )
        con.register("_btcbot_seals", arrow)
        try:
            con.execute(f"INSERT INTO {SEAL_TABLE} SELECT * FROM _btcbot_seals")
        finally:
            con.unregister("_btcbot_seals")
    last = con.execute(f"SELECT book_digest, cycle_ts FROM {SEAL_TABLE} ORDER BY cycle_ts DESC LIMIT 1").fetchone()
    count = con.execute(f"SELECT count(*) FROM {SEAL_TABLE}").fetchone()[0]
    con.execute(
        "UPDATE book_info SET book_digest = ?, sealed_through = ?, sealed_cycles = ?",
        [last[0] if last else None, last[1] if last else None, count],
    )
    return len(seals)


def _window(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if start is not None:
        clauses.append("cycle_ts >= ?")
        params.append(naive_utc(start))
    if end is not None:
        clauses.append("cycle_ts < ?")
        params.append(naive_utc(end))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
