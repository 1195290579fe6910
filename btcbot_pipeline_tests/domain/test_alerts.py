"""The alert rules, one literal cycle table per rule (domain/alerts.py)."""

from __future__ import annotations

from dataclasses import replace
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
        "equity_try": Decimal("10000"),
        "drawdown": Decimal("0"),
        "daily_pnl_try": Decimal("0"),
        "final_mode": "NORMAL",
        "source": "replay",
        "n_symbols": 12,
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
            "drawdown_threshold:20260101T003500Z",
            Rule.DRAWDOWN,
            Severity.WARN,
            ts("00:35"),
            cid("00:35"),
            "drawdown 7.3 % crossed the 5 % alert threshold at equity 9,270.12 TRY",
            {"drawdown": "0.0731", "threshold": "0.05", "equity_try": "9270.1249", "previous_drawdown": "0.0499"},
        ),
        Alert(
            "drawdown_threshold:20260101T005000Z",
            Rule.DRAWDOWN,
            Severity.WARN,
            ts("00:50"),
            cid("00:50"),
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
        (
            "daily_loss:20260101T235500Z",
            Severity.WARN,
            "daily loss 250.00 TRY crossed the 250 TRY alert threshold at equity 9,750.00 TRY (loss since the start of "
            "the UTC day)",
        ),
        (
            "daily_loss:20260102T000000Z",
            Severity.WARN,
            "daily loss 300.00 TRY crossed the 250 TRY alert threshold at equity 9,450.00 TRY (loss since the start of "
            "the UTC day)",
        ),
    ]
    assert alerts[0].details == {"daily_pnl_try": "-250.004", "threshold_try": "250", "equity_try": "9749.996"}


def test_mode_change_tighter_is_warn_looser_is_info() -> None:
    previous = cycle("00:25")
    cycles = [
        cycle("00:30", final_mode="REDUCE_RISK_ONLY", mode_reasons=("risk:daily_loss_limit:breached",)),
        cycle(
            "00:35",
            final_mode="REDUCE_RISK_ONLY",
            mode_reasons=("risk:daily_loss_limit:cooldown_until:2026-01-01T00:45:00Z",),
        ),
        cycle("00:40", final_mode="NORMAL"),
    ]
    alerts = evaluate(cycles, T, previous=previous)
    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        (
            "mode_change:20260101T003000Z",
            Severity.WARN,
            "mode NORMAL → REDUCE_RISK_ONLY (tighter): daily loss limit breached",
        ),
        (
            "mode_change:20260101T004000Z",
            Severity.INFO,
            "mode REDUCE_RISK_ONLY → NORMAL (looser): daily loss limit cleared (its cooldown until 2026-01-01T00:45 "
            "UTC ended)",
        ),
    ]
    assert alerts[0].details == {
        "previous_mode": "NORMAL",
        "mode": "REDUCE_RISK_ONLY",
        "reasons": ["risk:daily_loss_limit:breached"],
        "previous_cycle_id": "20260101T002500Z",
    }
    assert alerts[1].details == {
        "previous_mode": "REDUCE_RISK_ONLY",
        "mode": "NORMAL",
        "reasons": [],
        "previous_cycle_id": "20260101T003500Z",
        "previous_reasons": ["risk:daily_loss_limit:cooldown_until:2026-01-01T00:45:00Z"],
        "cleared_reasons": ["risk:daily_loss_limit:cooldown_until:2026-01-01T00:45:00Z"],
    }


def test_a_looser_mode_names_what_cleared_and_what_still_holds() -> None:
    cycles = [
        cycle(
            "00:30",
            final_mode="OBSERVE_ONLY",
            mode_reasons=("risk:daily_loss_limit:cooldown_until:2026-01-01T00:45:00Z", "risk:drawdown_limit:breached"),
        ),
        # the drawdown latch ended, the daily loss one has not
        cycle(
            "00:35",
            final_mode="REDUCE_RISK_ONLY",
            mode_reasons=("risk:daily_loss_limit:cooldown_until:2026-01-01T00:45:00Z",),
        ),
        cycle("00:40", final_mode="OBSERVE_ONLY", mode_reasons=("market_data_degraded:exchange_unreachable",)),
        cycle("00:45", final_mode="NORMAL"),
        cycle("00:50", final_mode="OBSERVE_ONLY", mode_reasons=("risk:drawdown_limit:breached", "kill_switch")),
        # an operator's clear drops the latch; the kill switch is off again
        cycle("00:55", final_mode="NORMAL", mode_reasons=("risk_cleared:rc-1a2b:loss accepted",)),
    ]
    looser = [a.message for a in evaluate(cycles, T, previous=cycle("00:25")) if a.severity is Severity.INFO]
    assert looser == [
        "mode OBSERVE_ONLY → REDUCE_RISK_ONLY (looser): drawdown limit cleared (no longer breached, its cooldown over) "
        "(still: daily loss limit cooling down until 2026-01-01T00:45 UTC)",
        "mode OBSERVE_ONLY → NORMAL (looser): market data usable again (was degraded: exchange_unreachable)",
        "mode OBSERVE_ONLY → NORMAL (looser): operator risk clear rc-1a2b applied (loss accepted); drawdown limit "
        "lifted by the clear; kill switch off (orders are placed and cancelled again)",
    ]


