"""Fingerprint of a book's outputs, and parity of two books.

- :func:`fingerprint_book`: sha256 of every output table's canonical rows
  (:mod:`~btcbot_pipeline.reporting.canonical` gives the rules), one digest per table and
  one over all of them, optionally over a window ``[start, end)`` of cycles (UTC).
- :func:`compare_books`: whether two books agree over a window and, if not, the *first*
  difference: the earliest cycle a book lacks, or else the earliest differing row, its
  table (upstream tables first at the same cycle) and its first differing column with
  both values (for a JSON column, the first differing path inside it).

Both attach the books read-only to one in-memory DuckDB connection and work table by table
in SQL, so a book of thousands of cycles takes seconds, not a Python loop per row.

The overall digest is the sha256 of the lines ``<table>\\t<rows>\\t<table digest>\\n`` for
every table of :data:`~btcbot_pipeline.reporting.canonical.OUTPUT_TABLES` in that order; a
table digest is the sha256 of its rows, each the JSON array of its canonical values
(``null`` for NULL), joined by ``\\n``. An absent table has 0 rows and the digest of ``''``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from btcbot_pipeline.domain import utc
from btcbot_pipeline.reporting.books import attach_books, window_sql
from btcbot_pipeline.reporting.canonical import (
    OUTPUT_TABLES,
    TABLE_KEYS,
    TableView,
    is_json,
    prepare,
    table_view,
)
from btcbot_pipeline.reporting.errors import ReportingError
from btcbot_pipeline.reporting.jsondiff import first_difference


@dataclass(frozen=True, slots=True)
class TableDigest:
    table: str
    present: bool
    rows: int
    digest: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The canonical digest of one book's outputs over a window."""

    path: Path
    start: datetime | None
    end: datetime | None
    cycles: int
    first_cycle: datetime | None
    last_cycle: datetime | None
    digest: str
    tables: tuple[TableDigest, ...]

    def text(self) -> str:
        span = (
            "no cycles" if self.first_cycle is None else f"{_cycle(self.first_cycle)} … {_cycle(self.last_cycle)} UTC"
        )
        lines = [
            f"book     {self.path}",
            f"window   {_window_text(self.start, self.end)}",
            f"cycles   {self.cycles} ({span})",
            f"digest   {self.digest}",
        ]
        width = max(len(t.table) for t in self.tables)
        for t in self.tables:
            rows = f"{t.rows:>7} rows" if t.present else "  (absent)  "
            lines.append(f"  {t.table:<{width}} {rows}  {t.digest}")
        return "\n".join(lines)


def fingerprint_book(path: Path, start: datetime | None = None, end: datetime | None = None) -> Fingerprint:
    """The fingerprint of the book at ``path`` over ``[start, end)`` (None: open side)."""
    _check_window(start, end)
    where, params = window_sql(start, end)
    with attach_books({"book": path}) as con:
        prepare(con)
        tables = tuple(_digest(con, table_view(con, "book", t, where, params)) for t in OUTPUT_TABLES)
        cycles, first, last = _cycle_span(con, "book", where, params)
    lines = "".join(f"{t.table}\t{t.rows}\t{t.digest}\n" for t in tables)
    return Fingerprint(path, start, end, cycles, first, last, hashlib.sha256(lines.encode()).hexdigest(), tables)


def _digest(con: duckdb.DuckDBPyConnection, view: TableView) -> TableDigest:
    row_json = "to_json([" + ", ".join(f'"{c}"' for c in view.columns) + "])"
    found = con.execute(
        f"SELECT count(*), coalesce(string_agg({row_json}, chr(10) ORDER BY _cycle, _seq), '') FROM ({view.sql})",
        list(view.params),
    ).fetchone()
    assert found is not None
    return TableDigest(view.table, view.present, int(found[0]), hashlib.sha256(found[1].encode()).hexdigest())


def _cycles_sql(con: duckdb.DuckDBPyConnection, catalog: str, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """Distinct cycle times with output rows in ``catalog`` (the union over the output tables)."""
    present = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = "
            "'main'",
            [catalog],
        ).fetchall()
    ]
    parts = [f"SELECT cycle_ts FROM {catalog}.main.{t} WHERE {where}" for t in OUTPUT_TABLES if t in present]
    if not parts:
        return "SELECT NULL::TIMESTAMP AS cycle_ts WHERE FALSE", []
    return " UNION ".join(parts), params * len(parts)


