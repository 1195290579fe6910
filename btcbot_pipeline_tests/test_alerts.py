"""Alerts over the book: recorded once per id, posted once to a webhook on 127.0.0.1,
retried after a failed delivery, never posted for a backtest (btcbot_pipeline/alerting.py);
and one cycle run through Dagster posting its alerts."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import duckdb
import pytest

from btcbot_pipeline.alerting import after_chunk, raise_alerts
from btcbot_pipeline.settings import BotSettings, load_settings
from btcbot_pipeline.storage.book import Book, Window
from btcbot_pipeline.testing.cycle_harness import Cycle
from btcbot_pipeline.testing.webhook_server import WebhookServer


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    con = duckdb.connect(str(tmp_path / "book.duckdb"))
    b = Book(con)
    b.ensure_schema()
    yield b
    con.close()


def at(hhmm: str) -> datetime:
    return datetime(2026, 1, 1, int(hhmm[:2]), int(hhmm[3:]), tzinfo=timezone.utc)


def window(first: str, end: str) -> Window:
    return Window(at(first), at(end))


def seed(
    book: Book, hhmm: str, *, equity: str = "10000", drawdown: str = "0", daily: str = "0", mode: str = "NORMAL"
) -> None:
    """The columns the rules read of one committed cycle (the rest stay NULL)."""
    ts, cid = at(hhmm).replace(tzinfo=None), f"20260101T{hhmm[:2]}{hhmm[3:]}00Z"
    book.con.execute(
        "INSERT INTO ledger_metrics (cycle_ts, cycle_id, equity_try, gap_cycles) VALUES (?, ?, ?, 0)",
        [ts, cid, Decimal(equity)],
    )
    book.con.execute(
        "INSERT INTO risk_decisions (cycle_ts, cycle_id, drawdown, daily_pnl_try) VALUES (?, ?, ?, ?)",
        [ts, cid, Decimal(drawdown), Decimal(daily)],
    )
    book.con.execute(
        "INSERT INTO cycle_trace (cycle_ts, cycle_id, final_mode, mode_json) VALUES (?, ?, ?, ?)",
        [ts, cid, mode, f'{{"final_mode":"{mode}","reasons":[]}}'],
    )
    book.con.execute(
        "INSERT INTO market_cycles (cycle_ts, cycle_id, source, n_symbols) VALUES (?, ?, 'replay', 12)", [ts, cid]
    )


def settings(url: str | None = None, **more: str) -> BotSettings:
    values = {"ALERT_DRAWDOWN_PCT": "0.05", "ALERT_DAILY_LOSS_TRY": "250", **more}
    if url is not None:
        values["ALERT_WEBHOOK_URL"] = url
    return load_settings(None, **values)


def statuses(book: Book) -> list[tuple[str, str, int, str | None]]:
    return [(r["alert_id"], r["status"], r["attempts"], r["last_error"]) for r in book.alerts()]


def no_wait(_: float) -> None:
    pass


def crossing(book: Book) -> None:
    """00:30 quiet; 00:35 crosses both thresholds (drawdown 6.2 % ≥ 5 %, daily loss 300 ≥ 250)."""
    seed(book, "00:30", drawdown="0.01", equity="9900")
    seed(book, "00:35", drawdown="0.0625", daily="-300.5", equity="9375.25")


def test_each_new_alert_is_posted_once_and_a_rerun_posts_nothing(book: Book, webhook: WebhookServer) -> None:
    crossing(book)
    cfg = settings(webhook.url)

    first = raise_alerts(book, window("00:30", "00:40"), cfg, kind="dry_run", book_name="btcbot_book")
    again = raise_alerts(book, window("00:30", "00:40"), cfg, kind="dry_run", book_name="btcbot_book")

    assert webhook.ids() == ["daily_loss:20260101T003500Z", "drawdown_threshold:20260101T003500Z"]
    assert webhook.received[1].path == "/hook/T0KEN-SECRET"
    assert webhook.received[1].headers["Idempotency-Key"] == "drawdown_threshold:20260101T003500Z"
    assert webhook.received[1].body == {
        "alert_id": "drawdown_threshold:20260101T003500Z",
        "severity": "WARN",
        "rule": "drawdown_threshold",
        "cycle_id": "20260101T003500Z",
        "cycle_ts": "2026-01-01T00:35:00Z",
        "message": "drawdown 6.2 % crossed the 5 % alert threshold at equity 9,375.25 TRY",
        "details": {"drawdown": "0.0625", "equity_try": "9375.25", "previous_drawdown": "0.01", "threshold": "0.05"},
        "book": "btcbot_book",
        "source": "btcbot_pipeline",
    }
    assert (first.added, again.added, again.deliveries) == (
        ("daily_loss:20260101T003500Z", "drawdown_threshold:20260101T003500Z"),
        (),
        (),
    )
    assert statuses(book) == [
        ("daily_loss:20260101T003500Z", "delivered", 1, None),
        ("drawdown_threshold:20260101T003500Z", "delivered", 1, None),
    ]


def test_a_failed_delivery_is_recorded_and_posted_at_the_next_cycle(book: Book, webhook: WebhookServer) -> None:
    crossing(book)
    cfg = settings(webhook.url, ALERT_WEBHOOK_ATTEMPTS="2")
    webhook.status = 503  # the receiver is down

    down = raise_alerts(book, window("00:30", "00:40"), cfg, kind="dry_run", book_name="b", sleep=no_wait)

    # the first alert was tried twice; the second waits (the receiver is unreachable)
    assert webhook.ids() == ["daily_loss:20260101T003500Z"] * 2
    assert [(i, d.ok, d.attempts) for i, d in down.deliveries] == [("daily_loss:20260101T003500Z", False, 2)]
    assert statuses(book) == [
        ("daily_loss:20260101T003500Z", "failed", 2, "HTTP 503 Service Unavailable"),
        ("drawdown_threshold:20260101T003500Z", "pending", 0, None),
    ]

    webhook.status = 200
    seed(book, "00:40", drawdown="0.07", equity="9300")  # the next cycle: no new alert
    raise_alerts(book, window("00:40", "00:45"), cfg, kind="dry_run", book_name="b", sleep=no_wait)

    assert webhook.ids()[2:] == ["daily_loss:20260101T003500Z", "drawdown_threshold:20260101T003500Z"]
    assert statuses(book) == [
        ("daily_loss:20260101T003500Z", "delivered", 3, None),
        ("drawdown_threshold:20260101T003500Z", "delivered", 1, None),
    ]


def test_the_webhook_url_never_shows_in_an_error(book: Book, webhook: WebhookServer) -> None:
    crossing(book)
    url = webhook.url
    webhook.close()  # nothing listens on that port any more

    raise_alerts(
        book, window("00:30", "00:40"), settings(url, ALERT_WEBHOOK_ATTEMPTS="1"), kind="dry_run", book_name="b"
    )

    error = statuses(book)[0][3]
    assert error is not None and error.startswith("ConnectError: ") and "T0KEN-SECRET" not in error
    assert settings(url).safe_summary()["ALERT_WEBHOOK_URL"] == "**********"


def test_a_rerun_replaces_the_windows_undelivered_alerts_and_keeps_delivered_ones(book: Book) -> None:
    crossing(book)
    cfg = settings()  # no webhook: alerts are only recorded
    raise_alerts(book, window("00:30", "00:40"), cfg, kind="dry_run", book_name="b")
    assert statuses(book) == [
        ("daily_loss:20260101T003500Z", "recorded", 0, None),
        ("drawdown_threshold:20260101T003500Z", "recorded", 0, None),
    ]
    book.mark_alert("daily_loss:20260101T003500Z", "delivered", 1, None)  # as if a receiver had it
    # the window re-run with other results: neither threshold is crossed any more
    book.con.execute("UPDATE risk_decisions SET drawdown = 0.02, daily_pnl_try = -10")

    raise_alerts(book, window("00:30", "00:40"), cfg, kind="dry_run", book_name="b")

    assert statuses(book) == [("daily_loss:20260101T003500Z", "delivered", 1, None)]


def test_a_backtest_book_records_alerts_but_never_posts(book: Book, webhook: WebhookServer) -> None:
    crossing(book)
    raise_alerts(book, window("00:30", "00:40"), settings(webhook.url), kind="backtest", book_name="real10")
    assert webhook.received == []
    assert [s[1] for s in statuses(book)] == ["recorded", "recorded"]


class Lines:
    """A hand-written stand-in for Dagster's log manager."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, msg: str) -> None:
        self.lines.append(("info", msg))

    def warning(self, msg: str) -> None:
        self.lines.append(("warning", msg))