def test_a_looser_mode_without_any_recorded_reason_says_so() -> None:
    cycles = [cycle("00:30", final_mode="REDUCE_RISK_ONLY"), cycle("00:35", final_mode="NORMAL")]
    (_, looser) = evaluate(cycles, T, previous=cycle("00:25"))
    assert (
        looser.message == "mode REDUCE_RISK_ONLY → NORMAL (looser): the previous cycle recorded no reason for its mode"
    )


def test_the_first_cycle_of_a_book_has_no_mode_to_change_from() -> None:
    assert evaluate([cycle("00:00", final_mode="OBSERVE_ONLY")], T) == []


def test_gate_failure_is_an_error_and_the_stopped_cycle_raises_nothing_else() -> None:
    stopped = CycleFacts(
        ts("00:35"),
        cid("00:35"),
        gate_failures=(
            GateFailure(
                "market_snapshot_gate",
                "market_snapshot",
                "excluded_share_ok",
                "expect_column_values_to_be_in_set on excluded_share_ok: observed 7 (7 at this cycle); rows: "
                "symbol=ADATRY, excluded_share=0.5833333333333333333333333333, skip_reason=crossed_book",
                "excluded_share_ok: 7 of 12 symbols (58 %) excluded, limit 50 %: crossed_book ×1 (+6 not listed)",
            ),
            GateFailure("market_snapshot_gate", "market_snapshot", "bid_le_ask", "symbol=ADATRY"),
        ),
    )
    # the cycle after the stopped one compares its mode with 00:30's (the last that ran): no change
    alerts = evaluate([cycle("00:30"), stopped, cycle("00:40")], T)
    assert alerts == [
        Alert(
            "gate_failure:20260101T003500Z",
            Rule.GATE_FAILURE,
            Severity.ERROR,
            ts("00:35"),
            cid("00:35"),
            "gate market_snapshot_gate stopped the cycle: bid_le_ask: symbol=ADATRY (+1 more failed expectation: "
            "excluded_share_ok); nothing of its chunk was written",
            {
                "failing_cycles": ["20260101T003500Z"],
                "failures": [
                    {
                        "cycle_id": "20260101T003500Z",
                        "check": "market_snapshot_gate",
                        "asset": "market_snapshot",
                        "expectation": "bid_le_ask",
                        "detail": "symbol=ADATRY",
                    },
                    {
                        "cycle_id": "20260101T003500Z",
                        "check": "market_snapshot_gate",
                        "asset": "market_snapshot",
                        "expectation": "excluded_share_ok",
                        "detail": (
                            "expect_column_values_to_be_in_set on excluded_share_ok: observed 7 (7 at this cycle); "
                            "rows: symbol=ADATRY, excluded_share=0.5833333333333333333333333333, "
                            "skip_reason=crossed_book"
                        ),
                    },
                ],
            },
        ),
    ]


def _excluded(hhmm: str, n: int) -> CycleFacts:
    """A cycle the market gate stopped: ``n`` of 12 symbols excluded (in trading terms and exact)."""
    share = Decimal(n) / 12
    return CycleFacts(
        ts(hhmm),
        cid(hhmm),
        gate_failures=(
            GateFailure(
                "market_snapshot_gate",
                "market_snapshot",
                "excluded_share_ok",
                f"expect_column_values_to_be_in_set on excluded_share_ok: observed 88 ({n} at this cycle); rows: "
                f"symbol=ADATRY, excluded_share={share}, skip_reason=stale_data",
                f"{n} of 12 symbols ({share * 100:.0f} %) excluded, limit 50 %: stale_data ×1 (+{n - 1} not listed)",
            ),
        ),
    )


