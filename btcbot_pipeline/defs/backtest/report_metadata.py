"""The backtest report as Dagster metadata: the same table and chart ``btcbot report`` prints."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Callable

import dagster as dg

from btcbot_pipeline.reporting.report import build_report


def report_metadata(con: Any, *, label: str, chart: Path, render: Callable[..., Path] | None = None) -> dict[str, Any]:
    """Report table (markdown), the equity/drawdown chart inline and its file path, from
    the book open on ``con`` (the run's own connection: the book is still locked by it)."""
    report = build_report(con, label=label)
    if render is None:
        from btcbot_pipeline.reporting.chart import (
            render_chart as render,  # matplotlib: only when drawing here
        )
    render([report], chart)
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    return {
        "report": dg.MetadataValue.md(report.markdown()),
        "equity_and_drawdown": dg.MetadataValue.md(f"![equity and drawdown](data:image/png;base64,{image})"),
        "chart_path": dg.MetadataValue.path(str(chart)),
    }
