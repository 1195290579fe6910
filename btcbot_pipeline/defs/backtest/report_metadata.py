"""The backtest report as Dagster metadata: the same table and chart ``btcbot report`` prints."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import dagster as dg

from btcbot_pipeline.reporting.chart import report_books


def report_metadata(database: str) -> dict[str, Any]:
    """Report table (markdown), the equity/drawdown chart inline and its file path."""
    reports, chart = report_books([Path(database)])
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    return {
        "report": dg.MetadataValue.md(reports[0].markdown()),
        "equity_and_drawdown": dg.MetadataValue.md(f"![equity and drawdown](data:image/png;base64,{image})"),
        "chart_path": dg.MetadataValue.path(str(chart)),
    }
