"""A backtest's report as its last partition's metadata: read from the book at once, its
chart drawn beside the run and written only once the metadata is made (after the commit)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from btcbot_pipeline.defs.backtest.report_metadata import report_metadata
from btcbot_pipeline.reporting import chart as chart_module
from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.chart import render_chart
from btcbot_pipeline.reporting.errors import ReportingError
from btcbot_pipeline.reporting.report import build_report
from btcbot_pipeline_tests.reporting.books import tiny_book


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_book(tmp_path / "tiny.duckdb")


def test_the_report_is_read_at_once_and_its_chart_written_only_when_the_metadata_is_made(
    tiny: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "charts" / "tiny.png"
    with open_book(tiny) as con:
        expected = build_report(con, label="tiny")
        made = report_metadata(con, label="tiny", chart=chart)
    # the connection is closed: what follows reads nothing more from the book

    assert not chart.exists()
    metadata = made()

    drawn = render_chart([expected], tmp_path / "expected.png").read_bytes()
    assert chart.read_bytes() == drawn
    assert sorted(metadata) == ["chart_path", "equity_and_drawdown", "report"]
    assert metadata["report"].value == expected.markdown()
    assert metadata["equity_and_drawdown"].value == (
        f"![equity and drawdown](data:image/png;base64,{base64.b64encode(drawn).decode('ascii')})"
    )
    assert metadata["chart_path"].value == str(chart)


def test_a_chart_that_cannot_be_drawn_is_said_in_the_metadata_and_no_earlier_chart_is_left(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(reports: object) -> bytes:
        raise ReportingError("report 'tiny' has no equity curve to draw")

    monkeypatch.setattr(chart_module, "chart_png", refuse)
    chart = tmp_path / "tiny.png"
    chart.write_bytes(b"an earlier run's chart")
    with open_book(tiny) as con:
        markdown = build_report(con, label="tiny").markdown()
        made = report_metadata(con, label="tiny", chart=chart)

    metadata = made()

    assert {name: value.value for name, value in metadata.items()} == {
        "report": markdown,
        "chart_error": "ReportingError: report 'tiny' has no equity curve to draw",
    }
    assert not chart.exists()
