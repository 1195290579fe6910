"""The report's chart: equity over cycle time on top, drawdown % below.

Several reports share the axes (``btcbot report A --compare B``). The PNG is
deterministic: the same curves give the same bytes, because the figure is drawn by the Agg
canvas directly (no pyplot state, no interactive backend) and the file carries no
``Software`` (matplotlib version) entry; Agg's PNGs have no timestamp. Decimals become
floats here and only here: pixels do not need exact money.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.errors import ReportingError
from btcbot_pipeline.reporting.report import BacktestReport, build_report

_SIZE_INCHES = (10.0, 6.0)
_DPI = 100


def render_chart(reports: Sequence[BacktestReport], path: Path) -> Path:
    """Draw the equity curve and drawdown of each report (its :attr:`~BacktestReport.curve`) to a PNG at ``path``.

    Raises:
        ReportingError: if a report has no equity curve.
    """
    png = chart_png(reports)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def chart_png(reports: Sequence[BacktestReport]) -> bytes:
    """The PNG :func:`render_chart` writes, as bytes.

    Raises:
        ReportingError: if a report has no equity curve.
    """
    fig = Figure(figsize=_SIZE_INCHES, dpi=_DPI)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for report in reports:
        curve = report.curve
        if curve is None:
            raise ReportingError(f"report {report.label!r} has no equity curve to draw")
        times = list(curve.times)
        (line,) = top.plot(times, [float(e) for e in curve.equity], linewidth=1.2, label=report.label)
        drawdown = [-float(d) for d in curve.drawdown_pct()]
        bottom.plot(times, drawdown, linewidth=1.0, color=line.get_color())
        if len(reports) == 1:
            bottom.fill_between(times, drawdown, 0.0, color=line.get_color(), alpha=0.25, linewidth=0)
    start_capitals = {r.curve.start_capital for r in reports if r.curve is not None}
    for capital in sorted(start_capitals):
        top.axhline(float(capital), color="grey", linewidth=0.8, linestyle="--")
    top.set_ylabel("equity (TRY)")
    top.set_title(" vs ".join(r.label for r in reports))
    top.legend(loc="best")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("drawdown %")
    bottom.set_xlabel("cycle time (UTC)")
    bottom.grid(True, alpha=0.3)
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    return png.getvalue()


def report_books(books: Sequence[Path], out_dir: Path | None = None) -> tuple[list[BacktestReport], Path]:
    """Build the report of each book (labelled by file stem) and draw them on one chart.

    The chart goes to ``<out_dir or the first book's folder>/<stem>.png``, or
    ``<stem>_vs_<other stem>.png`` when several books are compared, so a comparison
    never overwrites a book's own chart.
    """
    reports = []
    for book in books:
        with open_book(book) as con:
            reports.append(build_report(con, label=book.stem))
    name = "_vs_".join(b.stem for b in books) + ".png"
    return reports, render_chart(reports, (out_dir or books[0].parent) / name)