def _cycle_span(
    con: duckdb.DuckDBPyConnection, catalog: str, where: str, params: list[Any]
) -> tuple[int, datetime | None, datetime | None]:
    sql, all_params = _cycles_sql(con, catalog, where, params)
    found = con.execute(f"SELECT count(*), min(cycle_ts), max(cycle_ts) FROM ({sql})", all_params).fetchone()
    assert found is not None
    return int(found[0]), found[1], found[2]


@dataclass(frozen=True, slots=True)
class Difference:
    """The first place two books differ.

    Either ``missing_in`` ("A"/"B": that book has no row at all for ``cycle_ts``), or a
    row of ``table``: ``only_in`` when one book lacks the row, else ``column`` with both
    canonical values (``path``: where inside a JSON column). ``column`` is the first
    differing column in schema order, ``*_id`` columns last; ``also`` lists the others.
    """

    cycle_ts: datetime
    missing_in: str | None = None
    table: str | None = None
    row: int | None = None
    key: str | None = None
    only_in: str | None = None
    column: str | None = None
    path: str | None = None
    value_a: str | None = None
    value_b: str | None = None
    also: tuple[str, ...] = ()  # the row's other differing columns


@dataclass(frozen=True, slots=True)
class Parity:
    """Whether two books agree over a window, with the first difference if not."""

    path_a: Path
    path_b: Path
    start: datetime | None
    end: datetime | None
    cycles_a: int
    cycles_b: int
    only_in_a: int  # cycles
    only_in_b: int
    differing_rows: dict[str, int]
    first: Difference | None

    @property
    def agree(self) -> bool:
        return self.first is None

    def text(self) -> str:
        books = [f"  A {self.path_a} ({self.cycles_a} cycles)", f"  B {self.path_b} ({self.cycles_b} cycles)"]
        window = f"  window {_window_text(self.start, self.end)}"
        d = self.first
        if d is None:
            return "\n".join([f"parity OK: the books agree over {self.cycles_a} cycles", *books, window])
        lines = [f"parity FAILED: first difference at cycle {_cycle(d.cycle_ts)} UTC ({utc.cycle_id(d.cycle_ts)})"]
        if d.missing_in is not None:
            lines.append(f"  {d.missing_in} lacks this cycle; {_other(d.missing_in)} has it")
        elif d.only_in is not None:
            lines.append(f"  {d.table} row {d.row} ({d.key}) only in {d.only_in}")
        else:
            where = f" at {d.path}" if d.path else ""
            also = f" (also differ: {', '.join(d.also)})" if d.also else ""
            lines += [
                f"  {d.table} row {d.row} ({d.key}), column {d.column}{where}{also}",
                f"    A {_show(d.value_a)}",
                f"    B {_show(d.value_b)}",
            ]
        if self.only_in_a or self.only_in_b:
            lines.append(f"  cycles only in A: {self.only_in_a}, only in B: {self.only_in_b}")
        if self.differing_rows:
            lines.append("  differing rows: " + ", ".join(f"{t} {n}" for t, n in self.differing_rows.items()))
        return "\n".join([*lines, *books, window])