def test_one_gate_stop_is_one_alert_at_its_first_failing_cycle() -> None:
    # eleven cycles of one chunk failed the market gate: one cause, one alert
    times = ("00:30", "00:35", "00:40", "00:45", "00:50", "00:55", "01:00", "01:05", "01:10", "01:15", "01:20")
    stop = [_excluded(hhmm, 8) for hhmm in times]
    stop[3] = replace(
        stop[3],
        gate_failures=(
            *stop[3].gate_failures,
            GateFailure(
                "market_snapshot_gate",
                "market_snapshot",
                "prices_positive",
                "expect_column_values_to_be_in_set on prices_positive: …",
            ),
        ),
    )

    alerts = evaluate([cycle("00:25"), *stop, cycle("01:25")], T)

    (alert,) = alerts
    assert (alert.alert_id, alert.cycle_ts, alert.severity) == (
        "gate_failure:20260101T003000Z",
        ts("00:30"),
        Severity.ERROR,
    )
    assert alert.message == (
        "gate market_snapshot_gate stopped the cycle: excluded_share_ok: 8 of 12 symbols (67 %) excluded, limit 50 %: "
        "stale_data ×1 (+7 not listed) (+1 more failed expectation: prices_positive; +10 more failing cycles of the "
        "chunk, the last at 2026-01-01T01:20 UTC); nothing of its chunk was written"
    )
    assert alert.details["failing_cycles"] == [c.cycle_id for c in stop]
    assert len(alert.details["failures"]) == 12  # every failure, exact
    assert alert.details["failures"][0]["detail"] == (
        "expect_column_values_to_be_in_set on excluded_share_ok: observed 88 (8 at this cycle); rows: symbol=ADATRY, "
        "excluded_share=0.6666666666666666666666666667, skip_reason=stale_data"
    )
    # evaluated again (a re-run): the same one id
    assert [a.alert_id for a in evaluate([cycle("00:25"), *stop, cycle("01:25")], T)] == [
        "gate_failure:20260101T003000Z"
    ]


def test_degraded_source_alerts_when_it_starts_and_stale_symbols_when_they_go_stale() -> None:
    cycles = [
        cycle("00:30", data_faults={"ADATRY": "stale_data"}),
        cycle("00:35", data_faults={"ADATRY": "stale_data", "XRPTRY": "exchange_error:orderbook"}),  # XRPTRY is new
        cycle(
            "00:40",
            source="btcturk",
            degraded_reason="exchange_unreachable",
            final_mode="OBSERVE_ONLY",
            data_faults={"ADATRY": "stale_data"},
        ),
        cycle("00:45", source="btcturk", degraded_reason="exchange_unreachable", final_mode="OBSERVE_ONLY"),
    ]
    alerts = [a for a in evaluate(cycles, T, previous=cycle("00:25")) if a.rule != Rule.MODE_CHANGE]
    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        (
            "stale_data:20260101T003000Z",
            Severity.WARN,
            "1 symbol newly skipped for stale or missing exchange data: ADATRY (1 of 12 skipped for it this cycle)",
        ),
        (
            "stale_data:20260101T003500Z",
            Severity.WARN,
            "1 symbol newly skipped for stale or missing exchange data: XRPTRY (exchange_error:orderbook) "
            "(2 of 12 skipped for it this cycle)",
        ),
        (
            "data_degraded:20260101T004000Z",
            Severity.ERROR,
            "market data from btcturk degraded (exchange_unreachable): the cycle ran OBSERVE_ONLY",
        ),
    ]
    assert alerts[1].details == {
        "new": {"XRPTRY": "exchange_error:orderbook"},
        "all": {"ADATRY": "stale_data", "XRPTRY": "exchange_error:orderbook"},
        "n_symbols": 12,
    }


def test_cycles_missed_names_the_gap_and_the_carried_cycle() -> None:
    alerts = evaluate([cycle("02:00", gap_cycles=5, carried_from="20260101T013000Z")], T, previous=cycle("01:30"))
    assert [(a.alert_id, a.severity, a.message, a.details) for a in alerts] == [
        (
            "cycles_missed:20260101T020000Z",
            Severity.WARN,
            "5 cycles missed before this one: the ledger carried from cycle 20260101T013000Z across them",
            {"gap_cycles": 5, "carried_from": "20260101T013000Z"},
        ),
    ]


def test_rules_of_one_cycle_come_in_a_fixed_order_and_ids_are_stable() -> None:
    busy = cycle(
        "00:30",
        gap_cycles=1,
        carried_from="20260101T002000Z",
        final_mode="REDUCE_RISK_ONLY",
        drawdown=Decimal("0.1"),
        daily_pnl_try=Decimal("-1000"),
        data_faults={"ADATRY": "stale_data"},
    )
    first = evaluate([busy], T, previous=cycle("00:20"))
    assert rules(first) == [
        ("stale_data", "20260101T003000Z"),
        ("cycles_missed", "20260101T003000Z"),
        ("mode_change", "20260101T003000Z"),
        ("daily_loss", "20260101T003000Z"),
        ("drawdown_threshold", "20260101T003000Z"),
    ]
    assert evaluate([busy], T, previous=cycle("00:20")) == first


def test_run_failed_is_critical_and_names_the_cycle_and_run() -> None:
    alert = run_failed_alert(
        cycle_ts=ts("00:45"),
        cycle_id=cid("00:45"),
        run_id="0123456789abcdef",
        job="cycle_job",
        partitions="2026-01-01T00:45",
        error="IOException: Could not set lock on file\nmore",
    )
    assert (alert.alert_id, alert.severity, alert.message) == (
        "run_failed:20260101T004500Z:01234567",
        Severity.CRITICAL,
        "cycle 2026-01-01T00:45 UTC did not complete: run 01234567 of cycle_job failed: IOException: Could not set "
        "lock on file. The book keeps its last committed cycle; the next run carries on from there.",
    )
