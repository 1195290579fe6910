"""What a live partition adds to its ``ledger_snapshot`` metadata: realized PnL today.

The seeds' Stage 4: ``realized_today_try = realized_total_try − baseline_at_day_start``,
the baseline being the realized PnL of the book's last cycle before the cycle's UTC day
began (0 for a book opened that day). Read from the book as committed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.storage.schema import naive_utc


def realized_today(book: Book, cycle_ts: datetime) -> dict[str, Any]:
    """``realized_today_try`` and its baseline at the cycle's UTC day start, as text."""
    ts = naive_utc(cycle_ts)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    now = book.query("SELECT realized_pnl_try FROM ledger_metrics WHERE cycle_ts = ?", [ts])
    before = book.query(
        "SELECT realized_pnl_try FROM ledger_metrics WHERE cycle_ts < ? ORDER BY cycle_ts DESC LIMIT 1", [day]
    )
    total = Decimal(str(now[0][0])) if now else Decimal(0)
    baseline = Decimal(str(before[0][0])) if before else Decimal(0)
    return {
        "realized_today_try": format((total - baseline).normalize(), "f"),
        "realized_day_start_baseline_try": format(baseline.normalize(), "f"),
        "realized_day_start_utc": day.strftime("%Y-%m-%dT%H:%MZ"),
    }