def compare_books(path_a: Path, path_b: Path, start: datetime | None = None, end: datetime | None = None) -> Parity:
    """Compare the outputs of two books over ``[start, end)``.

    Raises:
        ReportingError: if the window is empty or neither book has a cycle in it.
        BookAccessError: if a book cannot be opened.
    """
    _check_window(start, end)
    where, params = window_sql(start, end)
    with attach_books({"a": path_a, "b": path_b}) as con:
        prepare(con)
        cycles_a = _cycle_span(con, "a", where, params)[0]
        cycles_b = _cycle_span(con, "b", where, params)[0]
        if cycles_a == 0 and cycles_b == 0:
            raise ReportingError(
                f"neither book has a cycle in the window {_window_text(start, end)}: nothing to compare"
            )
        missing, only_a, only_b = _missing_cycle(con, where, params)
        candidates: list[tuple[datetime, int, Difference]] = (
            [] if missing is None else [(missing.cycle_ts, -1, missing)]
        )
        differing: dict[str, int] = {}
        for rank, table in enumerate(OUTPUT_TABLES):
            count, first = _table_difference(con, table, where, params)
            if count:
                differing[table] = count
                assert first is not None
                candidates.append((first.cycle_ts, rank, first))
    first_difference_found = min(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None
    return Parity(path_a, path_b, start, end, cycles_a, cycles_b, only_a, only_b, differing, first_difference_found)


def _missing_cycle(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> tuple[Difference | None, int, int]:
    sql_a, params_a = _cycles_sql(con, "a", where, params)
    sql_b, params_b = _cycles_sql(con, "b", where, params)
    found = con.execute(
        f"WITH ca AS ({sql_a}), cb AS ({sql_b}), "
        "oa AS (SELECT cycle_ts FROM ca EXCEPT SELECT cycle_ts FROM cb), ob AS (SELECT cycle_ts FROM cb EXCEPT "
        "SELECT cycle_ts FROM ca) "
        "SELECT (SELECT count(*) FROM oa), (SELECT min(cycle_ts) FROM oa), (SELECT count(*) FROM ob), (SELECT "
        "min(cycle_ts) FROM ob)",
        params_a + params_b,
    ).fetchone()
    assert found is not None
    only_a, first_a, only_b, first_b = found
    firsts = [(ts, lacking) for ts, lacking in ((first_a, "B"), (first_b, "A")) if ts is not None]
    if not firsts:
        return None, 0, 0
    ts, lacking = min(firsts)
    return Difference(cycle_ts=ts, missing_in=lacking), int(only_a), int(only_b)


def _table_difference(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any]
) -> tuple[int, Difference | None]:
    """How many rows of ``table`` differ, and the first of them."""
    view_a = table_view(con, "a", table, where, params, raw_json=True)
    view_b = table_view(con, "b", table, where, params, raw_json=True)
    columns = view_a.columns
    differs = " OR ".join(_differs(c) for c in columns)
    pairs = ", ".join(f'a."{c}" AS "a.{c}", b."{c}" AS "b.{c}"' for c in columns)
    found = con.execute(
        f"WITH a AS ({view_a.sql}), b AS ({view_b.sql}), d AS ("
        "  SELECT coalesce(a._cycle, b._cycle) AS _cycle, coalesce(a._seq, b._seq) AS _seq, a._seq IS NOT NULL AS "
        "_in_a, "
        f"  b._seq IS NOT NULL AS _in_b, {pairs} FROM a FULL OUTER JOIN b ON a._cycle = b._cycle AND a._seq = b._seq "
        f"  WHERE a._seq IS NULL OR b._seq IS NULL OR {differs}) "
        "SELECT count(*) OVER () AS _count, * FROM d ORDER BY _cycle, _seq LIMIT 1",
        list(view_a.params) + list(view_b.params),
    ).fetchone()
    if found is None:
        return 0, None
    count, cycle_ts, seq, in_a, in_b = found[:5]
    values = dict(zip([f"{side}.{c}" for c in columns for side in ("a", "b")], found[5:]))
    side = "a" if in_a else "b"
    key = ", ".join(f"{k}={values[f'{side}.{k}']}" for k in TABLE_KEYS[table]) or "the cycle's row"
    if not (in_a and in_b):
        return int(count), Difference(
            cycle_ts=cycle_ts, table=table, row=int(seq), key=key, only_in="A" if in_a else "B"
        )
    found_columns = []
    for column in columns:
        path, shown_a, shown_b = first_difference(column, values[f"a.{column}"], values[f"b.{column}"])
        if shown_a != shown_b or path:
            found_columns.append((column, path, shown_a, shown_b))
    assert found_columns, f"{table}: SQL found a differing row at {cycle_ts} but no column differs"
    # Ids hash the row's content, so an id differs whenever anything does: name the content first.
    found_columns.sort(key=lambda f: f[0].endswith("_id"))
    column, path, shown_a, shown_b = found_columns[0]
    return int(count), Difference(
        cycle_ts=cycle_ts,
        table=table,
        row=int(seq),
        key=key,
        column=column,
        path=path,
        value_a=shown_a,
        value_b=shown_b,
        also=tuple(f[0] for f in found_columns[1:]),
    )


def _differs(column: str) -> str:
    a, b = f'a."{column}"', f'b."{column}"'
    if is_json(column):
        # Canonicalise only where the stored texts differ: equal books cost no JSON parsing.
        canonical = f"canon_json({a}) IS DISTINCT FROM canon_json({b})"
        return f"(CASE WHEN {a} IS NOT DISTINCT FROM {b} THEN FALSE ELSE {canonical} END)"
    return f"{a} IS DISTINCT FROM {b}"


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise ReportingError(
            f"empty window: --start {utc.minute_text(start)} is not before --end {utc.minute_text(end)}"
        )


def _window_text(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "all cycles"
    return f"[{'…' if start is None else _cycle(start)}, {'…' if end is None else _cycle(end)}) UTC"


def _cycle(ts: datetime | None) -> str:
    return "" if ts is None else utc.minute_text(ts)


def _other(label: str) -> str:
    return "B" if label == "A" else "A"


def _show(value: str | None) -> str:
    return "NULL" if value is None else value
