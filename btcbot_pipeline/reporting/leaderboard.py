"""A sweep's leaderboard: one row per member book, best return first.

:func:`member_row` reads one member's book with the same functions as ``btcbot report``
(:func:`~.report.build_report`) and ``btcbot fingerprint`` (:func:`~.fingerprint.fingerprint_book`).
:func:`ranked` sorts rows by return (descending), then member name. A row's columns
(:data:`METRICS`) follow the member's name and its swept parameters:

- money (``final_equity_try``, ``fees_try``, ``turnover_try``) is exact: the book's
  ``DECIMAL(38, 18)`` values, as fixed-point text with 18 fractional digits in CSV and
  as Arrow ``decimal128(38, 18)`` in Parquet;
- percentages (``return_pct``, ``max_drawdown_pct``, the share of cycles that ended in each
  mode) are quantized to 6 decimal places (half-even): text in CSV, ``decimal128(38, 6)``
  in Parquet;
- ``fingerprint`` is the book's digest's first 12 hex digits.

The same books give the same ``leaderboard.csv`` and ``leaderboard.parquet`` bytes (with
the same pyarrow), and the same PNG (drawn as :mod:`.chart` draws: Agg canvas, no version
entry): return % against max drawdown %, each point labelled with its member.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.reporting.report import build_report

MODES = ("NORMAL", "REDUCE_RISK_ONLY", "OBSERVE_ONLY")
MONEY_PLACES = Decimal("1e-18")
PCT_PLACES = Decimal("1e-6")
SHORT_DIGEST = 12
MONEY = ("final_equity_try", "fees_try", "turnover_try")
PCT = ("return_pct", "max_drawdown_pct", *(f"{m.lower()}_pct" for m in MODES))
# the metric columns, after "member" and the parameter columns
METRICS = (
    "return_pct",
    "max_drawdown_pct",
    "final_equity_try",
    "fees_try",
    "turnover_try",
    "fills",
    *(f"{m.lower()}_pct" for m in MODES),
    "fingerprint",
)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    member: str
    params: dict[str, str]
    return_pct: Decimal
    max_drawdown_pct: Decimal
    final_equity_try: Decimal
    fees_try: Decimal
    turnover_try: Decimal
    fills: int
    mode_pct: dict[str, Decimal]  # NORMAL / REDUCE_RISK_ONLY / OBSERVE_ONLY → share of cycles, %
    cycles: int
    digest: str  # the whole fingerprint digest
    book: Path

    @property
    def fingerprint(self) -> str:
        return self.digest[:SHORT_DIGEST]

    def values(self, params: Sequence[str]) -> dict[str, str | int | Decimal]:
        """Column → value (``member``, the parameters, then :data:`METRICS`)."""
        out: dict[str, str | int | Decimal] = {"member": self.member}
        out |= {k: self.params.get(k, "") for k in params}
        out |= {
            "return_pct": self.return_pct,
            "max_drawdown_pct": self.max_drawdown_pct,
            "final_equity_try": self.final_equity_try,
            "fees_try": self.fees_try,
            "turnover_try": self.turnover_try,
            "fills": self.fills,
        }
        out |= {f"{m.lower()}_pct": self.mode_pct[m] for m in MODES}
        out["fingerprint"] = self.fingerprint
        return out


def member_row(book: Path, member: str, params: Mapping[str, str]) -> LeaderboardRow:
    """The leaderboard row of one member's book.

    Raises:
        ReportingError: the book cannot be read or has no cycles.
    """
    with open_book(book) as con:
        report = build_report(con, label=member)
    traced = sum(report.modes.values())
    shares = {
        m: _pct(Decimal(report.modes.get(m, 0)) / traced * _HUNDRED) if traced else _pct(Decimal(0)) for m in MODES
    }
    return LeaderboardRow(
        member=member,
        params=dict(params),
        return_pct=_pct(report.return_pct),
        max_drawdown_pct=_pct(report.max_drawdown_pct),
        final_equity_try=_money(report.final_equity),
        fees_try=_money(report.fees),
        turnover_try=_money(report.turnover),
        fills=report.fills,
        mode_pct=shares,
        cycles=report.cycles,
        digest=fingerprint_book(book).digest,
        book=book,
    )


def row_path(book: Path) -> Path:
    """Where a member's run leaves its row, beside its book (``<member>.row.json``)."""
    return book.with_suffix(".row.json")


def write_row(row: LeaderboardRow) -> Path:
    """The row as exact JSON beside its book (Decimals as text): the member's run computes it
    once, with the book still warm, and the sweep reads it instead of reading every book again."""
    data = {
        "member": row.member,
        "params": row.params,
        **{k: str(getattr(row, k)) for k in ("return_pct", "max_drawdown_pct", *MONEY)},
        "fills": row.fills,
        "mode_pct": {m: str(v) for m, v in row.mode_pct.items()},
        "cycles": row.cycles,
        "digest": row.digest,
    }
    path = row_path(row.book)
    path.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    return path


