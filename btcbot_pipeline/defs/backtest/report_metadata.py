"""The backtest report as Dagster metadata: the same table and chart ``btcbot report`` prints."""

from __future__ import annotations

import base64
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import dagster as dg

from btcbot_pipeline.reporting.report import BacktestReport, build_report

log = logging.getLogger(__name__)


def report_metadata(con: Any, *, label: str, chart: Path) -> Callable[[], dict[str, Any]]:
    """The report of the book open on ``con`` (the run's own connection: it sees the rows it
    is writing), built now; its equity/drawdown chart is drawn on a thread of its own
    meanwhile. The returned function waits for the chart, writes it to ``chart`` and gives
    the metadata: the report table (markdown), the chart inline and its file path, or
    ``chart_error`` if it could not be drawn (the rows are committed by then: a chart is
    not worth failing them).

    The chart is drawn beside the DuckDB work that follows (the seal, the commit, the
    checkpoint), which releases the GIL; it is written beside the book only once the rows
    are committed (a chunk its gates stop never calls the function). See docs/operations.md."""
    report = build_report(con, label=label)
    drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="btcbot-chart")
    png = drawing.submit(_png, report)
    drawing.shutdown(wait=False)  # its one task still runs; the thread ends with it
    return lambda: _metadata(report, png, chart)


def _png(report: BacktestReport) -> bytes:
    from btcbot_pipeline.reporting.chart import chart_png  # matplotlib: only when drawing

    return chart_png([report])


def _metadata(report: BacktestReport, png: Future[bytes], chart: Path) -> dict[str, Any]:
    metadata = {"report": dg.MetadataValue.md(report.markdown())}
    try:
        image = png.result()
    except Exception as exc:  # noqa: BLE001 - the book is committed: a chart it cannot draw is said, not raised
        log.warning("the backtest's chart could not be drawn: %s", exc)
        chart.unlink(missing_ok=True)  # an earlier run's chart is not this one's
        return {**metadata, "chart_error": dg.MetadataValue.text(f"{type(exc).__name__}: {exc}")}
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_bytes(image)
    text = base64.b64encode(image).decode("ascii")
    return {
        **metadata,
        "equity_and_drawdown": dg.MetadataValue.md(f"![equity and drawdown](data:image/png;base64,{text})"),
        "chart_path": dg.MetadataValue.path(str(chart)),
    }
