"""The DuckDB book: every stage's rows, queryable with SQL, through one open connection.

The tables and their columns are :mod:`~btcbot_pipeline.storage.schema`'s (the seeds'
names without the ``stage7_`` prefix; ``cycle_ts``, naive UTC, the partition's window
start, on every cycle table). :class:`Book` claims a book for one kind of run
(:class:`BookIdentity`), migrates an older schema, replaces a window's rows in one
transaction (re-materializing never duplicates rows; a failed write leaves the previous
ones), records gate stops, risk clears and alerts, and reads back only the ledger and risk
state a run carries on from. Money is ``DECIMAL(38, 18)``, inserted from Arrow
``decimal128`` built from the Decimals themselves, never a float; the trace's JSON keeps
the exact, unrounded values. Errors: :class:`BookError`, :class:`BookKindError`.
"""

from __future__ import annotations

from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping, Sequence

import duckdb
import pyarrow as pa

from btcbot_pipeline.domain import utc
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.storage import seal
from btcbot_pipeline.storage.schema import (
    ADAPTATION_TABLES,
    AUX_TABLES,
    COLUMN_NAMES,
    MIGRATIONS,
    RUN_ONLY_COLUMNS,
    SCHEMA_VERSION,
    STAGE_TABLES,
    TABLES,
    naive_utc,
)

# Arrow types of the non-money columns (aware UTC datetimes become naive UTC timestamps).
_MONEY_ARROW = pa.decimal128(38, 18)
_MONEY_STEP = Decimal("1E-18")
_MONEY_CONTEXT = Context(prec=38, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])
# DuckDB checkpoints (compresses the committed rows into the file) at a commit whose
# write-ahead log would pass this size. At its 16 MiB default each chunk of a backtest
# (~60 MB of rows for 10 pairs and 10 days) checkpoints, and each checkpoint compresses the
# tables' last row groups again, earlier chunks' rows included. At 128 MB the chunks go to
# the log until it passes that, and are compressed once, at that commit or on closing the
# book (a crash leaves them in the log, which DuckDB replays on the next open). A 20-day
# run of 10 pairs: commits and close 0.84 -> 0.63 s CPU, a 42 MB book instead of 62 MB.
_CHECKPOINT_THRESHOLD = "128MB"
_ARROW = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "INTEGER": pa.int64(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
}


class BookError(BtcbotError):
    """The book cannot be read or written (locked, missing table, bad window)."""


class BookKindError(BookError):
    """This run may not write this book: it is a book of another kind, source, dataset or
    parameters (a book never carries state from a run of another kind)."""


@dataclass(frozen=True, slots=True)
class BookIdentity:
    """What a book is, recorded in its ``book_info`` row when a run first claims it.

    ``kind``: ``dry_run`` or ``backtest``. ``strict``: the dataset fingerprint and the
    parameter hash must match too (a backtest is one fixed experiment; the dry-run book
    lives on across parameter changes, each cycle's trace recording its parameters).
    """

    kind: str
    name: str
    source: str
    dataset_path: str | None
    dataset_fingerprint: str | None
    params_hash: str
    params_json: str
    code_version: str
    created_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    strict: bool = False

    def row(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.name,
            self.source,
            self.dataset_path,
            self.dataset_fingerprint,
            self.params_hash,
            self.params_json,
            self.code_version,
            naive_utc(self.created_at),
            None if self.window_start is None else naive_utc(self.window_start),
            None if self.window_end is None else naive_utc(self.window_end),
            SCHEMA_VERSION,
        )


# Every table holding rows of a window's cycles: a window is replaced or emptied as a whole.
WINDOW_TABLES: tuple[str, ...] = (*(t for _, tables in STAGE_TABLES for t in tables), *ADAPTATION_TABLES)


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime


def _money_array(values: list[Any]) -> pa.Array:
    """Money as Arrow ``decimal128(38, 18)``, exactly. Most columns (prices, quantities)
    fit as they are; a column with more places (a ratio, a PnL) is rounded half-even to
    18 places first, value by value, in Decimal.

    Arrow converts the Decimal objects itself (a float is refused, never taken as its
    text): on a 20-day backtest's 1.6 M money values that costs about half the CPU of
    going through their text (``str``, then Arrow's string-to-decimal cast)."""
    try:
        return pa.array(values, _MONEY_ARROW)
    except pa.ArrowInvalid:  # a value with more than 18 places
        return pa.array([None if v is None else _MONEY_CONTEXT.quantize(v, _MONEY_STEP) for v in values], _MONEY_ARROW)


