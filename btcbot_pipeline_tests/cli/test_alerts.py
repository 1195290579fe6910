"""``btcbot alerts [--since ISO] [--json]``: the book's alerts, oldest first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.alerting import raise_alerts
from btcbot_pipeline.cli import main
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline_tests.test_alerts import seed, window


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A book with a drawdown and a daily-loss alert at 00:35 and a mode change at 00:40 (recorded, no webhook)."""
    path = tmp_path / "book.duckdb"
    with duckdb.connect(str(path)) as con:
        book = Book(con)
        book.ensure_schema()
        seed(book, "00:30", drawdown="0.01", equity="9900")
        seed(book, "00:35", drawdown="0.0625", daily="-300.5", equity="9375.25")
        seed(book, "00:40", drawdown="0.07", daily="-320", equity="9300", mode="REDUCE_RISK_ONLY")
        raise_alerts(book, window("00:30", "00:45"), load_settings(None), kind="dry_run", book_name="book")
    return path


LINES = [
    "2026-01-01T00:35  WARN      daily_loss          daily loss 300.50 TRY crossed the 250 TRY alert threshold at "
    "equity 9,375.25 TRY (loss since the start of the UTC day)  [recorded]",
    "2026-01-01T00:35  WARN      drawdown_threshold  drawdown 6.2 % crossed the 5 % alert threshold at equity 9,375.25 "
    "TRY  [recorded]",
    "2026-01-01T00:40  WARN      mode_change         mode NORMAL → REDUCE_RISK_ONLY (tighter): no reason recorded  "
    "[recorded]",
]


def test_alerts_lists_one_line_each_oldest_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == LINES


def test_alerts_since_keeps_the_later_cycles(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--db", str(db), "--since", "2026-01-01T00:40"]) == 0
    assert main(["alerts", "--db", str(db), "--since", "2026-01-01T01:00"]) == 0
    assert capsys.readouterr().out.splitlines() == [LINES[2], f"no alerts in {db} since 2026-01-01T01:00 UTC"]


def test_alerts_json_is_an_array_of_the_webhook_fields_and_the_delivery(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "--db", str(db), "--json", "--since", "2026-01-01T00:40"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "alert_id": "mode_change:20260101T004000Z",
            "severity": "WARN",
            "rule": "mode_change",
            "cycle_id": "20260101T004000Z",
            "cycle_ts": "2026-01-01T00:40:00Z",
            "message": "mode NORMAL → REDUCE_RISK_ONLY (tighter): no reason recorded",
            "details": {
                "mode": "REDUCE_RISK_ONLY",
                "previous_cycle_id": "20260101T003500Z",
                "previous_mode": "NORMAL",
                "reasons": [],
            },
            "status": "recorded",
            "attempts": 0,
            "last_error": None,
        }
    ]


def test_alerts_of_a_locked_book_say_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "book.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code = main(["alerts", "--db", str(db)])
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"BookLockedError: book {db} is locked by process {holder.pid} (a running cycle or backtest?): read it when "
        "that writer has finished",
    ]
