"""The backtest report as Dagster metadata: the same table and chart ``btcbot report`` prints."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dagster as dg

from btcbot_pipeline.reporting.report import build_report


def report_metadata(con: Any, *, label: str, chart: Path) -> dict[str, Any]:
    """Report table (markdown), the equity/drawdown chart inline and its file path, from
    the book open on ``con`` (the run's own connection: it sees the rows it is writing)."""
    from btcbot_pipeline.reporting.chart import render_chart  # matplotlib: only when drawing

    report = build_report(con, label=label)
    render_chart([report], chart)
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    return {
        "report": dg.MetadataValue.md(report.markdown()),
        "equity_and_drawdown": dg.MetadataValue.md(f"![equity and drawdown](data:image/png;base64,{image})"),
        "chart_path": dg.MetadataValue.path(str(chart)),
    }
