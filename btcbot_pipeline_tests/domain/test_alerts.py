"""The alert rules, one literal cycle table per rule (domain/alerts.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from btcbot_pipeline.domain.alerts import (
    Alert,
    AlertThresholds,
    CycleFacts,
    GateFailure,
    Rule,
    Severity,
    evaluate,
    run_failed_alert,
)

T = AlertThresholds(drawdown_pct=Decimal("0.05"), daily_loss_try=Decimal("250"))


def ts(hhmm: str, day: int = 1) -> datetime:
    return datetime(2026, 1, day, int(hhmm[:2]), int(hhmm[3:]), tzinfo=timezone.utc)


def cid(hhmm: str, day: int = 1) -> str:
    return f"202601{day:02d}T{hhmm[:2]}{hhmm[3:]}00Z"


def cycle(hhmm: str, day: int = 1, **kw: object) -> CycleFacts:
    """A quiet cycle (NORMAL, no loss, fresh data) with the given facts changed."""
    base: dict[str, object] = {
        "equity_try": Decimal("10000"), "drawdown": Decimal("0"), "daily_pnl_try": Decimal("0"),
        "final_mode": "NORMAL", "source": "replay", "n_symbols": 12,
    }
    return CycleFacts(cycle_ts=ts(hhmm, day), cycle_id=cid(hhmm, day), **(base | kw))  # type: ignore[arg-type]


def rules(alerts: list[Alert]) -> list[tuple[str, str | None]]:
    return [(str(a.rule), a.cycle_id) for a in alerts]


def test_quiet_cycles_raise_nothing() -> None:
    assert evaluate([cycle("00:30"), cycle("00:35")], T, previous=cycle("00:25")) == []


def test_drawdown_alerts_at_the_cycle_that_crosses_the_threshold_only() -> None:
    cycles = [
        cycle("00:30", drawdown=Decimal("0.0499"), equity_try=Decimal("9501")),
        # 0.0731 >= 0.05: crosses here
        cycle("00:35", drawdown=Decimal("0.0731"), equity_try=Decimal("9270.1249")),
        cycle("00:40", drawdown=Decimal("0.09"), equity_try=Decimal("9100")),  # still above: no second alert
        cycle("00:45", drawdown=Decimal("0.02"), equity_try=Decimal("9800")),  # back below: re-armed
        cycle("00:50", drawdown=Decimal("0.05"), equity_try=Decimal("9500")),  # reaches it again
    ]
    alerts = evaluate(cycles, T, previous=cycle("00:25", drawdown=Decimal("0.01")))
    assert alerts == [
        Alert(
            "drawdown_threshold:20260101T003500Z", Rule.DRAWDOWN, Severity.WARN, ts("00:35"), cid("00:35"),
            "drawdown 7.3 % crossed the 5 % alert threshold at equity 9,270.12 TRY",
            {"drawdown": "0.0731", "threshold": "0.05", "equity_try": "9270.1249", "previous_drawdown": "0.0499"},
        ),
        Alert(
            "drawdown_threshold:20260101T005000Z", Rule.DRAWDOWN, Severity.WARN, ts("00:50"), cid("00:50"),
            "drawdown 5.0 % crossed the 5 % alert threshold at equity 9,500.00 TRY",
            {"drawdown": "0.05", "threshold": "0.05", "equity_try": "9500", "previous_drawdown": "0.02"},
        ),
    ]


def test_drawdown_already_above_before_the_window_is_not_raised_again() -> None:
    previous = cycle("00:25", drawdown=Decimal("0.06"))
    assert evaluate([cycle("00:30", drawdown=Decimal("0.08"))], T, previous=previous) == []


def test_daily_loss_alerts_once_per_utc_day() -> None:
    cycles = [
        cycle("23:50", daily_pnl_try=Decimal("-249.99")),
        # loss 250.004 >= 250: crosses
        cycle("23:55", daily_pnl_try=Decimal("-250.004"), equity_try=Decimal("9749.996")),
        # a new UTC day: the loss since its start is 300 at its first cycle → crosses again
        cycle("00:00", day=2, daily_pnl_try=Decimal("-300"), equity_try=Decimal("9450")),
        cycle("00:05", day=2, daily_pnl_try=Decimal("-400"), equity_try=Decimal("9350")),
    ]
    alerts = evaluate(cycles, T)
    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        ("daily_loss:20260101T235500Z", Severity.WARN,
         "daily loss 250.00 TRY crossed the 250 TRY alert threshold at equity 9,750.00 TRY (loss since the start of the UTC day)"),
        ("daily_loss:20260102T000000Z", Severity.WARN,
         "daily loss 300.00 TRY crossed the 250 TRY alert threshold at equity 9,450.00 TRY (loss since the start of the UTC day)"),
    ]
    assert alerts[0].details == {"daily_pnl_try": "-250.004", "threshold_try": "250", "equity_try": "9749.996"}


def test_mode_change_tighter_is_warn_looser_is_info() -> None:
    previous = cycle("00:25")
    cycles = [
        cycle("00:30", final_mode="REDUCE_RISK_ONLY", mode_reasons=("risk:daily_loss_limit:breached",)),
        cycle("00:35", final_mode="REDUCE_RISK_ONLY"),
        cycle("00:40", final_mode="NORMAL"),
    ]
    alerts = evaluate(cycles, T, previous=previous)
    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        ("mode_change:20260101T003000Z", Severity.WARN,
         "mode NORMAL → REDUCE_RISK_ONLY (tighter): risk:daily_loss_limit:breached"),
        ("mode_change:20260101T004000Z", Severity.INFO, "mode REDUCE_RISK_ONLY → NORMAL (looser): no reason recorded"),
    ]
    assert alerts[0].details == {
        "previous_mode": "NORMAL", "mode": "REDUCE_RISK_ONLY", "reasons": ["risk:daily_loss_limit:breached"],
        "previous_cycle_id": "20260101T002500Z",
    }


def test_the_first_cycle_of_a_book_has_no_mode_to_change_from() -> None:
    assert evaluate([cycle("00:00", final_mode="OBSERVE_ONLY")], T) == []


def test_gate_failure_is_an_error_and_the_stopped_cycle_raises_nothing_else() -> None:
    stopped = CycleFacts(
        ts("00:35"), cid("00:35"),
        gate_failures=(
            GateFailure("market_snapshot_gate", "market_snapshot", "excluded_share", "7 of 12 symbols (58 %) excluded, limit 50 %"),
            GateFailure("market_snapshot_gate", "market_snapshot", "bid_le_ask", "symbol=ADATRY"),
        ),
    )
    # the cycle after the stopped one compares its mode with 00:30's (the last that ran): no change
    alerts = evaluate([cycle("00:30"), stopped, cycle("00:40")], T)
    assert alerts == [
        Alert(
            "gate_failure:20260101T003500Z", Rule.GATE_FAILURE, Severity.ERROR, ts("00:35"), cid("00:35"),
            "gate market_snapshot_gate stopped the cycle: bid_le_ask: symbol=ADATRY (+1 more failed expectation); "
            "nothing of the cycle was written",
            {"failures": [
                {"check": "market_snapshot_gate", "asset": "market_snapshot", "expectation": "bid_le_ask", "detail": "symbol=ADATRY"},
                {"check": "market_snapshot_gate", "asset": "market_snapshot", "expectation": "excluded_share",
                 "detail": "7 of 12 symbols (58 %) excluded, limit 50 %"},
            ]},
        ),
    ]


def test_degraded_source_alerts_when_it_starts_and_stale_symbols_when_they_go_stale() -> None:
    cycles = [
        cycle("00:30", data_faults={"ADATRY": "stale_data"}),
        cycle("00:35", data_faults={"ADATRY": "stale_data", "XRPTRY": "exchange_error:orderbook"}),  # XRPTRY is new
        cycle("00:40", source="btcturk", degraded_reason="exchange_unreachable", final_mode="OBSERVE_ONLY",
              data_faults={"ADATRY": "stale_data"}),
        cycle("00:45", source="btcturk", degraded_reason="exchange_unreachable", final_mode="OBSERVE_ONLY"),
    ]
    alerts = [a for a in evaluate(cycles, T, previous=cycle("00:25")) if a.rule != Rule.MODE_CHANGE]
    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        ("stale_data:20260101T003000Z", Severity.WARN,
         "1 symbol newly skipped for stale or missing exchange data: ADATRY (1 of 12 skipped for it this cycle)"),
        ("stale_data:20260101T003500Z", Severity.WARN,
         "1 symbol newly skipped for stale or missing exchange data: XRPTRY (exchange_error:orderbook) "
         "(2 of 12 skipped for it this cycle)"),
        ("data_degraded:20260101T004000Z", Severity.ERROR,
         "market data from btcturk degraded (exchange_unreachable): the cycle ran OBSERVE_ONLY"),
    ]
    assert alerts[1].details == {
        "new": {"XRPTRY": "exchange_error:orderbook"},
        "all": {"ADATRY": "stale_data", "XRPTRY": "exchange_error:orderbook"},
        "n_symbols": 12,
    }


def test_cycles_missed_names_the_gap_and_the_carried_cycle() -> None:
    alerts = evaluate([cycle("02:00", gap_cycles=5, carried_from="20260101T013000Z")], T, previous=cycle("01:30"))
    assert [(a.alert_id, a.severity, a.message, a.details) for a in alerts] == [
        ("cycles_missed:20260101T020000Z", Severity.WARN,
         "5 cycles missed before this one: the ledger carried from cycle 20260101T013000Z across them",
         {"gap_cycles": 5, "carried_from": "20260101T013000Z"}),
    ]


def test_rules_of_one_cycle_come_in_a_fixed_order_and_ids_are_stable() -> None:
    busy = cycle(
        "00:30", gap_cycles=1, carried_from="20260101T002000Z", final_mode="REDUCE_RISK_ONLY",
        drawdown=Decimal("0.1"), daily_pnl_try=Decimal("-1000"), data_faults={"ADATRY": "stale_data"},
    )
    first = evaluate([busy], T, previous=cycle("00:20"))
    assert rules(first) == [
        ("stale_data", "20260101T003000Z"), ("cycles_missed", "20260101T003000Z"), ("mode_change", "20260101T003000Z"),
        ("daily_loss", "20260101T003000Z"), ("drawdown_threshold", "20260101T003000Z"),
    ]
    assert evaluate([busy], T, previous=cycle("00:20")) == first


def test_run_failed_is_critical_and_names_the_cycle_and_run() -> None:
    alert = run_failed_alert(
        cycle_ts=ts("00:45"), cycle_id=cid("00:45"), run_id="0123456789abcdef", job="cycle_job",
        partitions="2026-01-01T00:45", error="IOException: Could not set lock on file\nmore",
    )
    assert (alert.alert_id, alert.severity, alert.message) == (
        "run_failed:20260101T004500Z:01234567", Severity.CRITICAL,
        "cycle 2026-01-01T00:45 UTC did not complete: run 01234567 of cycle_job failed: IOException: Could not set lock "
        "on file. The book keeps its last committed cycle; the next run carries on from there.",
    )
