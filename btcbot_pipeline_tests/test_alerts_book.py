"""The alert rules of issue 17 read from a book (btcbot_pipeline/alerting.py): the order
events of each cycle and an empty universe under a whitelist, recorded with their ids; and
a real cycle run with a misspelled whitelist raising ``empty_universe``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.alerting import raise_alerts, read_facts
from btcbot_pipeline.domain.alert_facts import OrderEventFact
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.testing.cycle_harness import Cycle
from btcbot_pipeline_tests.test_alerts import at, seed, settings, window


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    con = duckdb.connect(str(tmp_path / "book.duckdb"))
    b = Book(con)
    b.ensure_schema()
    yield b
    con.close()


def event(b: Book, hhmm: str, order: str, seq: int, event_type: str, reason: str | None, status: str) -> None:
    ts, cid = at(hhmm).replace(tzinfo=None), f"20260101T{hhmm[:2]}{hhmm[3:]}00Z"
    b.con.execute(
        "INSERT INTO order_events (cycle_ts, cycle_id, event_id, client_order_id, event_type, status_after, seq, "
        "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [ts, cid, f"{order}:{seq:04d}:{event_type}", order, event_type, status, seq, reason],
    )


def live_cycles(b: Book) -> None:
    """00:30 quiet; 00:35 two exchange rejects, a cap refusal, a throttle, an order closed
    unknown, an external order and a fee in BTC; 00:40 a give-up."""
    for hhmm in ("00:30", "00:35", "00:40"):
        seed(b, hhmm)
    event(b, "00:30", "s7:q", 1, "SUBMITTED", None, "SUBMITTED")
    event(b, "00:35", "s7:a", 2, "REJECTED", "BALANCE_NOT_ENOUGH", "REJECTED")
    event(b, "00:35", "s7:b", 2, "REJECTED", "FAILED_MIN_TOTAL_AMOUNT", "REJECTED")
    event(b, "00:35", "s7:c", 1, "REJECTED", "cap:MAX_OPEN_ORDERS", "REJECTED")
    event(b, "00:35", "s7:d", 1, "THROTTLED", "rate_limited (retry after 2 s)", "PLANNED")
    event(b, "00:35", "s7:e", 3, "CANCELED", "unknown_closed", "CANCELED")
    event(b, "00:35", "s7:f", 3, "CANCELED", "plan_dropped", "CANCELED")
    event(b, "00:35", "ext:9", 1, "AUDIT", "external", "ACKED")
    event(b, "00:35", "s7:g", 4, "AUDIT", "fee_not_try:BTC:0.00000125", "FILLED")
    event(b, "00:40", "s7:h", 2, "RETRY_GIVEUP", "TIMEOUT on attempt 3 of 3", "PLANNED")
    event(b, "00:40", "s7:h", 3, "REJECTED", "retry_budget_exhausted", "REJECTED")


def test_the_order_events_of_each_cycle_are_read_once_per_window(book: Book) -> None:
    live_cycles(book)

    previous, cycles = read_facts(book, window("00:35", "00:45"))

    assert previous is not None and previous.order_events == ()
    assert [c.order_events for c in cycles] == [
        (  # by order id, then sequence: the plan_dropped cancel, the cap refusal and the SUBMITTED are left out
            OrderEventFact("AUDIT", "external", "ext:9"),
            OrderEventFact("REJECTED", "BALANCE_NOT_ENOUGH", "s7:a"),
            OrderEventFact("REJECTED", "FAILED_MIN_TOTAL_AMOUNT", "s7:b"),
            OrderEventFact("THROTTLED", "rate_limited (retry after 2 s)", "s7:d"),
            OrderEventFact("CANCELED", "unknown_closed", "s7:e"),
            OrderEventFact("AUDIT", "fee_not_try:BTC:0.00000125", "s7:g"),
        ),
        (OrderEventFact("RETRY_GIVEUP", "TIMEOUT on attempt 3 of 3", "s7:h"),),
    ]


def test_execution_alerts_are_recorded_with_deterministic_ids_and_the_spike_threshold_is_a_setting(
    book: Book,
) -> None:
    live_cycles(book)

    default = raise_alerts(book, window("00:35", "00:45"), settings(), kind="live", book_name="b")
    ids = [r["alert_id"] for r in book.alerts()]
    raise_alerts(book, window("00:35", "00:45"), settings(), kind="live", book_name="b")  # a re-run: same ids
    same = [r["alert_id"] for r in book.alerts()]
    raise_alerts(book, window("00:35", "00:45"), settings(ALERT_REJECT_SPIKE="2"), kind="live", book_name="b")

    assert default.added == (
        "throttled:20260101T003500Z",
        "reconcile_anomaly:20260101T003500Z",
        "fee_not_try:20260101T003500Z",
        "retries_exhausted:20260101T004000Z",
    )
    assert same == ids and len(ids) == 4
    rows = {r["alert_id"]: (r["severity"], r["message"]) for r in book.alerts()}
    assert sorted(rows) == sorted([*ids, "reject_spike:20260101T003500Z"])
    assert rows["reject_spike:20260101T003500Z"] == (
        "ERROR",
        "2 orders rejected by the exchange this cycle (alert at 2): BALANCE_NOT_ENOUGH ×1, FAILED_MIN_TOTAL_AMOUNT ×1",
    )
    assert rows["reconcile_anomaly:20260101T003500Z"] == (
        "WARN",
        "reconciling with the exchange found 1 order closed on the exchange unknown to the book: s7:e; 1 order placed "
        "by someone else (imported as external; the bot never cancels them): ext:9",
    )
    assert rows["fee_not_try:20260101T003500Z"] == (
        "WARN",
        "1 fee charged in another asset than TRY: 0.00000125 BTC on s7:g; it was not converted and is not in the "
        "ledger",
    )
    assert rows["retries_exhausted:20260101T004000Z"] == (
        "ERROR",
        "1 order given up after its retries ran out, not placed: s7:h (TIMEOUT on attempt 3 of 3)",
    )


def test_a_misspelled_whitelist_raises_empty_universe_on_the_cycle(cycle: Cycle) -> None:
    cycle.overrides |= {"STAGE7_UNIVERSE_WHITELIST": "BTCTRYY"}

    result = cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:35")

    assert result.success
    assert cycle.rows("SELECT alert_id, rule, severity, message FROM alerts ORDER BY alert_id") == [
        (
            "empty_universe:20260101T003000Z",
            "empty_universe",
            "ERROR",
            "the universe selected nothing with STAGE7_UNIVERSE_WHITELIST=BTCTRYY: BTCTRYY (did you mean BTCTRY?) "
            "matched no candidate (12 candidates this cycle); the plan buys nothing and exits every holding (a symbol "
            "outside the universe targets zero) while it stays empty; btcbot doctor checks the whitelist",
        )
    ]  # 00:35 is as empty with the same whitelist: one alert


def test_a_whitelist_that_selects_is_quiet(cycle: Cycle) -> None:
    cycle.overrides |= {"STAGE7_UNIVERSE_WHITELIST": "BTCTRY,ETHTRY"}

    assert cycle.run("2026-01-01T00:30").success
    assert cycle.rows("SELECT count(*) FROM alerts WHERE rule = 'empty_universe'") == [(0,)]


def test_the_kill_switch_on_a_real_cycle_reads_as_orders_frozen(cycle: Cycle) -> None:
    assert cycle.run("2026-01-01T00:30").success
    cycle.overrides |= {"KILL_SWITCH": "true"}

    assert cycle.run("2026-01-01T00:35").success

    assert cycle.rows("SELECT alert_id, message FROM alerts WHERE rule = 'mode_change'") == [
        (
            "mode_change:20260101T003500Z",
            "mode NORMAL → OBSERVE_ONLY (tighter): kill switch on (orders frozen: none placed or cancelled, resting "
            "ones stay)",
        )
    ]
