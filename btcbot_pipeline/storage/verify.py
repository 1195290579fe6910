"""Verify a whole book: ``btcbot verify``, doctor, and the check a run makes before it
carries on from a book.

:func:`verify_book` returns a :class:`Report` of :class:`Finding` s, each naming the
cycle, the table and the column, over five checks: **seal** (stored rows against their
seals, the rolling book digest, ``book_info``'s head), **chain** (``carried_from``,
``opening_digest``, ``closing_digest``), **money** (the ledger identities and typed
columns against the trace), **fills** (against the ledger's increments and
``run_metrics``) and **gaps** (skipped cycle times recorded in ``gap_cycles``). It only
reads. Identities and links are SQL aggregates over the whole book; the checks that read
every row cover only the last ``rows_last`` cycles (all when ``None``). What each check
finds: ``docs/cycle.md``.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import duckdb

from btcbot_pipeline.domain import utc
from btcbot_pipeline.storage import seal
from btcbot_pipeline.storage.rows import chain_digest
from btcbot_pipeline.storage.schema import SCHEMA_VERSION

ERROR, WARN = "ERROR", "WARN"
# typed ledger columns whose exact values the trace's ledger_metrics_json carries too
_LEDGER_JSON = (
    "cash_try",
    "equity_try",
    "fees_try",
    "gross_pnl_try",
    "max_drawdown",
    "net_pnl_try",
    "positions_value_try",
    "realized_pnl_try",
    "slippage_try",
    "start_capital_try",
    "turnover_try",
    "unrealized_pnl_try",
)


@dataclass(frozen=True, slots=True)
class Finding:
    level: str
    cycle: datetime | None
    table: str
    column: str | None
    message: str

    def line(self) -> str:
        when = "-" if self.cycle is None else f"{utc.minute_text(self.cycle)}"
        return f"{self.level:<5}  {when:<16}  {self.table}.{self.column or '*'}  {self.message}"


@dataclass(slots=True)
class Report:
    cycles: int = 0
    rows_checked: int = 0  # cycles whose rows and closing digest were recomputed
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: the book checks out; 1: warnings only; 2: a finding that breaks the book."""
        if any(f.level == ERROR for f in self.findings):
            return 2
        return 1 if self.findings else 0

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    def add(self, level: str, cycle: datetime | None, table: str, column: str | None, message: str) -> None:
        self.findings.append(Finding(level, cycle, table, column, message))


