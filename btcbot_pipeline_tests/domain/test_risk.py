"""The risk budget on a scripted equity path: drawdown, daily loss, cooldown, clear."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.payloads import risk_state_from_payload, risk_state_payload
from btcbot_pipeline.domain.risk import (
    RiskClear,
    RiskLimits,
    RiskState,
    apply_clear,
    decide_risk,
)
from btcbot_pipeline.domain.vocabulary import Mode

T0 = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)
LIMITS = RiskLimits(max_drawdown_pct=D("0.10"), max_daily_loss_try=D("300"), cooldown_s=900)  # 15 min = 3 cycles


def drive(
    equities: list[str], state: RiskState | None = None, start: datetime = T0
) -> list[tuple[str, tuple[str, ...]]]:
    """Mode decided after each cycle (5 min apart) for the given closing equities."""
    state = state or RiskState()
    out = []
    for k, equity in enumerate(equities):
        decision = decide_risk(state, cycle_ts=start + timedelta(minutes=5 * k), equity_try=D(equity), limits=LIMITS)
        out.append((decision.mode.value, decision.reasons))
        state = decision.state
    return out


def test_a_daily_loss_then_a_drawdown_tighten_the_mode_step_by_step() -> None:
    # day anchor 10000 (first cycle), peak 10000
    modes = [m for m, _ in drive(["10000", "9800", "9700", "9300", "8990", "9000"])]
    assert modes == [
        "NORMAL",  # 10000: nothing lost
        "NORMAL",  # 9800: -200 today, drawdown 2 %
        "REDUCE_RISK_ONLY",  # 9700: -300 today hits the daily loss limit
        "REDUCE_RISK_ONLY",  # 9300: -700, drawdown 7 %
        "OBSERVE_ONLY",  # 8990: drawdown 10.1 % >= 10 %
        "OBSERVE_ONLY",  # 9000: drawdown 10 % still breached
    ]


def test_a_tripped_limit_holds_for_its_cooldown_then_releases() -> None:
    steps = drive(["10000", "9700", "9800", "9800", "9800", "9800"])
    assert steps == [
        ("NORMAL", ()),
        ("REDUCE_RISK_ONLY", ("daily_loss_limit:breached",)),  # 22:05, cooldown until 22:20
        ("REDUCE_RISK_ONLY", ("daily_loss_limit:cooldown_until:2026-01-01T22:20:00Z",)),  # -200: no longer breached
        ("REDUCE_RISK_ONLY", ("daily_loss_limit:cooldown_until:2026-01-01T22:20:00Z",)),  # 22:15
        ("NORMAL", ()),  # 22:20: cooldown over
        ("NORMAL", ()),
    ]


def test_a_breach_during_cooldown_extends_it() -> None:
    steps = drive(["10000", "9700", "9800", "9650", "9800", "9800", "9800", "9800"])
    assert [m for m, _ in steps] == ["NORMAL"] + ["REDUCE_RISK_ONLY"] * 5 + ["NORMAL"] * 2
    assert steps[3][1] == ("daily_loss_limit:breached",)  # 22:15 re-trips: until 22:30


def test_a_new_utc_day_re_anchors_the_daily_loss() -> None:
    # 23:55 closes at 9750 (-250 today); 00:00 the next day at 9500 is -250 against 9750
    steps = drive(["10000", "9750", "9500"], start=datetime(2026, 1, 1, 23, 50, tzinfo=timezone.utc))
    assert [m for m, _ in steps] == ["NORMAL", "NORMAL", "NORMAL"]


def test_the_cooldown_uses_cycle_time_not_the_wall_clock() -> None:
    first = drive(["10000", "9700", "9800", "9800", "9800"])
    again = drive(["10000", "9700", "9800", "9800", "9800"])
    assert first == again


def test_a_clear_drops_the_latches_and_accepts_the_loss_so_far() -> None:
    state = RiskState()
    for k, equity in enumerate(["10000", "9700", "8900"]):  # daily loss, then drawdown 11 %
        decision = decide_risk(state, cycle_ts=T0 + timedelta(minutes=5 * k), equity_try=D(equity), limits=LIMITS)
        state = decision.state
    assert state.mode is Mode.OBSERVE_ONLY and set(state.latches) == {"daily_loss_limit", "drawdown_limit"}

    cleared = apply_clear(state, RiskClear("clr-1", "reviewed the losses"))
    assert cleared.mode is Mode.NORMAL and cleared.reasons == ("risk_cleared:clr-1:reviewed the losses",)
    # the next cycle measures from 8900: a further -100 trips nothing
    nxt = decide_risk(
        cleared, cycle_ts=T0 + timedelta(minutes=15), equity_try=D("8800"), limits=LIMITS, cleared_by="clr-1"
    )
    assert (nxt.mode, nxt.reasons, nxt.cleared_by) == (Mode.NORMAL, (), "clr-1")
    assert nxt.daily_pnl_try == D("-100")


def test_the_decision_records_a_stable_inputs_hash() -> None:
    a = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=LIMITS)
    b = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=LIMITS)
    c = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("9999"), limits=LIMITS)
    assert a.inputs_hash == b.inputs_hash != c.inputs_hash


@pytest.mark.parametrize("equities", [["10000"], ["10000", "9700", "8900"]])
def test_risk_state_payload_round_trip(equities: list[str]) -> None:
    state = RiskState()
    for k, equity in enumerate(equities):
        state = decide_risk(state, cycle_ts=T0 + timedelta(minutes=5 * k), equity_try=D(equity), limits=LIMITS).state
    assert risk_state_from_payload(risk_state_payload(state)) == state
