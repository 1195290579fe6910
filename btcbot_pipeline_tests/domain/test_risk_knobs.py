"""The original's Stage 3/4 knobs on a plan (issue 18): COOLDOWN_SECONDS holds back an
order of a symbol and side placed too recently, MIN_PROFIT_BPS a SELL below the average
cost plus fees, slippage and the profit; both off by default, where the plan is untouched."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from btcbot_pipeline.domain.knobs import (
    apply_cooldown,
    apply_knobs,
    apply_min_profit,
    cooldown_skip,
    min_profit_skip,
    required_sell_price,
)
from btcbot_pipeline.domain.ledger import Holding
from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams
from btcbot_pipeline.domain.plan import PortfolioPlan, build_plan
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.vocabulary import Mode, Side

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
# fees 20 bps, slippage 25 bps, offset 5 bps: a SELL is priced at mark × 1.0005
EXECUTION = ExecutionParams(order_offset_bps=D("5"), slippage_bps=D("25"), fees_bps=D("20"))
POLICY = PolicyParams(try_cash_target=D("100"), max_orders_per_cycle=10, notional_cap_try_per_cycle=D("100000"))


def a_plan(mode: Mode = Mode.NORMAL, now: datetime = T0) -> PortfolioPlan:
    """AAA left the universe (full exit of 10), BBB is over its target (sell 5), CCC is new (buy)."""
    return build_plan(
        cycle_ts=now,
        universe=("BBBTRY", "CCCTRY"),
        marks={"AAATRY": D("100"), "BBBTRY": D("100"), "CCCTRY": D("100")},
        cash_try=D("100"),
        holdings={"AAATRY": D("10"), "BBBTRY": D("20")},
        untradable={},
        policy=POLICY,
        execution=EXECUTION,
        mode=mode,
    )


def rows(plan: PortfolioPlan) -> list[tuple[str, str, str, str | None, D, D]]:
    return [(a.symbol, a.side.value, a.status.value, a.skip_reason, a.notional_try, a.est_qty) for a in plan.actions]


def test_the_plan_under_test() -> None:
    assert rows(a_plan()) == [
        ("AAATRY", "SELL", "PLANNED", None, D("1000.00"), D("10")),
        ("BBBTRY", "SELL", "PLANNED", None, D("500.00"), D("5")),
        ("CCCTRY", "BUY", "PLANNED", None, D("1485.81"), D("14.8581")),  # cut to the cash after costs
    ]


# -- COOLDOWN_SECONDS -----------------------------------------------------------------------


def test_cooldown_holds_back_the_same_symbol_and_side_for_its_seconds() -> None:
    last = {"BBBTRY:SELL": T0, "CCCTRY:SELL": T0}  # a SELL of CCC does not hold back its BUY
    cooling = [cooldown_skip("BBBTRY", Side.SELL, last, T0 + timedelta(seconds=s), 600) for s in (0, 300, 599, 600)]
    assert cooling == ["cooldown", "cooldown", "cooldown", None]
    assert cooldown_skip("CCCTRY", Side.BUY, last, T0, 600) is None
    assert cooldown_skip("BBBTRY", Side.SELL, last, T0, 0) is None  # 0: off


def test_cooldown_sequence_over_three_cycles() -> None:
    # BBB sold at 12:00; COOLDOWN_SECONDS=600: held back at 12:05, free again at 12:10
    last = {"BBBTRY:SELL": T0}
    seen = []
    for minutes in (5, 10):
        plan = a_plan(now=T0 + timedelta(minutes=minutes))
        seen.append(
            [(a.symbol, a.status.value, a.skip_reason) for a in apply_cooldown(plan.actions, last, plan.cycle_ts, 600)]
        )
    assert seen == [
        [("AAATRY", "PLANNED", None), ("BBBTRY", "SKIPPED", "cooldown"), ("CCCTRY", "PLANNED", None)],
        [("AAATRY", "PLANNED", None), ("BBBTRY", "PLANNED", None), ("CCCTRY", "PLANNED", None)],
    ]


def test_a_held_back_action_shows_what_it_wanted() -> None:
    plan = a_plan()
    held = apply_cooldown(plan.actions, {"AAATRY:SELL": T0, "CCCTRY:BUY": T0}, T0, 60)
    assert [(a.symbol, a.status.value, a.skip_reason, a.notional_try, a.est_qty, a.full_exit) for a in held] == [
        ("AAATRY", "SKIPPED", "cooldown", D("1000.00"), D("10"), True),  # the whole holding
        ("BBBTRY", "PLANNED", None, D("500.00"), D("5"), False),
        ("CCCTRY", "SKIPPED", "cooldown", D("1500.00"), D("15"), False),
    ]


# -- MIN_PROFIT_BPS -------------------------------------------------------------------------


def test_the_required_price_adds_fees_slippage_and_profit_to_the_average_cost() -> None:
    # 100 × (1 + (20 + 25 + 30) / 10 000)
    assert required_sell_price(D("100"), D("30"), D("20"), D("25")) == D("100.7500")


def test_min_profit_holds_back_a_sell_below_the_required_price() -> None:
    held = Holding(qty=D("10"), cost_try=D("1000"))  # average cost 100
    checks = [
        min_profit_skip(Side.SELL, D(limit), held, D("30"), D("20"), D("25")) for limit in ("100.74", "100.75", "101")
    ]
    assert checks == ["min_profit_threshold", None, None]
    assert min_profit_skip(Side.BUY, D("1"), held, D("30"), D("20"), D("25")) is None
    assert min_profit_skip(Side.SELL, D("1"), None, D("30"), D("20"), D("25")) is None  # nothing held
    assert min_profit_skip(Side.SELL, D("1"), held, None, D("20"), D("25")) is None  # off
    # MIN_PROFIT_BPS=0 still asks for fees and slippage back
    assert min_profit_skip(Side.SELL, D("100.44"), held, D("0"), D("20"), D("25")) == "min_profit_threshold"


def test_min_profit_on_a_plan_compares_the_sell_limit() -> None:
    # SELL limit = 100 × 1.0005 = 100.05. AAA cost 99.00 → needs 99.7425: sold.
    # BBB cost 99.40 → needs 100.1455: held back. The BUY is never held back.
    holdings = {"AAATRY": Holding(D("10"), D("990")), "BBBTRY": Holding(D("20"), D("1988"))}
    plan = a_plan()
    out = apply_min_profit(plan.actions, holdings, min_profit_bps=D("30"), execution=EXECUTION, mode=Mode.NORMAL)
    assert [(a.symbol, a.status.value, a.skip_reason) for a in out] == [
        ("AAATRY", "PLANNED", None),
        ("BBBTRY", "SKIPPED", "min_profit_threshold"),
        ("CCCTRY", "PLANNED", None),
    ]


def test_min_profit_lets_a_reduce_risk_only_cycle_sell_at_a_loss() -> None:
    holdings = {"AAATRY": Holding(D("10"), D("2000")), "BBBTRY": Holding(D("20"), D("4000"))}  # cost 200
    plan = a_plan(Mode.REDUCE_RISK_ONLY)
    out = apply_min_profit(plan.actions, holdings, min_profit_bps=D("30"), execution=EXECUTION, mode=plan.mode)
    assert [(a.symbol, a.side.value, a.status.value, a.skip_reason) for a in out] == [
        ("AAATRY", "SELL", "PLANNED", None),
        ("BBBTRY", "SELL", "PLANNED", None),
        ("CCCTRY", "BUY", "SKIPPED", "mode_reduce_risk_only"),
    ]


# -- both, on the plan ---------------------------------------------------------------------


def test_apply_knobs_runs_the_cooldown_then_the_profit_threshold() -> None:
    limits = RiskLimits(order_cooldown_s=600, min_profit_bps=D("30"))
    holdings = {"AAATRY": Holding(D("10"), D("990")), "BBBTRY": Holding(D("20"), D("1988"))}
    plan = apply_knobs(a_plan(), limits, holdings=holdings, last_orders={"AAATRY:SELL": T0}, execution=EXECUTION)
    assert rows(plan) == [
        ("AAATRY", "SELL", "SKIPPED", "cooldown", D("1000.00"), D("10")),
        ("BBBTRY", "SELL", "SKIPPED", "min_profit_threshold", D("500.00"), D("5")),
        ("CCCTRY", "BUY", "PLANNED", None, D("1485.81"), D("14.8581")),  # cut to the cash after costs
    ]
    assert [a.symbol for a in plan.planned] == ["CCCTRY"]


def test_apply_knobs_leaves_the_plan_alone_while_off_or_holding_nothing_back() -> None:
    plan = a_plan()
    holdings = {"AAATRY": Holding(D("10"), D("10")), "BBBTRY": Holding(D("20"), D("20"))}  # cost 1: all profitable
    assert (
        apply_knobs(plan, RiskLimits(), holdings=holdings, last_orders={"AAATRY:SELL": T0}, execution=EXECUTION) is plan
    )
    on = replace(RiskLimits(), order_cooldown_s=60, min_profit_bps=D("30"))
    assert apply_knobs(plan, on, holdings=holdings, last_orders={}, execution=EXECUTION) is plan
