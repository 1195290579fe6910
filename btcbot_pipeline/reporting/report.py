"""The performance report of a book (a backtest or the dry-run book).

:func:`build_report` reads one book and returns a :class:`BacktestReport`:

- span: cycles, first and last cycle;
- money (exact ``Decimal``; rounded to cents only when shown): start capital, final equity,
  return %, max drawdown %, net / realized / unrealized PnL, fees, slippage, turnover (sum
  of fill notionals, and as a multiple of the start capital);
- activity: orders, fills, skipped intents and plan actions by reason;
- risk: cycles in each final mode (count and share), mode changes, gate failures;
- the ``book_info`` row when the book has one (backtests do).

Money comes from ``ledger_metrics``: the last row holds the cumulative PnL, fees and
slippage; the drawdown is recomputed from the equity series with the ledger's rule (peak
starting at the start capital), so the chart and the figure agree. :meth:`text` is the
terminal table and :meth:`markdown` the table for Dagster metadata; :func:`format_text`
and :func:`format_markdown` put several reports side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence

import duckdb

from btcbot_pipeline.reporting.books import has_table
from btcbot_pipeline.reporting.errors import ReportingError

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
# book_info fields shown, in this order (params_json is long: params_hash stands for it).
INFO_FIELDS = (
    "name", "kind", "source", "dataset_path", "dataset_fingerprint", "params_hash", "code_version", "created_at",
    "window_start", "window_end",
)


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Equity after each cycle, in cycle order; ``start_capital`` anchors the drawdown."""

    times: tuple[datetime, ...]
    equity: tuple[Decimal, ...]
    start_capital: Decimal

    def drawdown_pct(self) -> tuple[Decimal, ...]:
        """``(peak - equity) / peak × 100`` per cycle, the peak starting at the start capital."""
        peak, out = self.start_capital, []
        for equity in self.equity:
            peak = max(peak, equity)
            out.append((peak - equity) / peak * _HUNDRED if peak > 0 else Decimal(0))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class BacktestReport:
    label: str
    cycles: int
    first_cycle: datetime
    last_cycle: datetime
    start_capital: Decimal
    final_equity: Decimal
    return_pct: Decimal
    max_drawdown_pct: Decimal
    net_pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    slippage: Decimal
    turnover: Decimal
    turnover_multiple: Decimal
    orders: int  # distinct orders
    fills: int
    intent_skips: dict[str, int]
    plan_skips: dict[str, int]
    modes: dict[str, int]  # final mode → cycles (from cycle_trace)
    mode_changes: int
    gate_failures: int
    gated_cycles: int
    info: dict[str, str] = field(default_factory=dict)
    curve: EquityCurve | None = None
    order_states: dict[str, int] = field(default_factory=dict)  # each order's last status → orders
    part_filled: int = 0  # orders that ended (or stand) with only part of their quantity filled

    def rows(self) -> list[tuple[str, str]]:
        """``(label, value)`` lines of the report, money rounded to cents."""
        traced = sum(self.modes.values())
        rows = [("book", self.label)]
        rows += [(f"book_info {k}", self.info[k]) for k in INFO_FIELDS if self.info.get(k)]
        rows += [
            ("cycles", str(self.cycles)),
            ("first cycle", f"{self.first_cycle:%Y-%m-%dT%H:%M} UTC"),
            ("last cycle", f"{self.last_cycle:%Y-%m-%dT%H:%M} UTC"),
            ("start capital", _try(self.start_capital)),
            ("final equity", _try(self.final_equity)),
            ("return", _pct(self.return_pct)),
            ("max drawdown", _pct(self.max_drawdown_pct)),
            ("net PnL", _try(self.net_pnl)),
            ("realized PnL", _try(self.realized_pnl)),
            ("unrealized PnL", _try(self.unrealized_pnl)),
            ("fees", _try(self.fees)),
            ("slippage", _try(self.slippage)),
            ("turnover", f"{_try(self.turnover)} ({_cents(self.turnover_multiple)}× start capital)"),
            ("orders", str(self.orders)),
            *((f"  orders {status}", str(n)) for status, n in self.order_states.items()),
            *((("  orders filled in part", str(self.part_filled)),) if self.part_filled else ()),
            ("fills", str(self.fills)),
            ("intents skipped", str(sum(self.intent_skips.values()))),
        ]
        rows += [(f"  intents skipped: {reason}", str(n)) for reason, n in self.intent_skips.items()]
        rows.append(("plan actions skipped", str(sum(self.plan_skips.values()))))
        rows += [(f"  plan skipped: {reason}", str(n)) for reason, n in self.plan_skips.items()]
        rows += [(f"mode {mode}", f"{n} ({_pct(Decimal(n) / traced * _HUNDRED)})") for mode, n in self.modes.items()]
        rows += [("mode changes", str(self.mode_changes)), ("gate failures", f"{self.gate_failures} in {self.gated_cycles} cycles")]
        return rows

    def text(self) -> str:
        return format_text([self])

    def markdown(self) -> str:
        return format_markdown([self])