def _d(value: Any) -> str:
    """A stored decimal as people write it (``0E-18`` → ``0``)."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def verify_book(con: duckdb.DuckDBPyConnection, *, rows_last: int | None = None) -> Report:
    """Every check over the book open on ``con``; rows and closing digests recomputed for
    the last ``rows_last`` cycles (``None``: all)."""
    report = Report()
    if not _has(con, "ledger_metrics"):
        return report
    ledger = con.execute(
        "SELECT cycle_ts, cycle_id, carried_from, opening_digest, closing_digest, gap_cycles FROM ledger_metrics "
        "ORDER BY cycle_ts"
    ).fetchall()
    report.cycles = len(ledger)
    if not ledger:
        return report
    first_checked = ledger[max(0, len(ledger) - rows_last)][0] if rows_last is not None else ledger[0][0]
    _chain(report, ledger)
    _closing(con, report, first_checked)
    _money(con, report, first_checked)
    _fills(con, report)
    _gaps(con, report, ledger)
    _seal(con, report, ledger, first_checked)
    report.findings.sort(key=lambda f: (f.cycle or datetime.min, f.table, f.column or "", f.message))
    return report


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()[0]
    )


def _chain(report: Report, ledger: list[tuple[Any, ...]]) -> None:
    previous: tuple[Any, ...] | None = None
    for ts, cycle_id, carried_from, opening, _closing, _gap in ledger:
        if previous is None:
            if carried_from is not None:
                report.add(
                    ERROR,
                    ts,
                    "ledger_metrics",
                    "carried_from",
                    f"the book's first cycle carries from {carried_from}, which is not in the book",
                )
        elif carried_from is None:
            report.add(
                ERROR,
                ts,
                "ledger_metrics",
                "carried_from",
                f"opens the book again after {previous[1]}: only the first cycle may open it",
            )
        elif carried_from != previous[1]:
            report.add(
                ERROR,
                ts,
                "ledger_metrics",
                "carried_from",
                f"carries from {carried_from}, but the cycle before it in the book is {previous[1]}",
            )
        elif opening != previous[4]:
            report.add(
                ERROR,
                ts,
                "ledger_metrics",
                "opening_digest",
                f"opened from {str(opening)[:12]}…, but {previous[1]} closed with {str(previous[4])[:12]}…",
            )
        previous = (ts, cycle_id, carried_from, opening, _closing)


def _closing(con: duckdb.DuckDBPyConnection, report: Report, since: datetime) -> None:
    rows = con.execute(
        "SELECT l.cycle_ts, l.closing_digest, l.state_json, r.state_json FROM ledger_metrics l "
        "LEFT JOIN risk_decisions r ON r.cycle_ts = l.cycle_ts WHERE l.cycle_ts >= ? ORDER BY l.cycle_ts",
        [since],
    ).fetchall()
    for ts, closing, state, risk in rows:
        if state is not None and chain_digest(state, risk) != closing:
            report.add(
                ERROR,
                ts,
                "ledger_metrics",
                "closing_digest",
                "is not the digest of the state the cycle stores (state_json and its risk state)",
            )


def _money(con: duckdb.DuckDBPyConnection, report: Report, since: datetime) -> None:
    # The ledger's identities, exact in DECIMAL(38, 18); then each typed column against the
    # exact value the cycle's trace keeps (cycle_trace.ledger_metrics_json).
    checks = (
        ("gross_pnl_try", "gross_pnl_try <> realized_pnl_try + unrealized_pnl_try", "gross ≠ realized + unrealized"),
        ("net_pnl_try", "net_pnl_try <> gross_pnl_try - fees_try - slippage_try", "net ≠ gross − fees − slippage"),
        ("equity_try", "equity_try <> start_capital_try + net_pnl_try", "equity ≠ start capital + net PnL"),
        (
            "cash_try",
            "equity_try = start_capital_try + net_pnl_try AND equity_try <> cash_try + positions_value_try",
            "equity ≠ cash + positions value",
        ),
    )
    for column, condition, what in checks:
        for (ts,) in con.execute(f"SELECT cycle_ts FROM ledger_metrics WHERE {condition} ORDER BY cycle_ts").fetchall():
            report.add(ERROR, ts, "ledger_metrics", column, what)
    for ts, stored, held in con.execute(
        "SELECT l.cycle_ts, l.positions_value_try, coalesce(p.v, 0) FROM ledger_metrics l LEFT JOIN "
        "(SELECT cycle_ts, sum(market_value_try) AS v FROM positions GROUP BY cycle_ts) p ON p.cycle_ts = l.cycle_ts "
        "WHERE l.positions_value_try <> coalesce(p.v, 0) ORDER BY l.cycle_ts"
    ).fetchall():
        report.add(
            ERROR, ts, "positions", "market_value_try", f"positions add up to {_d(held)}, the ledger holds {_d(stored)}"
        )
    cols = ", ".join(f"l.{c}" for c in _LEDGER_JSON)
    for row in con.execute(
        f"SELECT l.cycle_ts, t.ledger_metrics_json, {cols} FROM ledger_metrics l "
        "LEFT JOIN cycle_trace t ON t.cycle_ts = l.cycle_ts WHERE l.cycle_ts >= ? ORDER BY l.cycle_ts",
        [since],
    ).fetchall():
        try:
            exact = json.loads(row[1] or "{}")
        except ValueError:
            report.add(ERROR, row[0], "cycle_trace", "ledger_metrics_json", "is not JSON")
            continue
        for name, typed in zip(_LEDGER_JSON, row[2:]):
            if name in exact and typed is not None and Decimal(exact[name]) != typed:
                report.add(
                    ERROR, row[0], "ledger_metrics", name, f"holds {_d(typed)}, the cycle recorded {exact[name]}"
                )


def _fills(con: duckdb.DuckDBPyConnection, report: Report) -> None:
    deltas = con.execute(
        "SELECT l.cycle_ts, l.fees_try - coalesce(lag(l.fees_try) OVER w, 0), "
        "l.slippage_try - coalesce(lag(l.slippage_try) OVER w, 0), l.turnover_try - coalesce(lag(l.turnover_try) "
        "OVER w, 0), "
        "coalesce(f.fee, 0), coalesce(f.slip, 0), coalesce(f.notional, 0), coalesce(f.n, 0), m.n_fills "
        "FROM ledger_metrics l "
        "LEFT JOIN (SELECT cycle_ts, sum(fee_try) AS fee, sum(slippage_try) AS slip, sum(notional_try) AS notional, "
        "count(*) AS n FROM fills GROUP BY cycle_ts) f ON f.cycle_ts = l.cycle_ts "
        "LEFT JOIN run_metrics m ON m.cycle_ts = l.cycle_ts WINDOW w AS (ORDER BY l.cycle_ts) ORDER BY l.cycle_ts"
    ).fetchall()
    for ts, fee_d, slip_d, turn_d, fee, slip, notional, n, n_fills in deltas:
        for column, ledger, fills in (
            ("fee_try", fee_d, fee),
            ("slippage_try", slip_d, slip),
            ("notional_try", turn_d, notional),
        ):
            if ledger != fills:
                report.add(
                    ERROR,
                    ts,
                    "fills",
                    column,
                    f"the cycle's fills add up to {_d(fills)}, its ledger grew by {_d(ledger)}",
                )
        if n_fills is not None and n_fills != n:
            report.add(ERROR, ts, "fills", None, f"{n} fills stored, the cycle recorded {n_fills}")
    for ts, fill_id in con.execute(
        "SELECT f.cycle_ts, f.fill_id FROM fills f WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE "
        "o.client_order_id = f.client_order_id AND o.cycle_ts <= f.cycle_ts) ORDER BY f.cycle_ts, f.fill_id"
    ).fetchall():
        report.add(ERROR, ts, "fills", "client_order_id", f"fill {fill_id} belongs to no recorded order")


def _gaps(con: duckdb.DuckDBPyConnection, report: Report, ledger: list[tuple[Any, ...]]) -> None:
    from btcbot_pipeline.defs.cycle.partitions import cycle_ticks

    row = con.execute("SELECT params_json FROM book_info LIMIT 1").fetchone() if _has(con, "book_info") else None
    try:
        cron = json.loads(row[0]).get("cycle_cron") if row and row[0] else None
    except ValueError:
        cron = None
    if not cron:
        return
    utc = timezone.utc
    # every cycle time of the span once; the ticks between two cycles by bisection
    ticks = cycle_ticks(
        cron, ledger[0][0].replace(tzinfo=utc), ledger[-1][0].replace(tzinfo=utc) + timedelta(seconds=1)
    )
    stamps = [t.replace(tzinfo=None) for t in ticks]
    for (before, *_), (ts, _cid, _cf, _op, _cl, gap) in zip(ledger, ledger[1:]):
        missed = max(0, bisect.bisect_left(stamps, ts) - bisect.bisect_right(stamps, before))
        if missed and (gap or 0) != missed:
            report.add(
                WARN if gap else ERROR,
                ts,
                "ledger_metrics",
                "gap_cycles",
                f"{missed} cycle time{'s' if missed != 1 else ''} skipped since the cycle before, recorded {gap or 0}",
            )


def _seal(con: duckdb.DuckDBPyConnection, report: Report, ledger: list[tuple[Any, ...]], since: datetime) -> None:
    if not _has(con, seal.SEAL_TABLE):
        report.add(WARN, None, seal.SEAL_TABLE, None, "the book has no seals (written before sealing existed)")
        return
    seals = {
        ts: (cid, rows, tables, book)
        for ts, cid, rows, tables, book in con.execute(
            f"SELECT cycle_ts, cycle_id, rows_digest, tables_json, book_digest FROM {seal.SEAL_TABLE} ORDER BY cycle_ts"
        ).fetchall()
    }
    cycles = {ts: cid for ts, cid, *_ in ledger}
    for ts in sorted(set(seals) - set(cycles)):
        report.add(ERROR, ts, "ledger_metrics", None, f"cycle {seals[ts][0]} was sealed but its ledger row is gone")
    sealed_any = False
    previous: str | None = None
    for ts, cycle_id in cycles.items():
        if ts not in seals:
            level = ERROR if sealed_any else WARN
            report.add(
                level,
                ts,
                seal.SEAL_TABLE,
                None,
                "not sealed" + ("" if sealed_any else " (written before sealing existed)"),
            )
            previous = None
            continue
        sealed_any = True
        _cid, rows, _tables, stored = seals[ts]
        expected = seal.book_digest(previous, cycle_id, rows)
        if previous is not None and expected != stored:
            report.add(
                ERROR, ts, seal.SEAL_TABLE, "book_digest", "the rolling digest does not follow from the cycle before it"
            )
        previous = stored
    _head(con, report, seals)
    recomputed = seal.table_digests(con, since, stored=_not_migrated(con))
    for ts in sorted(t for t in cycles if t >= since and t in seals):
        report.rows_checked += 1
        stored_tables: dict[str, str] = json.loads(seals[ts][2])
        now = recomputed.get(ts, {})
        for table in seal.SEALED_TABLES:
            if stored_tables.get(table) != now.get(table):
                report.add(ERROR, ts, table, None, "rows differ from what the run committed (edited, added or deleted)")


def _not_migrated(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the book is of an older schema version than this code's (verify only reads, so
    it is not migrated): its seals hash the columns its tables had, and still have."""
    if not _has(con, "book_info"):
        return False
    row = con.execute("SELECT schema_version FROM book_info LIMIT 1").fetchone()
    return row is not None and row[0] is not None and row[0] < SCHEMA_VERSION


def _head(con: duckdb.DuckDBPyConnection, report: Report, seals: dict[Any, tuple[Any, ...]]) -> None:
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'book_info'"
        ).fetchall()
    }
    if not {"book_digest", "sealed_through", "sealed_cycles"} <= have:
        return  # a book from before the seal: its cycles are reported unsealed
    head = con.execute("SELECT book_digest, sealed_through, sealed_cycles FROM book_info LIMIT 1").fetchone()
    if head is None or head[0] is None:
        return
    last = max(seals) if seals else None
    if last is None or head[0] != seals[last][3] or head[1] != last or head[2] != len(seals):
        report.add(
            ERROR,
            last,
            "book_info",
            "book_digest",
            f"the book's seal (through {utc.minute_text(head[1])}, {head[2]} cycles) is not its last cycle's",
        )