def read_row(book: Path) -> LeaderboardRow:
    """The row a member's run wrote beside ``book`` (:func:`write_row`)."""
    data = json.loads(row_path(book).read_text(encoding="utf-8"))
    return LeaderboardRow(
        member=data["member"],
        params=data["params"],
        **{k: Decimal(data[k]) for k in ("return_pct", "max_drawdown_pct", *MONEY)},
        fills=data["fills"],
        mode_pct={m: Decimal(v) for m, v in data["mode_pct"].items()},
        cycles=data["cycles"],
        digest=data["digest"],
        book=book,
    )


def ranked(rows: Sequence[LeaderboardRow]) -> list[LeaderboardRow]:
    """Best return first; equal returns by member name."""
    return sorted(rows, key=lambda r: (-r.return_pct, r.member))


def columns(params: Sequence[str]) -> list[str]:
    return ["member", *params, *METRICS]


def csv_text(rows: Sequence[LeaderboardRow], params: Sequence[str]) -> str:
    """The CSV (header, then one line per row in the given order; ``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns(params))
    for row in rows:
        writer.writerow([text(v) for v in row.values(params).values()])
    return out.getvalue()


def write_csv(rows: Sequence[LeaderboardRow], params: Sequence[str], path: Path) -> Path:
    path.write_text(csv_text(rows, params), encoding="utf-8")
    return path


def write_parquet(rows: Sequence[LeaderboardRow], params: Sequence[str], path: Path) -> Path:
    """The same table as Parquet: money ``decimal128(38, 18)``, percentages ``decimal128(38, 6)``,
    ``fills`` int64, the rest strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def arrow_type(column: str) -> pa.DataType:
        if column in MONEY:
            return pa.decimal128(38, 18)
        if column in PCT:
            return pa.decimal128(38, 6)
        return pa.int64() if column == "fills" else pa.string()

    names = columns(params)
    records = [row.values(params) for row in rows]
    schema = pa.schema([(c, arrow_type(c)) for c in names])
    table = pa.table({c: [r[c] for r in records] for c in names}, schema=schema)
    pq.write_table(table, path, compression="zstd")
    return path


def text_table(rows: Sequence[LeaderboardRow], params: Sequence[str]) -> str:
    """The terminal table: money rounded to cents, percentages to 2 places."""
    shown = [columns(params)] + [[_shown(k, v) for k, v in row.values(params).items()] for row in rows]
    widths = [max(len(line[i]) for line in shown) for i in range(len(shown[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in shown)


def markdown_table(rows: Sequence[LeaderboardRow], params: Sequence[str]) -> str:
    """The same table as markdown (Dagster metadata)."""
    names = columns(params)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(_shown(k, v) for k, v in row.values(params).items()) + " |" for row in rows]
    return "\n".join(lines)


def render_scatter(rows: Sequence[LeaderboardRow], path: Path, *, title: str) -> Path:
    """Return % (y) against max drawdown % (x), one labelled point per member."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 6.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # pixels do not need exact money: the only floats of the leaderboard are here
    xs = [float(r.max_drawdown_pct) for r in rows]
    ys = [float(r.return_pct) for r in rows]
    ax.scatter(xs, ys, s=30)
    # One label per group of points that would print on top of each other: the members'
    # numbers (the title names the sweep), in rank order, beside the group's best member.
    for (x, y), names in _label_groups(rows, xs, ys):
        ax.annotate(", ".join(names), (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    if ys and min(ys) <= 0.0 <= max(ys):  # break-even, when it is within the points' range
        ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    ax.margins(0.12)
    ax.set_xlabel("max drawdown %")
    ax.set_ylabel("return %")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


# Points closer than this share of the plotted range, on both axes, share one label.
_LABEL_NEAR = 0.04


def _label_groups(
    rows: Sequence[LeaderboardRow], xs: Sequence[float], ys: Sequence[float]
) -> list[tuple[tuple[float, float], list[str]]]:
    """``((x, y), numbers)`` per label: each member (in rank order) joins the first group
    whose anchor (its first member's point) is near, else anchors a new group."""
    span_x = (max(xs) - min(xs) if xs else 0.0) or 1.0
    span_y = (max(ys) - min(ys) if ys else 0.0) or 1.0
    groups: list[tuple[tuple[float, float], list[str]]] = []
    for row, x, y in zip(rows, xs, ys):
        number = row.member.rsplit("__", 1)[-1]
        for (gx, gy), names in groups:
            if abs(x - gx) <= _LABEL_NEAR * span_x and abs(y - gy) <= _LABEL_NEAR * span_y:
                names.append(number)
                break
        else:
            groups.append(((x, y), [number]))
    return groups


def _pct(value: Decimal) -> Decimal:
    return value.quantize(PCT_PLACES, rounding=ROUND_HALF_EVEN)


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)


def text(value: str | int | Decimal) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def _shown(column: str, value: str | int | Decimal) -> str:
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,f}" if column in MONEY else f"{value:.2f}"
    return str(value)