def _columns_of(table: str, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    names = list(COLUMN_NAMES[table])
    return {c: list(v) for c, v in zip(names, zip(*rows))} if rows else {c: [] for c in names}


def _arrow_table(table: str, rows: Any) -> pa.Table:
    """``table``'s rows (columns by name, or row tuples in schema order) as one Arrow table,
    every column typed: money as ``decimal128(38, 18)`` built from the Decimal itself (never
    a float), rounded half-even to the column's 18 places first (Arrow refuses to drop
    digits itself). The trace keeps the exact, unrounded values."""
    cols = rows if isinstance(rows, dict) else _columns_of(table, rows)
    schema = COLUMN_NAMES[table]
    arrays = []
    for name, sql_type in schema.items():
        arrow_type = _ARROW.get(sql_type)
        values = cols[name]
        arrays.append(_money_array(values) if arrow_type is None else pa.array(values, arrow_type))
    return pa.Table.from_arrays(arrays, names=list(schema))


def arrow_tables(rows_by_table: Mapping[str, Any]) -> dict[str, pa.Table]:
    """Each table's rows as the Arrow table :meth:`Book.insert_rows` writes: the Python half of
    an insert (building Arrow from Decimals holds the GIL), done where the rows are made so
    that the thread writing the book runs DuckDB only, which releases it."""
    return {table: _arrow_table(table, rows) for table, rows in rows_by_table.items()}


class Book:
    """Typed access to the book through one open DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._schema_ensured = False
        self._column_order: dict[str, bool] = {}

    def ensure_schema(self) -> None:
        """Every table (and the seal's columns) exists, at this schema version: a book of an
        older version is migrated first (:meth:`migrate`). Once per connection: each chunk,
        claim and gate stop asks, and the ~25 statements cost ~15 ms (always called outside
        a transaction, so nothing it creates can be rolled back)."""
        if self._schema_ensured:
            return
        self.con.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_THRESHOLD}'")
        self.migrate()
        for table, columns in {**TABLES, **AUX_TABLES}.items():
            cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        seal.ensure(self.con)
        self._schema_ensured = True

    def schema_version(self) -> int | None:
        """The version the book's ``book_info`` records (``None``: no run has claimed it)."""
        if not self.has_table("book_info"):
            return None
        row = self.con.execute("SELECT schema_version FROM book_info LIMIT 1").fetchone()
        return None if row is None else row[0]

    def migrate(self) -> int | None:
        """Bring a book of an older schema version to :data:`SCHEMA_VERSION`, in one
        transaction (all steps and the re-seal of its cycles, or none); returns the version
        it had. Its seals are checked first: edited rows are never re-sealed as good.

        Raises:
            BookError: the book is of a newer version than this code knows, or of a
                version no migration starts from."""
        version = self.schema_version()
        if version is None or version == SCHEMA_VERSION:
            return version
        if version > SCHEMA_VERSION:
            raise BookError(
                f"this book is of schema version {version}, newer than this code's version {SCHEMA_VERSION}: "
                "open it with the version of btcbot_pipeline that wrote it (or a newer one)"
            )
        steps = [v for v in range(version, SCHEMA_VERSION)]
        unknown = [v for v in steps if v not in MIGRATIONS]
        if unknown:
            raise BookError(
                f"this book is of schema version {version}, which this code cannot migrate to version "
                f"{SCHEMA_VERSION} (no migration from version {unknown[0]}): start a new book"
            )
        edited = seal.unsealed_cycles(self.con)
        if edited:
            raise BookError(
                f"this book of schema version {version} is not migrated to version {SCHEMA_VERSION}: the rows of "
                f"{len(edited)} cycle(s) differ from what their run committed (first {utc.minute_text(edited[0])}); "
                "a migration re-seals the book, so it never starts from edited rows. btcbot verify lists them"
            )
        self.con.execute("BEGIN TRANSACTION")
        try:
            for v in steps:
                for statement in MIGRATIONS[v]:
                    self.con.execute(statement)
            self.con.execute("UPDATE book_info SET schema_version = ?", [SCHEMA_VERSION])
            first = (
                self.con.execute(f"SELECT min(cycle_ts) FROM {seal.SEAL_TABLE}").fetchone()
                if self.has_table(seal.SEAL_TABLE)
                else None
            )
            if first and first[0] is not None:
                seal.seal_from(self.con, first[0])  # the same rows, hashed as this schema stores them
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return version

    def info(self) -> dict[str, Any] | None:
        """The ``book_info`` row as a dict, or ``None`` for a book no run has claimed."""
        if not self.has_table("book_info"):
            return None
        cur = self.con.execute("SELECT * FROM book_info LIMIT 1")
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def claim(self, identity: BookIdentity) -> None:
        """Record what this book is on first use; refuse a run of another kind after that.

        Raises:
            BookKindError: the book is of another kind or source (or, for a strict
                identity, another dataset or parameter set), or predates ``book_info``.
        """
        self.ensure_schema()
        info = self.info()
        if info is None:
            if self.has_table("ledger_metrics") and self.query("SELECT count(*) FROM ledger_metrics")[0][0]:
                raise BookKindError(
                    "this book holds cycles but no book_info row: it was written by an older version whose "
                    f"tables differ. Move it away (or point {_book_setting(identity)} elsewhere) to start a new book."
                )
            names = ", ".join(f'"{name}"' for name, _ in AUX_TABLES["book_info"])
            self.con.execute(
                f"INSERT INTO book_info ({names}) VALUES ({', '.join('?' * len(AUX_TABLES['book_info']))})",
                list(identity.row()),
            )
            return
        mine = {"kind": identity.kind, "source": identity.source}
        if identity.strict:
            mine |= {"dataset_fingerprint": identity.dataset_fingerprint, "params_hash": identity.params_hash}
        differs = [k for k, v in mine.items() if info.get(k) != v]
        if info.get("schema_version") != SCHEMA_VERSION:
            differs.append("schema_version")
        if differs:
            was = ", ".join(f"{k}={info.get(k)}" for k in differs)
            now = ", ".join(f"{k}={mine.get(k, SCHEMA_VERSION)}" for k in differs)
            raise BookKindError(
                f"book '{info.get('name')}' is a {info.get('kind')} book of source {info.get('source')} "
                f"({was}); this run is a {identity.kind} run of source {identity.source} ({now}). "
                f"A book never carries state from a run of another kind: {_fix(identity)}"
            )

    def replace_window(
        self, window: Window, rows_by_table: Mapping[str, Sequence[Sequence[Any]]], *, passed: bool = False
    ) -> dict[str, int]:
        """Replace the window's rows of every table in ``rows_by_table``, atomically.

        ``passed``: the window passed its gates; its old ``gate_failures`` rows go in the
        same transaction.
        """
        self.ensure_schema()
        start, end = naive_utc(window.start), naive_utc(window.end)
        self.begin()
        try:
            if passed:
                self.con.execute("DELETE FROM gate_failures WHERE cycle_ts >= ? AND cycle_ts < ?", [start, end])
            for table in rows_by_table:
                self.con.execute(f"DELETE FROM {table} WHERE cycle_ts >= ? AND cycle_ts < ?", [start, end])
            counts = self.insert_rows(rows_by_table)
            self.commit()
        except Exception:
            self.rollback()
            raise
        return counts

    # A chunk of a run is written in batches inside one transaction (see engine.run_window).

    def begin(self) -> None:
        self.ensure_schema()
        self.con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def checkpoint(self) -> None:
        """Write the committed rows into the book's file now (DuckDB's ``CHECKPOINT``), not
        when the log reaches its threshold or the book closes (a run does so after its last
        chunk, on its writer's thread, while that chunk is reported)."""
        self.con.execute("CHECKPOINT")

    @contextmanager
    def memory_capped(self, limit: str) -> Iterator[None]:
        """DuckDB's buffer memory at most ``limit`` (``"96MB"``) inside, DuckDB's default after
        (nothing else in the project sets it): beyond the cap DuckDB evicts blocks, spilling
        rows not yet checkpointed to its temporary folder beside the book (``x.duckdb.tmp``
        for ``x.duckdb``, removed when the book closes). A connection that a failure inside
        left unusable is not reset: the failure is what the caller sees.

        Raises:
            BookError: DuckDB ran out of memory inside: the cap is named, and the error is
                one a retry would meet again (DuckDB's own advice, settings the run sets,
                does not apply)."""
        self.con.execute(f"SET memory_limit = '{limit}'")
        try:
            yield
        except duckdb.OutOfMemoryException as exc:
            first = str(exc).splitlines()[0]
            raise BookError(
                f"DuckDB ran out of memory writing the book, under the run's cap of {limit}: {first}"
            ) from None
        finally:
            with suppress(duckdb.Error):
                self.con.execute("RESET memory_limit")

    @contextmanager
    def single_threaded(self) -> Iterator[None]:
        """DuckDB runs this book's statements on the calling thread alone inside (``SET
        threads = 1``), with the thread count it had before after. A run writes the book on
        a thread of its own beside the one computing its cycles: DuckDB's extra threads
        (parallel inserts, digests, compression) would take turns on the cores that the
        computing thread, the run's critical path, and the gate worker need."""
        before = self.con.execute("SELECT current_setting('threads')").fetchone()[0]
        self.con.execute("SET threads = 1")
        try:
            yield
        finally:
            with suppress(duckdb.Error):
                self.con.execute(f"SET threads = {int(before)}")

    def rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # nothing open: the failure happened before or after the transaction

    def clear_window(self, window: Window) -> None:
        """Delete the window's rows of every stage table and its recorded gate failures
        (inside the caller's transaction: they come back on a rollback)."""
        start, end = naive_utc(window.start), naive_utc(window.end)
        for table in (*WINDOW_TABLES, "gate_failures"):
            self.con.execute(f"DELETE FROM {table} WHERE cycle_ts >= ? AND cycle_ts < ?", [start, end])

    def insert_rows(self, rows_by_table: Mapping[str, Any]) -> dict[str, int]:
        """Append rows (inside the caller's transaction): each table's columns by name as
        :mod:`~btcbot_pipeline.storage.rows` builds them, row tuples in schema order, or the
        Arrow table :func:`arrow_tables` made of them."""
        counts: dict[str, int] = {}
        for table, rows in rows_by_table.items():
            incoming = rows if isinstance(rows, pa.Table) else _arrow_table(table, rows)
            if incoming.num_rows:
                self._insert(table, incoming)
            counts[table] = incoming.num_rows
        return counts

    def _insert(self, table: str, incoming: pa.Table) -> None:
        """Bulk insert of one Arrow table in one statement.

        The Arrow table goes in as a relation (``insert_into``): a registered view made
        DuckDB hold on to the Arrow buffers until the transaction ended, next to its own
        copy of the rows (~114 MB over 20 days of 10 pairs in one chunk). That insert is by
        position, so it is used where the book's columns are in this schema's order (always,
        for books this code made or migrated); otherwise ``INSERT … BY NAME``."""
        if self._in_schema_order(table):
            self.con.from_arrow(incoming).insert_into(table)
            return
        self.con.register("_incoming", incoming)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def _in_schema_order(self, table: str) -> bool:
        """Whether the book's ``table`` has exactly this schema's columns, in its order (asked once per table)."""
        known = self._column_order.get(table)
        if known is None:
            stored = [
                r[0]
                for r in self.con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            known = self._column_order[table] = stored == list(COLUMN_NAMES[table])
        return known

    def record_gate_failure(self, window: Window, rows: Sequence[Sequence[Any]]) -> None:
        """A gate stopped the window: in one transaction, empty the window's rows of every
        stage (nothing derived from rejected data stays to be trusted, and the ledger carry
        skips the window) and record ``rows`` (``gate_failures`` tuples) in place of the
        window's earlier failures."""
        self.ensure_schema()
        start, end = naive_utc(window.start), naive_utc(window.end)
        self.con.execute("BEGIN TRANSACTION")
        try:
            # The adaptation's rows too: they were derived from the same cycles, and a re-run
            # that stops at a gate must not leave an earlier run's versions behind to be sealed.
            for table in (*WINDOW_TABLES, "gate_failures"):
                self.con.execute(f"DELETE FROM {table} WHERE cycle_ts >= ? AND cycle_ts < ?", [start, end])
            for row in rows:
                self.con.execute("INSERT INTO gate_failures VALUES (?, ?, ?, ?, ?, ?)", [naive_utc(row[0]), *row[1:]])
            seal.seal_from(self.con, window.start)  # the emptied cycles' seals go too; the head follows
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def record_durations(self, window: Window, column: str, ms_per_cycle: float) -> None:
        """Set a stage's milliseconds per cycle on the window's ``run_metrics`` rows (inside
        the caller's transaction: the write and the gates are timed after the rows exist)."""
        if column not in RUN_ONLY_COLUMNS["run_metrics"]:
            raise ValueError(f"not a duration column of run_metrics: {column}")
        self.con.execute(
            f"UPDATE run_metrics SET {column} = ? WHERE cycle_ts >= ? AND cycle_ts < ?",
            [ms_per_cycle, naive_utc(window.start), naive_utc(window.end)],
        )

    def cycles_from(self, start: datetime) -> tuple[int, datetime, datetime] | None:
        """``(count, first, last)`` cycle times of the ledger at or after ``start``, or ``None``."""
        if not self.has_table("ledger_metrics"):
            return None
        n, first, last = self.con.execute(
            "SELECT count(*), min(cycle_ts), max(cycle_ts) FROM ledger_metrics WHERE cycle_ts >= ?", [naive_utc(start)]
        ).fetchone()
        if not n:
            return None
        return n, first.replace(tzinfo=timezone.utc), last.replace(tzinfo=timezone.utc)

    def ledger_count(self, window: Window) -> int:
        """How many cycles the ledger holds in ``window`` (its rows as this connection sees them)."""
        start, end = naive_utc(window.start), naive_utc(window.end)
        return self.con.execute(
            "SELECT count(*) FROM ledger_metrics WHERE cycle_ts >= ? AND cycle_ts < ?", [start, end]
        ).fetchall()[0][0]

    def chain(self, window: Window) -> list[tuple[Any, ...]]:
        """The chain links of the window's cycles and of the first cycle after it:
        ``(cycle_ts, cycle_id, carried_from, opening_digest, previous_cycle_id,
        previous_closing_digest)``, the previous cycle being the book's ledger row just
        before (by cycle time), whatever wrote it."""
        start, end = naive_utc(window.start), naive_utc(window.end)
        return self.con.execute(
            "SELECT cycle_ts, cycle_id, carried_from, opening_digest, previous_cycle_id, previous_closing_digest FROM ("
            "  SELECT cycle_ts, cycle_id, carried_from, opening_digest,"
            "    lag(cycle_id) OVER (ORDER BY cycle_ts) AS previous_cycle_id,"
            "    lag(closing_digest) OVER (ORDER BY cycle_ts) AS previous_closing_digest"
            "  FROM ledger_metrics WHERE cycle_ts <= coalesce("
            "    (SELECT min(cycle_ts) FROM ledger_metrics WHERE cycle_ts >= ?), ?))"
            " WHERE cycle_ts >= ? ORDER BY cycle_ts",
            [end, end, start],
        ).fetchall()

    def pending_clears(self, window: Window) -> list[tuple[str, str]]:
        """``(clear_id, reason)`` of operator clears no decision outside ``window`` applied yet, oldest first.

        Decisions inside the window are about to be replaced, so a re-run of the window
        applies its clear again."""
        if not self.has_table("risk_clears"):
            return []
        rows = self.con.execute(
            "SELECT clear_id, reason FROM risk_clears WHERE clear_id NOT IN ("
            "  SELECT unnest(string_split(cleared_by, ',')) FROM risk_decisions"
            "  WHERE cleared_by IS NOT NULL AND (cycle_ts < ? OR cycle_ts >= ?)) ORDER BY cleared_at, clear_id",
            [naive_utc(window.start), naive_utc(window.end)],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def add_clear(self, clear_id: str, cleared_at: datetime, reason: str, operator: str) -> None:
        self.ensure_schema()
        self.con.execute(
            "INSERT INTO risk_clears VALUES (?, ?, ?, ?)", [clear_id, naive_utc(cleared_at), reason, operator]
        )

    def record_alerts(
        self, rows: Sequence[Sequence[Any]], *, window: Window | None = None, rules: Sequence[str] = ()
    ) -> list[str]:
        """Add ``rows`` (``alerts`` tuples) whose id is not in the book yet, in one transaction;
        with ``window``, first drop the window's alerts of ``rules`` that were never
        delivered (a re-run re-decides them; delivered ones stay). Returns the ids added."""
        self.ensure_schema()
        self.con.execute("BEGIN TRANSACTION")
        try:
            if window is not None and rules:
                self.con.execute(
                    f"DELETE FROM alerts WHERE cycle_ts >= ? AND cycle_ts < ? AND status <> 'delivered'"
                    f" AND rule IN ({', '.join('?' * len(rules))})",
                    [naive_utc(window.start), naive_utc(window.end), *rules],
                )
            ids = [r[0] for r in rows]
            present = (
                {
                    r[0]
                    for r in self.con.execute(
                        "SELECT alert_id FROM alerts WHERE list_contains(?, alert_id)", [ids]
                    ).fetchall()
                }
                if ids
                else set()
            )
            new = [r for r in rows if r[0] not in present]
            if new:
                self.con.executemany(
                    "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[r[0], None if r[1] is None else naive_utc(r[1]), *r[2:]] for r in new],
                )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return [r[0] for r in new]

    def alerts(self, *, statuses: Sequence[str] = (), since: datetime | None = None) -> list[dict[str, Any]]:
        """Alerts as dicts, oldest first (by cycle time, then id); optionally only those of
        ``statuses`` or of cycles at or after ``since``."""
        if not self.has_table("alerts"):
            return []
        where, params = ["TRUE"], []
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += list(statuses)
        if since is not None:
            where.append("cycle_ts >= ?")
            params.append(naive_utc(since))
        cur = self.con.execute(
            f"SELECT * FROM alerts WHERE {' AND '.join(where)} ORDER BY cycle_ts NULLS FIRST, alert_id", params
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def mark_alert(self, alert_id: str, status: str, attempts: int, error: str | None) -> None:
        """Record a delivery outcome: the new status, ``attempts`` more POSTs, the last error."""
        self.con.execute(
            "UPDATE alerts SET status = ?, attempts = attempts + ?, last_error = ? WHERE alert_id = ?",
            [status, attempts, error, alert_id],
        )

    def has_table(self, table: str) -> bool:
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()
        return bool(found and found[0])

    def last_ledger_state(self, before: datetime) -> tuple[datetime, str, str | None] | None:
        """The newest cycle strictly before ``before``: ``(cycle_ts, ledger state_json,
        risk state_json)``, the risk state being that same cycle's (``None`` if it has none)."""
        if not self.has_table("ledger_metrics"):
            return None
        row = self.con.execute(
            "SELECT l.cycle_ts, l.state_json, r.state_json FROM ledger_metrics l"
            " LEFT JOIN risk_decisions r ON r.cycle_ts = l.cycle_ts"
            " WHERE l.cycle_ts < ? ORDER BY l.cycle_ts DESC LIMIT 1",
            [naive_utc(before)],
        ).fetchone()
        if row is None:
            return None
        return row[0].replace(tzinfo=timezone.utc), row[1], row[2]

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()


def _book_setting(identity: BookIdentity) -> str:
    return {"dry_run": "STATE_DB_PATH", "live": "LIVE_STATE_DB_PATH"}.get(identity.kind, "the backtest's --name")


def _fix(identity: BookIdentity) -> str:
    if identity.kind == "backtest":
        return (
            f"run this backtest under another --name, or pass --replace to start '{identity.name}' over "
            "(its book is deleted first)"
        )
    if identity.kind == "live":
        return "point LIVE_STATE_DB_PATH at the live book (never the dry-run or a backtest book), or move this one away"
    return (
        "point STATE_DB_PATH at a new file for this kind of run (e.g. data/btcbot_book_"
        f"{identity.source}.duckdb), or move the old book away"
    )
