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
and :func:`format_markdown` put several reports side by side, and :func:`format_text` adds
the difference of two (``B − A``: money exact then rounded to cents, percentages in points).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence

import duckdb

from btcbot_pipeline.domain import utc
from btcbot_pipeline.reporting.books import has_table
from btcbot_pipeline.reporting.errors import ReportingError

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
# book_info fields shown, in this order (params_json is long: params_hash stands for it).
INFO_FIELDS = (
    "name",
    "kind",
    "source",
    "dataset_path",
    "dataset_fingerprint",
    "params_hash",
    "code_version",
    "created_at",
    "window_start",
    "window_end",
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
        return [(label, text) for label, text, _ in self.lines()]

    def lines(self) -> list[tuple[str, str, Figure | None]]:
        """``(label, value, figure)`` lines: the figure is what a comparison subtracts
        (``None``: a line that is not a quantity, e.g. the book's name)."""
        traced = sum(self.modes.values())
        out: list[tuple[str, str, Figure | None]] = [("book", self.label, None)]
        out += [(f"book_info {k}", self.info[k], None) for k in INFO_FIELDS if self.info.get(k)]
        out += [
            _line("cycles", "{}", (self.cycles, COUNT)),
            ("first cycle", f"{utc.minute_text(self.first_cycle)} UTC", None),
            ("last cycle", f"{utc.minute_text(self.last_cycle)} UTC", None),
            _line("start capital", "{}", (self.start_capital, TRY)),
            _line("final equity", "{}", (self.final_equity, TRY)),
            _line("return", "{}", (self.return_pct, PCT)),
            _line("max drawdown", "{}", (self.max_drawdown_pct, PCT)),
            _line("net PnL", "{}", (self.net_pnl, TRY)),
            _line("realized PnL", "{}", (self.realized_pnl, TRY)),
            _line("unrealized PnL", "{}", (self.unrealized_pnl, TRY)),
            _line("fees", "{}", (self.fees, TRY)),
            _line("slippage", "{}", (self.slippage, TRY)),
            _line("turnover", "{} ({}× start capital)", (self.turnover, TRY), (self.turnover_multiple, TIMES)),
            _line("orders", "{}", (self.orders, COUNT)),
            *(_line(f"  orders {status}", "{}", (n, COUNT)) for status, n in self.order_states.items()),
            *((_line("  orders filled in part", "{}", (self.part_filled, COUNT)),) if self.part_filled else ()),
            _line("fills", "{}", (self.fills, COUNT)),
            _line("intents skipped", "{}", (sum(self.intent_skips.values()), COUNT)),
        ]
        out += [_line(f"  intents skipped: {reason}", "{}", (n, COUNT)) for reason, n in self.intent_skips.items()]
        out.append(_line("plan actions skipped", "{}", (sum(self.plan_skips.values()), COUNT)))
        out += [_line(f"  plan skipped: {reason}", "{}", (n, COUNT)) for reason, n in self.plan_skips.items()]
        out += [
            _line(f"mode {mode}", "{} ({})", (n, COUNT), (Decimal(n) / traced * _HUNDRED, PCT))
            for mode, n in self.modes.items()
        ]
        out += [
            _line("mode changes", "{}", (self.mode_changes, COUNT)),
            _line("gate failures", "{} in {} cycles", (self.gate_failures, COUNT), (self.gated_cycles, COUNT)),
        ]
        return out

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
    gates = (
        con.execute("SELECT count(*), count(DISTINCT cycle_ts) FROM gate_failures").fetchone()
        if has_table(con, "gate_failures")
        else (0, 0)
    )
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
_LAST_ORDERS = (
    "SELECT client_order_id, arg_max(status, cycle_ts) AS status, arg_max(filled_qty, cycle_ts) AS filled_qty, "
    "arg_max(qty, cycle_ts) AS qty FROM orders GROUP BY client_order_id"
)
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
    rows = con.execute(
        "SELECT final_mode, count(*) AS n FROM cycle_trace GROUP BY final_mode ORDER BY n DESC, final_mode"
    ).fetchall()
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
    return {
        n: (utc.iso(v, sep=" ") if isinstance(v, datetime) else str(v)) for n, v in zip(names, row) if v is not None
    }


def format_text(reports: Sequence[BacktestReport]) -> str:
    """The reports as a terminal table, one value column per report; two reports get a
    third column, their difference ``B − A`` (see :func:`difference`)."""
    labels, table = _merged(reports)
    if len(reports) == 2:
        table.append(difference(*reports))
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
    body = [
        "| " + label.strip() + " | " + " | ".join(column.get(label, "-") for column in table) + " |" for label in labels
    ]
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


def difference(a: BacktestReport, b: BacktestReport) -> dict[str, str]:
    """``b − a`` per line, from the exact figures, rounded as the reports show them:
    money to cents, percentages in points (``pp``), counts whole; signed. A line only
    one book has (a skip reason, an order status, a mode) counts as zero in the other;
    a line that is not a quantity (a name, a time) gets no difference."""
    figures_a = {label: figure for label, _, figure in a.lines() if figure is not None}
    figures_b = {label: figure for label, _, figure in b.lines() if figure is not None}
    out = {label: "" for label, _, figure in a.lines() + b.lines() if figure is None}
    out["book"] = f"{b.label} − {a.label}"
    for label in [*figures_b, *(label for label in figures_a if label not in figures_b)]:
        template, like = figures_b.get(label) or figures_a[label]
        after, before = _values(figures_b, label, like), _values(figures_a, label, like)
        out[label] = template.format(*(_signed(y - x, kind) for (y, kind), (x, _) in zip(after, before)))
    return out


def _values(
    figures: dict[str, Figure], label: str, like: tuple[tuple[Decimal | int, str], ...]
) -> tuple[tuple[Decimal | int, str], ...]:
    """The line's values in one book, or zeros shaped like ``like`` when it has no such line."""
    found = figures.get(label)
    return found[1] if found is not None else tuple((type(value)(0), kind) for value, kind in like)


# How a value is shown: TRY to cents, a percentage to cents, a count, a multiple to cents.
TRY, PCT, COUNT, TIMES = "try", "pct", "count", "times"
# A line's quantity: its template ("{} ({}× start capital)") and its values with their kinds.
Figure = tuple[str, tuple[tuple[Decimal | int, str], ...]]


def _line(label: str, template: str, *values: tuple[Decimal | int, str]) -> tuple[str, str, Figure]:
    return label, template.format(*(_shown(value, kind) for value, kind in values)), (template, values)


def _shown(value: Decimal | int, kind: str) -> str:
    if kind == COUNT:
        return str(value)
    text = _cents(Decimal(value))
    return {TRY: f"{text} TRY", PCT: f"{text} %"}.get(kind, text)


def _signed(delta: Decimal | int, kind: str) -> str:
    """A difference with its sign (none for zero as shown); percentages in points."""
    shown = Decimal(delta) if kind == COUNT else Decimal(delta).quantize(_CENT)
    sign = "+" if shown > 0 else "-" if shown < 0 else ""
    text = str(abs(int(delta))) if kind == COUNT else format(abs(shown), "f")
    return sign + {TRY: f"{text} TRY", PCT: f"{text} pp"}.get(kind, text)


def _cents(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


def _try(value: Decimal) -> str:
    return f"{_cents(value)} TRY"


def _pct(value: Decimal) -> str:
    return f"{_cents(value)} %"