def build_report(con: duckdb.DuckDBPyConnection, *, label: str | None = None) -> BacktestReport:
    """The report of the book open on ``con`` (read-only is enough).

    ``label`` names the book in tables and charts (default: ``book_info.name``, else "book").

    Raises:
        ReportingError: if the book has no ``ledger_metrics`` rows.
    """
    if not has_table(con, "ledger_metrics"):
        raise ReportingError("the book has no ledger_metrics table: nothing to report")
    ledger = con.execute(
        "SELECT cycle_ts, equity_try, start_capital_try, net_pnl_try, realized_pnl_try, unrealized_pnl_try, fees_try, "
        "slippage_try FROM ledger_metrics ORDER BY cycle_ts"
    ).fetchall()
    if not ledger:
        raise ReportingError("the book has no ledger_metrics rows: nothing to report")
    info = _book_info(con)
    start_capital, last = ledger[0][2], ledger[-1]
    curve = EquityCurve(tuple(r[0] for r in ledger), tuple(r[1] for r in ledger), start_capital)
    turnover = _scalar(con, "fills", "SELECT coalesce(sum(notional_try), 0) FROM fills", Decimal(0))
    modes, finals = _modes(con), _final_modes(con)
    gates = con.execute("SELECT count(*), count(DISTINCT cycle_ts) FROM gate_failures").fetchone() if has_table(con, "gate_failures") else (0, 0)
    assert gates is not None
    return BacktestReport(
        label=label or info.get("name") or "book",
        cycles=len(ledger),
        first_cycle=ledger[0][0],
        last_cycle=last[0],
        start_capital=start_capital,
        final_equity=last[1],
        return_pct=(last[1] - start_capital) / start_capital * _HUNDRED,
        max_drawdown_pct=max(curve.drawdown_pct()),
        net_pnl=last[3],
        realized_pnl=last[4],
        unrealized_pnl=last[5],
        fees=last[6],
        slippage=last[7],
        turnover=turnover,
        turnover_multiple=turnover / start_capital,
        orders=_scalar(con, "orders", "SELECT count(DISTINCT client_order_id) FROM orders", 0),
        order_states=dict(con.execute(_LAST_ORDER_STATES).fetchall()) if has_table(con, "orders") else {},
        part_filled=_scalar(con, "orders", _PART_FILLED, 0),
        fills=_scalar(con, "fills", "SELECT count(*) FROM fills", 0),
        intent_skips=_skips(con, "order_intents"),
        plan_skips=_skips(con, "plan_actions"),
        modes=dict(modes),
        mode_changes=sum(1 for before, after in zip(finals, finals[1:]) if before != after),
        gate_failures=int(gates[0]),
        gated_cycles=int(gates[1]),
        info=info,
        curve=curve,
    )


# Each order's row of its last cycle is its state now (the table has a row per cycle it was touched).
_LAST_ORDERS = "SELECT client_order_id, arg_max(status, cycle_ts) AS status, arg_max(filled_qty, cycle_ts) AS filled_qty, arg_max(qty, cycle_ts) AS qty FROM orders GROUP BY client_order_id"
_LAST_ORDER_STATES = f"SELECT status, count(*) FROM ({_LAST_ORDERS}) GROUP BY status ORDER BY status"
_PART_FILLED = f"SELECT count(*) FROM ({_LAST_ORDERS}) WHERE filled_qty > 0 AND filled_qty < qty"


def _scalar(con: duckdb.DuckDBPyConnection, table: str, sql: str, absent: Any) -> Any:
    if not has_table(con, table):
        return absent
    found = con.execute(sql).fetchone()
    return absent if found is None else found[0]


def _skips(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """Skipped rows of ``table`` by reason, most frequent first (ties by reason)."""
    if not has_table(con, table):
        return {}
    rows = con.execute(
        f"SELECT coalesce(skip_reason, '(none)') AS why, count(*) AS n FROM {table} WHERE status = 'SKIPPED' "
        "GROUP BY why ORDER BY n DESC, why"
    ).fetchall()
    return {reason: int(n) for reason, n in rows}


def _final_modes(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not has_table(con, "cycle_trace"):
        return []
    return [r[0] for r in con.execute("SELECT final_mode FROM cycle_trace ORDER BY cycle_ts").fetchall()]


def _modes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    if not has_table(con, "cycle_trace"):
        return []
    rows = con.execute("SELECT final_mode, count(*) AS n FROM cycle_trace GROUP BY final_mode ORDER BY n DESC, final_mode").fetchall()
    return [(mode, int(n)) for mode, n in rows]


def _book_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The one ``book_info`` row as text (absent table or row: empty)."""
    if not has_table(con, "book_info"):
        return {}
    cursor = con.execute("SELECT * FROM book_info LIMIT 1")
    row = cursor.fetchone()
    if row is None:
        return {}
    names = [d[0] for d in cursor.description]
    return {n: (v.isoformat(sep=" ") if isinstance(v, datetime) else str(v)) for n, v in zip(names, row) if v is not None}


def format_text(reports: Sequence[BacktestReport]) -> str:
    """The reports as a terminal table, one value column per report."""
    labels, table = _merged(reports)
    width = max(len(label) for label in labels)
    widths = [max(len(column.get(label, "")) for label in labels) for column in table]
    lines = []
    for label in labels:
        cells = [column.get(label, "-").ljust(w) for column, w in zip(table, widths)]
        lines.append(f"{label:<{width}}  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


def format_markdown(reports: Sequence[BacktestReport]) -> str:
    """The reports as a markdown table (Dagster renders it in metadata)."""
    labels, table = _merged(reports)
    header = "| | " + " | ".join(r.label for r in reports) + " |"
    rule = "|---|" + "---:|" * len(reports)
    body = ["| " + label.strip() + " | " + " | ".join(column.get(label, "-") for column in table) + " |" for label in labels]
    return "\n".join([header, rule, *body])


def _merged(reports: Sequence[BacktestReport]) -> tuple[list[str], list[dict[str, str]]]:
    # Row labels in first-seen order: a skip reason only one book has still gets its row.
    labels: list[str] = []
    table = []
    for report in reports:
        rows = report.rows()
        labels += [label for label, _ in rows if label not in labels]
        table.append(dict(rows))
    return labels, table


def _cents(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


def _try(value: Decimal) -> str:
    return f"{_cents(value)} TRY"


def _pct(value: Decimal) -> str:
    return f"{_cents(value)} %"
