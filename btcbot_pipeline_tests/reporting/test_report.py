"""The report of a hand-checkable book, its chart, and the report command."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.reporting.books import open_book
from btcbot_pipeline.reporting.chart import render_chart
from btcbot_pipeline.reporting.report import BacktestReport, build_report, format_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _report(book: Path) -> BacktestReport:
    with open_book(book) as con:
        return build_report(con)


def test_report_figures_of_the_tiny_book(tiny: Path) -> None:
    report = _report(tiny)

    # equity 1000 → 1100 → 990 → 1050 from a start capital of 1000
    assert (report.cycles, report.start_capital, report.final_equity) == (4, Decimal("1000"), Decimal("1050"))
    assert report.return_pct == Decimal("5")  # (1050 − 1000) / 1000
    assert report.max_drawdown_pct == Decimal("10")  # (1100 − 990) / 1100 … is 10 %
    assert (report.net_pnl, report.realized_pnl, report.unrealized_pnl) == (Decimal("50"), Decimal("30"), Decimal("40"))
    assert (report.fees, report.slippage) == (Decimal("12.5"), Decimal("7.5"))
    assert report.turnover == Decimal("1000")  # fills 400 + 250.5 + 349.5
    assert report.turnover_multiple == Decimal("1")
    assert (report.orders, report.fills) == (4, 3)
    assert report.intent_skips == {"min_notional": 2, "insufficient_cash": 1}
    assert report.plan_skips == {"observe_only": 2}
    assert report.modes == {"NORMAL": 3, "REDUCE_RISK_ONLY": 1}
    assert report.mode_changes == 2  # NORMAL → REDUCE_RISK_ONLY → NORMAL
    assert (report.gate_failures, report.gated_cycles) == (2, 1)
    assert report.label == "tiny"  # book_info.name


def test_report_text_of_the_tiny_book(tiny: Path) -> None:
    assert _report(tiny).text().splitlines()[11:] == [
        "cycles                                4",
        "first cycle                           2026-01-01T00:00 UTC",
        "last cycle                            2026-01-01T00:15 UTC",
        "start capital                         1000.00 TRY",
        "final equity                          1050.00 TRY",
        "return                                5.00 %",
        "max drawdown                          10.00 %",
        "net PnL                               50.00 TRY",
        "realized PnL                          30.00 TRY",
        "unrealized PnL                        40.00 TRY",
        "fees                                  12.50 TRY",
        "slippage                              7.50 TRY",
        "turnover                              1000.00 TRY (1.00× start capital)",
        "orders                                4",
        "  orders EXPIRED                      1",
        "  orders FILLED                       3",
        "  orders filled in part               1",
        "fills                                 3",
        "intents skipped                       3",
        "  intents skipped: min_notional       2",
        "  intents skipped: insufficient_cash  1",
        "plan actions skipped                  2",
        "  plan skipped: observe_only          2",
        "mode NORMAL                           3 (75.00 %)",
        "mode REDUCE_RISK_ONLY                 1 (25.00 %)",
        "mode changes                          2",
        "gate failures                         2 in 1 cycles",
    ]


def test_report_shows_book_info(tiny: Path) -> None:
    assert _report(tiny).text().splitlines()[:11] == [
        "book                                  tiny",
        "book_info name                        tiny",
        "book_info kind                        backtest",
        "book_info source                      replay",
        "book_info dataset_path                data/replay",
        "book_info dataset_fingerprint         abc123",
        "book_info params_hash                 p1",
        "book_info code_version                0.1.0+test",
        "book_info created_at                  2026-02-01 12:00:00",
        "book_info window_start                2026-01-01 00:00:00",
        "book_info window_end                  2026-01-01 00:20:00",
    ]


def test_report_markdown_is_a_table(tiny: Path) -> None:
    lines = _report(tiny).markdown().splitlines()

    assert lines[:3] == ["| | tiny |", "|---|---:|", "| book | tiny |"]
    assert "| return | 5.00 % |" in lines
    assert "| intents skipped: min_notional | 2 |" in lines


def test_chart_is_a_png_and_byte_identical_across_renders(tiny: Path, tmp_path: Path) -> None:
    report = _report(tiny)

    first = render_chart([report], tmp_path / "one.png").read_bytes()
    second = render_chart([report], tmp_path / "two.png").read_bytes()

    assert first.startswith(PNG_SIGNATURE)
    assert first == second


def test_report_command_writes_the_chart_beside_the_book(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tiny)]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0] == "book                                  tiny"
    assert lines[-1] == f"chart {tiny.parent / 'tiny.png'}"
    assert (tiny.parent / "tiny.png").read_bytes().startswith(PNG_SIGNATURE)


def test_report_compare_puts_two_books_side_by_side(
    backtest_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "base", "--compare", "slip40", "--out", str(tmp_path / "charts")]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == ["book", "base", "slip40", "slip40", "−", "base"]
    assert lines[1].split() == ["cycles", "12", "12", "0"]
    base, slip40 = _report(backtest_dir / "base.duckdb"), _report(backtest_dir / "slip40.duckdb")
    slippage = next(line.split() for line in lines if line.startswith("slippage "))
    assert slippage[5:] == [f"{(slip40.slippage - base.slippage).quantize(Decimal('0.01')):+f}", "TRY"]
    assert lines[-1] == f"chart {tmp_path / 'charts' / 'base_vs_slip40.png'}"
    assert (tmp_path / "charts" / "base_vs_slip40.png").read_bytes().startswith(PNG_SIGNATURE)


def test_two_reports_get_a_difference_column_b_minus_a(tiny: Path) -> None:
    a = replace(_report(tiny), info={})
    b = replace(
        a,
        label="wider",
        final_equity=Decimal("1012.345"),
        return_pct=Decimal("1.2345"),
        max_drawdown_pct=Decimal("12.5"),
        net_pnl=Decimal("12.345"),
        fees=Decimal("20.004"),
        turnover=Decimal("1500.5"),
        turnover_multiple=Decimal("1.5005"),
        intent_skips={"max_orders": 4, "min_notional": 1},
        modes={"NORMAL": 2, "OBSERVE_ONLY": 2},
        gate_failures=0,
        gated_cycles=0,
    )

    # money: the exact difference rounded half-even to cents (1012.345 − 1050 = −37.655 → −37.66);
    # percentages in points (1.2345 − 5 = −3.7655 → −3.77 pp); a line one book lacks is 0 there
    assert format_text([a, b]).splitlines() == [
        "book                                  tiny                               wider                              "
        "wider − tiny",
        "cycles                                4                                  4                                  0",
        "first cycle                           2026-01-01T00:00 UTC               2026-01-01T00:00 UTC",
        "last cycle                            2026-01-01T00:15 UTC               2026-01-01T00:15 UTC",
        "start capital                         1000.00 TRY                        1000.00 TRY                        "
        "0.00 TRY",
        "final equity                          1050.00 TRY                        1012.34 TRY                        "
        "-37.66 TRY",
        "return                                5.00 %                             1.23 %                             "
        "-3.77 pp",
        "max drawdown                          10.00 %                            12.50 %                            "
        "+2.50 pp",
        "net PnL                               50.00 TRY                          12.34 TRY                          "
        "-37.66 TRY",
        "realized PnL                          30.00 TRY                          30.00 TRY                          "
        "0.00 TRY",
        "unrealized PnL                        40.00 TRY                          40.00 TRY                          "
        "0.00 TRY",
        "fees                                  12.50 TRY                          20.00 TRY                          "
        "+7.50 TRY",
        "slippage                              7.50 TRY                           7.50 TRY                           "
        "0.00 TRY",
        "turnover                              1000.00 TRY (1.00× start capital)  1500.50 TRY (1.50× start capital)  "
        "+500.50 TRY (+0.50× start capital)",
        "orders                                4                                  4                                  0",
        "  orders EXPIRED                      1                                  1                                  0",
        "  orders FILLED                       3                                  3                                  0",
        "  orders filled in part               1                                  1                                  0",
        "fills                                 3                                  3                                  0",
        "intents skipped                       3                                  5                                  "
        "+2",
        "  intents skipped: min_notional       2                                  1                                  "
        "-1",
        "  intents skipped: insufficient_cash  1                                  -                                  "
        "-1",
        "plan actions skipped                  2                                  2                                  0",
        "  plan skipped: observe_only          2                                  2                                  0",
        "mode NORMAL                           3 (75.00 %)                        2 (50.00 %)                        "
        "-1 (-25.00 pp)",
        "mode REDUCE_RISK_ONLY                 1 (25.00 %)                        -                                  "
        "-1 (-25.00 pp)",
        "mode changes                          2                                  2                                  0",
        "gate failures                         2 in 1 cycles                      0 in 0 cycles                      "
        "-2 in -1 cycles",
        "  intents skipped: max_orders         -                                  4                                  "
        "+4",
        "mode OBSERVE_ONLY                     -                                  2 (50.00 %)                        "
        "+2 (+50.00 pp)",
    ]


def test_one_report_has_no_difference_column(tiny: Path) -> None:
    assert format_text([_report(tiny)]) == _report(tiny).text()
    assert _report(tiny).text().splitlines()[0] == "book                                  tiny"


def test_report_of_a_book_without_cycles_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    from btcbot_pipeline.storage.book import Book

    with duckdb.connect(str(tmp_path / "new.duckdb")) as con:
        Book(con).ensure_schema()

    assert main(["report", str(tmp_path / "new.duckdb")]) == 2
    assert capsys.readouterr().err == "ReportingError: the book has no ledger_metrics rows: nothing to report\n"
