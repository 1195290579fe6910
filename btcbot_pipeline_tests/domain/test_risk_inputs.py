"""The risk budget's later limits (issue 18): the drawdown's mode, stale data, fee burn,
equity volatility, losing cycles and the auto kill switch, each on a scripted series of
cycles 5 minutes apart; their defaults change nothing; their state and hashes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.exchange_rules import resolve_rules
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent, build_intents
from btcbot_pipeline.domain.ledger import LedgerMetrics, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot
from btcbot_pipeline.domain.params import WHEN_SET, CycleParams, ExecutionParams, PolicyParams, RulesParams
from btcbot_pipeline.domain.payloads import dumps, risk_state_from_payload, risk_state_payload
from btcbot_pipeline.domain.plan import build_plan
from btcbot_pipeline.domain.risk import (
    _WHEN_SET,
    NO_INPUTS,
    RiskClear,
    RiskInputs,
    RiskLimits,
    RiskState,
    apply_clear,
    decide_risk,
    equity_vol_bps,
    fee_burn_bps,
    limits_text,
)
from btcbot_pipeline.domain.risk_inputs import risk_inputs, stale_share
from btcbot_pipeline.domain.vocabulary import Mode, Side
from btcbot_pipeline.testing.builders import rules as published

T0 = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)
# Wide equity limits, so only the input under test trips; a cooldown of 15 min = 3 cycles.
BASE = RiskLimits(max_drawdown_pct=D("0.10"), max_daily_loss_try=D("300"), cooldown_s=900)
N, R, O = "NORMAL", "REDUCE_RISK_ONLY", "OBSERVE_ONLY"
DRAWDOWN_ONLY = replace(BASE, max_daily_loss_try=D("5000"))  # a loss of 10 % trips the drawdown alone


def drive(
    limits: RiskLimits,
    equities: list[str],
    inputs: list[RiskInputs] | None = None,
    state: RiskState | None = None,
) -> list[tuple[str, tuple[str, ...]]]:
    """(mode, reasons) decided after each cycle for its closing equity and inputs."""
    state = state or RiskState()
    out = []
    for k, equity in enumerate(equities):
        decision = decide_risk(
            state,
            cycle_ts=T0 + timedelta(minutes=5 * k),
            equity_try=D(equity),
            limits=limits,
            inputs=inputs[k] if inputs else NO_INPUTS,
        )
        out.append((decision.mode.value, decision.reasons))
        state = decision.state
    return out


def until(k: int) -> str:
    return f"cooldown_until:{(T0 + timedelta(minutes=5 * k)).strftime('%Y-%m-%dT%H:%M:%SZ')}"


# -- the drawdown's mode ----------------------------------------------------------------


def test_a_drawdown_trips_observe_only_by_default() -> None:
    assert drive(DRAWDOWN_ONLY, ["10000", "8990"]) == [(N, ()), (O, ("drawdown_limit:breached",))]


def test_a_drawdown_under_reduce_risk_only_trips_reduce_risk_only() -> None:
    limits = replace(BASE, drawdown_mode=Mode.REDUCE_RISK_ONLY)
    assert drive(limits, ["10000", "8990", "9000", "9000", "9000", "10000"]) == [
        (N, ()),
        (R, ("daily_loss_limit:breached", "drawdown_limit:breached")),  # -1010 today, 10.1 %
        (R, ("daily_loss_limit:breached", "drawdown_limit:breached")),  # 10 % still breached
        (R, ("daily_loss_limit:breached", "drawdown_limit:breached")),
        (R, ("daily_loss_limit:breached", "drawdown_limit:breached")),
        (R, ("daily_loss_limit:" + until(7), "drawdown_limit:" + until(7))),  # recovered: cooling down
    ]


def test_a_drawdown_under_reduce_risk_only_lets_exits_through_and_blocks_entries() -> None:
    limits = replace(DRAWDOWN_ONLY, drawdown_mode=Mode.REDUCE_RISK_ONLY)
    state = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=limits).state
    decision = decide_risk(state, cycle_ts=T0 + timedelta(minutes=5), equity_try=D("8990"), limits=limits)
    assert decision.mode is Mode.REDUCE_RISK_ONLY

    # The next cycle plans with that mode: AAA left the universe, BBB is over its target,
    # CCC is new. The exits are planned, the entry is not.
    execution = ExecutionParams(order_offset_bps=D("0"), slippage_bps=D("0"), fees_bps=D("0"))
    plan = build_plan(
        cycle_ts=T0 + timedelta(minutes=10),
        universe=("BBBTRY", "CCCTRY"),
        marks={"AAATRY": D("100"), "BBBTRY": D("100"), "CCCTRY": D("100")},
        cash_try=D("100"),
        holdings={"AAATRY": D("10"), "BBBTRY": D("20")},
        untradable={},
        policy=PolicyParams(try_cash_target=D("100"), max_orders_per_cycle=10, notional_cap_try_per_cycle=D("10000")),
        execution=execution,
        mode=decision.mode,
    )
    assert [(a.symbol, a.side.value, a.reason, a.status.value, a.skip_reason) for a in plan.actions] == [
        ("AAATRY", "SELL", "exit_universe", "PLANNED", None),
        ("BBBTRY", "SELL", "rebalance_down", "PLANNED", None),
        ("CCCTRY", "BUY", "enter_universe", "SKIPPED", "mode_reduce_risk_only"),
    ]
    intents = build_intents(
        cycle_id="c",
        plan=plan,
        rules={
            s: resolve_rules(s, published(s, tick="0.01", min_notional="10"), RulesParams())
            for s in ("AAATRY", "BBBTRY", "CCCTRY")
        },
        holdings={"AAATRY": D("10"), "BBBTRY": D("20")},
        execution=execution,
        mode=decision.mode,
    )
    assert [(i.symbol, i.side.value, i.qty, i.status.value) for i in intents] == [
        ("AAATRY", "SELL", D("10"), "PLANNED"),
        ("BBBTRY", "SELL", D("5.00000000"), "PLANNED"),  # 2000 held, 1500 targeted
    ]


# -- one mode sequence per later input --------------------------------------------------


def test_stale_data_share_sequence() -> None:
    limits = replace(BASE, max_stale_share=D("0.5"))
    shares = ["0", "0.5", "0.25", "0.25", "0.25", "0"]
    steps = drive(limits, ["10000"] * 6, [RiskInputs(stale_share=D(s)) for s in shares])
    assert steps == [
        (N, ()),
        (R, ("stale_data_limit:breached",)),  # half the candidates stale: until 22:20
        (R, ("stale_data_limit:" + until(4),)),
        (R, ("stale_data_limit:" + until(4),)),
        (N, ()),  # 22:20: cooldown over, 25 % < 50 %
        (N, ()),
    ]


def test_stale_data_share_can_trip_observe_only() -> None:
    limits = replace(BASE, max_stale_share=D("0.5"), stale_share_mode=Mode.OBSERVE_ONLY)
    steps = drive(limits, ["10000", "10000"], [RiskInputs(stale_share=D("1")), NO_INPUTS])
    assert steps == [(O, ("stale_data_limit:breached",)), (O, ("stale_data_limit:" + until(3),))]


def test_fee_burn_sequence() -> None:
    # 10 bps of 10000 TRY over the last 3 cycles = 10 TRY of fees
    limits = replace(BASE, max_fee_burn_bps=D("10"), fee_burn_window=3)
    fees = ["0", "5", "4", "2", "0", "0", "0", "0"]  # windows: 0, 5, 9, 11, 6, 2, 0, 0 TRY
    steps = drive(limits, ["10000"] * 8, [RiskInputs(fees_try=D(f)) for f in fees])
    assert steps == [
        (N, ()),
        (N, ()),
        (N, ()),
        (R, ("fee_burn_limit:breached",)),  # 5 + 4 + 2 = 11 bps
        (R, ("fee_burn_limit:" + until(6),)),  # 4 + 2 + 0: 6 bps
        (R, ("fee_burn_limit:" + until(6),)),
        (N, ()),
        (N, ()),
    ]


def test_equity_volatility_sequence() -> None:
    # window 2: judged from the third equity on; returns 0 and 1 % → stdev 0.5 % = 50 bps
    limits = replace(BASE, max_equity_vol_bps=D("50"), equity_vol_window=2)
    steps = drive(limits, ["10000", "10000", "10000", "10100", "10100", "10100", "10100", "10100"])
    assert steps == [
        (N, ()),  # one equity: too few to judge
        (N, ()),  # one return of two
        (N, ()),  # returns 0, 0
        (R, ("equity_vol_limit:breached",)),  # returns 0, 1 %: 50 bps
        (R, ("equity_vol_limit:breached",)),  # returns 1 %, 0: 50 bps again, until 22:35
        (R, ("equity_vol_limit:" + until(7),)),
        (R, ("equity_vol_limit:" + until(7),)),
        (N, ()),
    ]


def test_losing_cycles_sequence() -> None:
    limits = replace(BASE, max_losing_cycles=3)
    steps = drive(limits, ["10000", "9990", "9980", "9970", "9970", "9960", "9950", "9940"])
    assert steps == [
        (N, ()),
        (N, ()),  # 1 losing cycle
        (N, ()),  # 2
        (R, ("losing_cycles_limit:breached",)),  # 3 in a row
        (R, ("losing_cycles_limit:" + until(6),)),  # flat: the run ends
        (R, ("losing_cycles_limit:" + until(6),)),  # 1
        (N, ()),  # 2, cooldown over
        (R, ("losing_cycles_limit:breached",)),  # 3 again
    ]


def test_every_limit_in_one_decision_keeps_a_fixed_order() -> None:
    limits = replace(
        BASE,
        max_stale_share=D("0.1"),
        max_fee_burn_bps=D("1"),
        max_losing_cycles=1,
        drawdown_mode=Mode.REDUCE_RISK_ONLY,
    )
    steps = drive(limits, ["10000", "8000"], [NO_INPUTS, RiskInputs(fees_try=D("5"), stale_share=D("0.2"))])
    assert steps[1] == (
        R,
        (
            "daily_loss_limit:breached",
            "drawdown_limit:breached",
            "stale_data_limit:breached",
            "fee_burn_limit:breached",
            "losing_cycles_limit:breached",
        ),
    )


# -- the auto kill switch ----------------------------------------------------------------


def test_the_auto_kill_switch_freezes_until_an_operator_clear() -> None:
    limits = replace(DRAWDOWN_ONLY, auto_kill_switch=True)
    state = RiskState()
    modes = []
    for k, equity in enumerate(["10000", "8990", "10000", "10000", "10000", "10000"]):
        decision = decide_risk(state, cycle_ts=T0 + timedelta(minutes=5 * k), equity_try=D(equity), limits=limits)
        modes.append((decision.mode.value, decision.reasons))
        state = decision.state
    assert modes == [
        (N, ()),
        (O, ("auto_kill_switch:drawdown_limit", "drawdown_limit:breached")),
        (O, ("auto_kill_switch:drawdown_limit", "drawdown_limit:" + until(4))),
        (O, ("auto_kill_switch:drawdown_limit", "drawdown_limit:" + until(4))),
        (O, ("auto_kill_switch:drawdown_limit",)),  # the cooldown is over, the freeze is not
        (O, ("auto_kill_switch:drawdown_limit",)),
    ]
    assert state.reasons == ("risk:auto_kill_switch:drawdown_limit",)
    cleared = apply_clear(state, RiskClear("clr-9", "reviewed"))
    assert (cleared.mode, cleared.auto_kill) == (Mode.NORMAL, None)
    after = decide_risk(cleared, cycle_ts=T0 + timedelta(minutes=30), equity_try=D("10000"), limits=limits)
    assert (after.mode, after.reasons) == (Mode.NORMAL, ())


def test_the_auto_kill_switch_ignores_a_breach_that_only_reduces() -> None:
    limits = replace(BASE, auto_kill_switch=True, drawdown_mode=Mode.REDUCE_RISK_ONLY)
    steps = drive(limits, ["10000", "9700"])  # the daily loss: REDUCE_RISK_ONLY
    assert steps[1] == (R, ("daily_loss_limit:breached",))


# -- defaults, state, hashes ---------------------------------------------------------------


def test_the_inputs_change_nothing_while_their_limits_are_unset() -> None:
    busy = [RiskInputs(fees_try=D("900"), stale_share=D("1"), ordered=("AAATRY:BUY",))] * 4
    assert drive(BASE, ["10000", "9990", "9980", "9970"], busy) == drive(BASE, ["10000", "9990", "9980", "9970"])


def test_a_default_decision_keeps_the_hash_and_state_bytes_of_books_before_the_later_limits() -> None:
    # values recorded by the risk budget before issue 18
    state = RiskState()
    hashes = []
    for k, equity in enumerate(["10000", "9700", "8900", "9000"]):
        decision = decide_risk(
            state, cycle_ts=T0 + timedelta(minutes=5 * k), equity_try=D(equity), limits=BASE, inputs=NO_INPUTS
        )
        hashes.append(decision.inputs_hash)
        state = decision.state
    assert hashes == ["0cf5573bce118621", "fe72ec3bdb2d7af5", "bcd1f81df7856385", "bdb26b24fcde20b9"]
    assert dumps(risk_state_payload(state)) == (
        '{"day":"2026-01-01","day_start_equity_try":"10000",'
        '"last_equity_try":"9000","latches":{"daily_loss_limit":"2026-01-01T22:30:00+00:00",'
        '"drawdown_limit":"2026-01-01T22:30:00+00:00"},"mode":"OBSERVE_ONLY","peak_equity_try":"10000",'
        '"reasons":["risk:daily_loss_limit:breached","risk:drawdown_limit:breached"]}'
    )
    assert limits_text(BASE) == "0.10|300|900"


def test_a_set_limit_enters_the_limits_text_and_the_hash() -> None:
    limits = replace(BASE, max_fee_burn_bps=D("10"))
    assert limits_text(limits) == "0.10|300|900|max_fee_burn_bps=10"
    a = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=limits)
    b = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=limits, inputs=RiskInputs(fees_try=D("1")))
    c = decide_risk(RiskState(), cycle_ts=T0, equity_try=D("10000"), limits=BASE)
    assert len({a.inputs_hash, b.inputs_hash, c.inputs_hash}) == 3


def test_the_later_state_is_stored_only_while_in_use_and_round_trips() -> None:
    limits = replace(
        BASE, max_fee_burn_bps=D("10"), max_equity_vol_bps=D("50"), max_losing_cycles=5, order_cooldown_s=60
    )
    state = RiskState()
    for k, (equity, fees) in enumerate([("10000", "1"), ("9990", "2")]):
        inputs = RiskInputs(fees_try=D(fees), ordered=("AAATRY:BUY",))
        state = decide_risk(
            state, cycle_ts=T0 + timedelta(minutes=5 * k), equity_try=D(equity), limits=limits, inputs=inputs
        ).state
    payload = risk_state_payload(state)
    assert {k: payload[k] for k in ("fee_window", "equity_window", "losing_cycles", "last_orders")} == {
        "fee_window": ["1", "2"],
        "equity_window": ["10000", "9990"],
        "losing_cycles": 1,
        "last_orders": {"AAATRY:BUY": "2026-01-01T22:05:00Z"},
    }
    assert "auto_kill" not in payload
    assert risk_state_from_payload(payload) == state
    assert risk_state_from_payload(risk_state_payload(RiskState())) == RiskState()


def test_last_orders_keep_only_what_a_cooldown_can_still_hold_back() -> None:
    limits = replace(BASE, order_cooldown_s=600)  # two cycles
    state = RiskState()
    seen = []
    for k, ordered in enumerate([("AAATRY:BUY",), ("BBBTRY:SELL",), (), ()]):
        state = decide_risk(
            state,
            cycle_ts=T0 + timedelta(minutes=5 * k),
            equity_try=D("10000"),
            limits=limits,
            inputs=RiskInputs(ordered=ordered),
        ).state
        seen.append(sorted(state.last_orders))
    assert seen == [["AAATRY:BUY"], ["AAATRY:BUY", "BBBTRY:SELL"], ["BBBTRY:SELL"], []]


def test_a_clear_restarts_the_windows() -> None:
    limits = replace(BASE, max_fee_burn_bps=D("10"), max_losing_cycles=2)
    state = decide_risk(
        RiskState(last_equity_try=D("10001")),
        cycle_ts=T0,
        equity_try=D("10000"),
        limits=limits,
        inputs=RiskInputs(fees_try=D("3")),
    ).state
    assert (state.fee_window, state.losing_cycles) == ((D("3"),), 1)
    cleared = apply_clear(state, RiskClear("c", "ok"))
    assert (cleared.fee_window, cleared.equity_window, cleared.losing_cycles) == ((), (), 0)


# -- measures ------------------------------------------------------------------------------


def test_the_measures() -> None:
    assert fee_burn_bps((D("5"), D("4")), D("10000")) == D("9")
    assert fee_burn_bps((), D("10000")) == D("0")
    assert fee_burn_bps((D("1"),), D("0")) == D("10000")  # no equity left: a full burn
    # returns 1 % and -0.0099 %: half their difference, (0.01 + 1/10100) / 2 = 50.4950… bps
    vol = equity_vol_bps((D("100"), D("101"), D("100.99")))
    assert vol == D("50.4950495049504950495049504950495049504950495049504950495050")
    assert equity_vol_bps((D("100"),)) == D("0")
    assert equity_vol_bps((D("0"), D("5"), D("5"))) == D("0")  # a return after 0 counts as 0


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"drawdown_mode": Mode.NORMAL}, "risk limit drawdown_mode must be REDUCE_RISK_ONLY or OBSERVE_ONLY"),
        ({"fee_burn_mode": Mode.NORMAL}, "risk limit fee_burn_mode must be REDUCE_RISK_ONLY or OBSERVE_ONLY"),
        ({"max_stale_share": D("0")}, "risk limit max_stale_share must be in (0, 1]"),
        ({"max_stale_share": D("1.01")}, "risk limit max_stale_share must be in (0, 1]"),
        ({"max_fee_burn_bps": D("0")}, "risk limit max_fee_burn_bps must be above 0"),
        ({"fee_burn_window": 0}, "risk limit fee_burn_window must be at least 1"),
        ({"max_equity_vol_bps": D("-1")}, "risk limit max_equity_vol_bps must be above 0"),
        ({"equity_vol_window": 1}, "risk limit equity_vol_window must be at least 2"),
        ({"max_losing_cycles": 0}, "risk limit max_losing_cycles must be at least 1"),
        ({"order_cooldown_s": -1}, "risk limit order_cooldown_s must be at least 0"),
        ({"min_profit_bps": D("-1")}, "risk limit min_profit_bps must be at least 0"),
    ],
)
def test_limits_out_of_range_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        replace(BASE, **changes)  # type: ignore[arg-type]


def test_later_limits_enter_active_params_only_when_set() -> None:
    assert _WHEN_SET == WHEN_SET
    assert CycleParams().as_dict()["risk"] == {
        "max_drawdown_pct": "0.25",
        "max_daily_loss_try": "500",
        "cooldown_s": 900,
    }
    params = CycleParams(
        risk=RiskLimits(drawdown_mode=Mode.REDUCE_RISK_ONLY, max_losing_cycles=4, min_profit_bps=D("30"))
    )
    assert params.as_dict()["risk"] == {
        "max_drawdown_pct": "0.25",
        "max_daily_loss_try": "500",
        "cooldown_s": 900,
        "drawdown_mode": "REDUCE_RISK_ONLY",
        "max_losing_cycles": 4,
        "min_profit_bps": "30",
    }


# -- risk_inputs: what a cycle gives the budget ----------------------------------------------


def _intent(symbol: str, side: Side, status: IntentStatus) -> OrderIntent:
    return OrderIntent(
        cycle_id="c",
        cycle_ts=T0,
        client_order_id=f"s7:c:{symbol}:{side.value}:x",
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        price_try=D("1"),
        qty=D("1"),
        notional_try=D("1"),
        mark_price_try=D("1"),
        status=status,
        reason="rebalance_up",
        skip_reason=None if status is IntentStatus.PLANNED else "min_notional",
        rules_status="ok",
    )


def _metrics(fees: str) -> LedgerMetrics:
    z = D("0")
    return LedgerMetrics("c", T0, z, z, z, D(fees), z, z, D("1000"), D("1000"), z, z, z, D("1000"))


def test_risk_inputs_reads_fees_stale_share_and_orders() -> None:
    snapshot = MarketSnapshot(
        T0,
        symbols=(
            SymbolSnapshot("AAATRY"),
            SymbolSnapshot("BBBTRY", skip_reason="stale_data"),
            SymbolSnapshot("CCCTRY", skip_reason="no_data"),
            SymbolSnapshot("DDDTRY"),
        ),
    )
    previous = LedgerState(start_capital_try=D("1000"), cash_try=D("1000"), fees_try=D("1.5"))
    intents = [
        _intent("AAATRY", Side.SELL, IntentStatus.PLANNED),
        _intent("DDDTRY", Side.BUY, IntentStatus.SKIPPED),
        _intent("DDDTRY", Side.BUY, IntentStatus.PLANNED),
    ]
    assert risk_inputs(snapshot, _metrics("2.25"), previous, intents) == RiskInputs(
        fees_try=D("0.75"), stale_share=D("0.25"), ordered=("AAATRY:SELL", "DDDTRY:BUY")
    )


def test_a_quiet_cycle_gives_the_shared_no_inputs() -> None:
    previous = LedgerState(start_capital_try=D("1000"), cash_try=D("1000"), fees_try=D("1.5"))
    assert risk_inputs(MarketSnapshot(T0), _metrics("1.5"), previous) is NO_INPUTS
    assert stale_share(MarketSnapshot(T0)) == D("0")