def test_the_cycle_hook_never_fails_the_cycle(book: Book) -> None:
    class Stopped:  # a GateStopped's shape: partitions with windows
        partitions = [type("P", (), {"window": window("00:30", "00:35")})()]

    class Identity:
        kind, name = "dry_run", "b"

    book.con.close()  # the book is gone: reading it fails
    log = Lines()
    after_chunk(book, Stopped(), settings(), Identity(), log)  # type: ignore[arg-type]
    assert [level for level, _ in log.lines] == ["warning"]
    assert log.lines[0][1].startswith("alerts not raised for this chunk: ConnectionException: ")


class Chunk:
    """A committed chunk's shape (``ChunkDone``): partitions with windows."""

    def __init__(self, first: str, end: str) -> None:
        self.partitions = [type("P", (), {"window": window(first, end)})()]


class Identity:
    kind, name = "dry_run", "b"


def test_the_cycle_hook_logs_each_new_alert_as_a_readable_line(book: Book, webhook: WebhookServer) -> None:
    crossing(book)
    seed(book, "00:40", drawdown="0.07", daily="-320", equity="9300", mode="REDUCE_RISK_ONLY")
    log = Lines()

    after_chunk(book, Chunk("00:30", "00:45"), settings(webhook.url), Identity(), log)  # type: ignore[arg-type]
    after_chunk(book, Chunk("00:30", "00:45"), settings(webhook.url), Identity(), log)  # type: ignore[arg-type]  # a re-run: nothing new

    assert log.lines == [
        (
            "warning",
            "alert WARN at cycle 2026-01-01T00:35 UTC, daily_loss: daily loss 300.50 TRY crossed the 250 TRY alert "
            "threshold at equity 9,375.25 TRY (loss since the start of the UTC day)",
        ),
        (
            "warning",
            "alert WARN at cycle 2026-01-01T00:35 UTC, drawdown_threshold: drawdown 6.2 % crossed the 5 % alert "
            "threshold at equity 9,375.25 TRY",
        ),
        (
            "warning",
            "alert WARN at cycle 2026-01-01T00:40 UTC, mode_change: mode NORMAL → REDUCE_RISK_ONLY (tighter): "
            "no reason recorded",
        ),
        ("info", "alerts: 3 posted"),
    ]


