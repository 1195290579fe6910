"""Canonical text of a book's outputs: what the fingerprint hashes and parity compares.

Offers :data:`OUTPUT_TABLES` and :data:`TABLE_KEYS` (which tables; rows ordered by
``cycle_ts``, then key, then insertion), :func:`table_view` (the canonical SQL of one
table over a book), :func:`canonical_decimal` / :func:`canonical_json`, and
:func:`prepare` (readies a DuckDB connection: :data:`DECIMAL_MACRO` and the JSON
function). Guarantees: the text does not depend on how money is stored (DECIMAL or text,
trailing zeros), on JSON key order or whitespace, nor on run-only columns
(:data:`~btcbot_pipeline.storage.schema.RUN_ONLY_COLUMNS`); ``book_info`` is never part of
it; each table stays one SQL statement. The rules in full: ``docs/backtests.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa

from btcbot_pipeline.storage.schema import MONEY, RUN_ONLY_COLUMNS, TABLES

# Upstream first: when several tables differ at the same cycle, parity names the earliest stage.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "order_intents": ("symbol", "side", "client_order_id"),
    "orders": ("symbol", "side", "order_id"),
    "order_events": ("client_order_id", "seq", "event_type"),
    "idempotency_keys": ("key", "outcome"),
    "fills": ("symbol", "side", "fill_id"),
    "ledger_metrics": (),
    "positions": ("symbol",),
    "risk_decisions": (),
    "cycle_trace": (),
}
OUTPUT_TABLES: tuple[str, ...] = tuple(TABLE_KEYS)

# Money text → canonical text; the same steps as canonical_decimal() below.
DECIMAL_MACRO = r"""
CREATE OR REPLACE TEMP MACRO canon_decimal(t) AS (
    WITH trimmed AS (
        SELECT regexp_replace(
            CASE WHEN contains(trim(t), '.') THEN rtrim(rtrim(trim(t), '0'), '.') ELSE trim(t) END,
            '^([+-]?)0+([0-9])', '\1\2') AS s
    )
    SELECT CASE WHEN s IN ('-0', '+0', '', '-', '+') THEN '0' ELSE ltrim(s, '+') END FROM trimmed
)
"""
_LEADING_ZEROS = re.compile(r"^([+-]?)0+([0-9])")


def canonical_decimal(text: str) -> str:
    """``'001.2500'`` → ``'1.25'``, ``'-0.0'`` → ``'0'``; the same steps as :data:`DECIMAL_MACRO`."""
    s = text.strip()
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    s = _LEADING_ZEROS.sub(r"\1\2", s, count=1)
    return "0" if s in ("-0", "+0", "", "-", "+") else s.lstrip("+")


class _HasNumber(Exception):
    pass


def _no_numbers(text: str) -> Any:
    raise _HasNumber


@lru_cache(maxsize=4096)  # cycles repeat many JSON texts (active params, empty lists)
def canonical_json(text: str) -> str:
    """JSON text with sorted keys, no whitespace and normalised numbers; non-JSON as is."""
    try:
        value = json.loads(text, parse_float=_no_numbers)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except _HasNumber:
        pass  # a JSON float somewhere: take the slower path that keeps it exact
    except ValueError:
        return text
    return serialise_json(json.loads(text, parse_float=Decimal))


def serialise_json(value: Any) -> str:
    """Canonical JSON text of a parsed value (Decimals as normalised numbers)."""
    if isinstance(value, dict):
        items = (json.dumps(k, ensure_ascii=False) + ":" + serialise_json(value[k]) for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(serialise_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return canonical_decimal(format(value, "f"))
    return json.dumps(value, ensure_ascii=False)


def _canon_json_batch(texts: pa.Array) -> pa.Array:
    return pa.array([None if t is None else canonical_json(t) for t in texts.to_pylist()], type=pa.string())


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Give ``con`` the ``canon_decimal`` macro and the ``canon_json`` function (once)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DECIMAL_MACRO)
    try:
        con.create_function("canon_json", _canon_json_batch, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
    except duckdb.CatalogException:
        pass  # already registered on this connection


def is_json(column: str) -> bool:
    return column.endswith("_json") or column == "payload"


@dataclass(frozen=True, slots=True)
class TableView:
    """One book's rows of an output table as canonical text, numbered within each cycle.

    ``sql`` selects ``_cycle`` (the TIMESTAMP), ``_seq`` (1-based position within the
    cycle) and one VARCHAR per column of :attr:`columns`, each named after its column.
    With ``raw_json`` the JSON columns are left as stored (parity canonicalises them only
    where the stored texts differ); otherwise every value is canonical.
    """

    table: str
    present: bool
    columns: tuple[str, ...]
    sql: str
    params: tuple[Any, ...]


def table_view(
    con: duckdb.DuckDBPyConnection, catalog: str, table: str, where: str, params: list[Any], *, raw_json: bool = False
) -> TableView:
    run_only = RUN_ONLY_COLUMNS.get(table, ())
    declared = tuple(c for c in TABLES[table] if c[0] not in run_only)
    names = tuple(name for name, _ in declared)
    stored = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = 'main' "
            "AND table_name = ?",
            [catalog, table],
        ).fetchall()
    }
    if not stored:  # absent: an empty relation of the same shape
        nulls = ", ".join(f'NULL::VARCHAR AS "{n}"' for n in names)
        return TableView(
            table, False, names, f"SELECT NULL::TIMESTAMP AS _cycle, NULL::BIGINT AS _seq, {nulls} WHERE FALSE", ()
        )
    keys = [f'"{k}"' for k in TABLE_KEYS[table] if k in stored] + ["rowid"]
    values = ", ".join(f'{_value_sql(n, t, n in stored, raw_json)} AS "{n}"' for n, t in declared)
    sql = (
        f"SELECT cycle_ts AS _cycle, row_number() OVER (PARTITION BY cycle_ts ORDER BY {', '.join(keys)}) AS _seq, "
        f"{values} "
        f"FROM {catalog}.main.{table} WHERE {where}"
    )
    return TableView(table, True, names, sql, tuple(params))


def _value_sql(column: str, declared: str, present: bool, raw_json: bool) -> str:
    if not present:
        return "NULL::VARCHAR"
    q = f'"{column}"'
    if declared == MONEY:
        return f"canon_decimal(CAST({q} AS VARCHAR))"
    if declared == "TIMESTAMP":
        return f"CAST(CAST({q} AS TIMESTAMP) AS VARCHAR)"
    if declared == "BOOLEAN":
        return f"CAST(CAST({q} AS BOOLEAN) AS VARCHAR)"
    if declared in ("INTEGER", "BIGINT"):
        return f"CAST(CAST({q} AS BIGINT) AS VARCHAR)"
    if is_json(column) and not raw_json:
        return f"canon_json(CAST({q} AS VARCHAR))"
    return f"CAST({q} AS VARCHAR)"
