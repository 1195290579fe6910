"""Realized PnL today in a live partition's metadata: from the day-start baseline."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb

from btcbot_pipeline.defs.cycle.metadata import realized_today
from btcbot_pipeline.storage.book import Book


def test_realized_today_is_the_total_less_the_last_total_before_the_utc_day(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "live.duckdb")) as con:
        book = Book(con)
        book.ensure_schema()
        for ts, realized in (("2026-01-01 23:55", "12.5"), ("2026-01-02 00:00", "14"), ("2026-01-02 09:30", "9.25")):
            con.execute(
                "INSERT INTO ledger_metrics (cycle_ts, cycle_id, realized_pnl_try) VALUES (?, ?, ?)",
                [datetime.fromisoformat(ts), ts, realized],
            )
        at = datetime(2026, 1, 2, 9, 30, tzinfo=timezone.utc)
        assert realized_today(book, at) == {
            "realized_today_try": "-3.25",
            "realized_day_start_baseline_try": "12.5",
            "realized_day_start_utc": "2026-01-02T00:00Z",
        }
        opening_day = datetime(2026, 1, 1, 23, 55, tzinfo=timezone.utc)
        assert realized_today(book, opening_day)["realized_today_try"] == "12.5"