def test_a_gate_stop_from_the_book_is_said_in_trading_terms_with_the_settings_limit(book: Book) -> None:
    # 00:35 and 00:40 of one chunk failed the market gate (8 and 9 of 12 symbols excluded)
    for hhmm, n, share in (("00:35", 8, "0.6666666666666666666666666667"), ("00:40", 9, "0.75")):
        book.con.execute(
            "INSERT INTO gate_failures VALUES (?, ?, 'market_snapshot', 'market_snapshot_gate', 'excluded_share_ok', "
            "?)",
            [
                at(hhmm).replace(tzinfo=None),
                f"20260101T{hhmm[:2]}{hhmm[3:]}00Z",
                f"expect_column_values_to_be_in_set on excluded_share_ok: observed 17 ({n} at this cycle); rows: "
                f"symbol=ADATRY, excluded_share={share}, skip_reason=stale_data",
            ],
        )

    out = raise_alerts(
        book, window("00:35", "00:45"), settings(STAGE7_MAX_EXCLUDED_SHARE="0.4"), kind="dry_run", book_name="b"
    )

    assert out.added == ("gate_failure:20260101T003500Z",)
    (alert,) = out.alerts
    assert alert.message == (
        "gate market_snapshot_gate stopped the cycle: excluded_share_ok: 8 of 12 symbols (67 %) excluded, limit 40 %: "
        "stale_data ×1 (+7 not listed) (+1 more failing cycle of the chunk, the last at 2026-01-01T00:40 UTC); "
        "nothing of its chunk was written"
    )
    assert [f["detail"] for f in alert.details["failures"]][1] == (
        "expect_column_values_to_be_in_set on excluded_share_ok: observed 17 (9 at this cycle); rows: symbol=ADATRY, "
        "excluded_share=0.75, skip_reason=stale_data"
    )


def test_a_cycle_run_posts_its_new_alerts(cycle: Cycle, webhook: WebhookServer) -> None:
    # the synthetic day: at 00:40 the drawdown is 1.01 % and the day's loss 101.00 TRY
    cycle.overrides |= {"ALERT_WEBHOOK_URL": webhook.url, "ALERT_DRAWDOWN_PCT": "0.01", "ALERT_DAILY_LOSS_TRY": "100"}

    result = cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:40")

    assert result.success
    assert [(r.body["alert_id"], r.body["message"]) for r in webhook.received] == [
        (
            "daily_loss:20260101T004000Z",
            "daily loss 101.00 TRY crossed the 100 TRY alert threshold at equity 9,899.00 TRY (loss since the start of "
            "the UTC day)",
        ),
        (
            "drawdown_threshold:20260101T004000Z",
            "drawdown 1.0 % crossed the 1 % alert threshold at equity 9,899.00 TRY",
        ),
    ]
    assert cycle.rows("SELECT alert_id, status, attempts FROM alerts ORDER BY alert_id") == [
        ("daily_loss:20260101T004000Z", "delivered", 1),
        ("drawdown_threshold:20260101T004000Z", "delivered", 1),
    ]
