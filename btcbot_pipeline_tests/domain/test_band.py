"""The rebalance band (``STAGE7_REBALANCE_BAND_BPS``): a held position whose weight is within
the band of its target weight is left alone (``within_band``); one outside trades back to
the target. Band 0 is the seeds' plan.

The book (execution costs zero, cash target 100, minimum order 10 TRY, tick 0.01):
equity = 135 cash + AAATRY 3.5 × 100 + BBBTRY 1.15 × 200 + CCCTRY 5.7 × 50 = 1000,
investable 900, so each symbol targets 300 (weight 0.3):

- AAATRY 350: 50 over target, 500 bps of equity → SELL 50 at any band up to 500;
- BBBTRY 230: 70 under, 700 bps → BUY 70;
- CCCTRY 285: 15 under, 150 bps → BUY 15 at band 0, left alone at band 200.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.exchange_rules import resolve_rules
from btcbot_pipeline.domain.intents import build_intents
from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams, RulesParams
from btcbot_pipeline.domain.plan import PortfolioPlan, build_plan
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.testing.builders import CYCLE_TS, rules

CYCLE_ID = "20260101T003000Z"
FREE = ExecutionParams(order_offset_bps=D("0"), slippage_bps=D("0"), fees_bps=D("0"))
MARKS = {"AAATRY": D("100"), "BBBTRY": D("200"), "CCCTRY": D("50")}
BOOK = {"AAATRY": D("3.5"), "BBBTRY": D("1.15"), "CCCTRY": D("5.7")}
RULES = {s: resolve_rules(s, rules(s, tick="0.01", min_notional="10", quantity_scale=8), RulesParams()) for s in MARKS}
P, S = "PLANNED", "SKIPPED"


def policy(band_bps: str) -> PolicyParams:
    return PolicyParams(
        try_cash_target=D("100"),
        try_cash_max=D("600"),
        notional_cap_try_per_cycle=D("100000"),
        max_orders_per_cycle=10,
        min_order_notional_try=D("10"),
        rebalance_band_bps=D(band_bps),
    )


def plan(
    band_bps: str,
    *,
    universe: tuple[str, ...] = ("AAATRY", "BBBTRY", "CCCTRY"),
    cash: str = "135",
    holdings: dict[str, D] | None = None,
    mode: Mode = Mode.NORMAL,
) -> PortfolioPlan:
    return build_plan(
        cycle_ts=CYCLE_TS,
        universe=universe,
        marks=MARKS,
        cash_try=D(cash),
        holdings=BOOK if holdings is None else holdings,
        untradable={},
        policy=policy(band_bps),
        execution=FREE,
        mode=mode,
    )


def actions(p: PortfolioPlan) -> list[tuple[str, str, D, D, str, str, str | None]]:
    return [
        (a.symbol, a.side.value, a.notional_try, a.est_qty, a.reason, a.status.value, a.skip_reason) for a in p.actions
    ]


def intents(p: PortfolioPlan) -> list[tuple[str, str, str, D | None, D | None, str]]:
    out = build_intents(cycle_id=CYCLE_ID, plan=p, rules=RULES, holdings=BOOK, execution=FREE, mode=Mode.NORMAL)
    return [(i.client_order_id, i.symbol, i.side.value, i.price_try, i.qty, i.status.value) for i in out]


def test_band_0_trades_every_drift_to_its_target() -> None:
    p = plan("0")
    assert (p.equity_try, p.cash_target_try, p.investable_try) == (D("1000"), D("100"), D("900"))
    assert [a.target_notional_try for a in p.allocations] == [D("300")] * 3
    assert actions(p) == [
        ("AAATRY", "SELL", D("50"), D("0.5"), "rebalance_down", P, None),
        ("BBBTRY", "BUY", D("70"), D("0.35"), "rebalance_up", P, None),
        ("CCCTRY", "BUY", D("15"), D("0.3"), "rebalance_up", P, None),
    ]
    assert intents(p) == [
        ("s7:20260101T003000Z:AAATRY:SELL:f9d7cb09b7a1", "AAATRY", "SELL", D("100.00"), D("0.50000000"), P),
        ("s7:20260101T003000Z:BBBTRY:BUY:69fca3e9d916", "BBBTRY", "BUY", D("200.00"), D("0.35000000"), P),
        ("s7:20260101T003000Z:CCCTRY:BUY:52820ea4738f", "CCCTRY", "BUY", D("50.00"), D("0.30000000"), P),
    ]


def test_band_200_leaves_the_position_within_it_alone_and_trades_the_others_to_target() -> None:
    p = plan("200")
    assert actions(p) == [
        ("AAATRY", "SELL", D("50"), D("0.5"), "rebalance_down", P, None),  # 500 bps out: all the way to 300
        ("BBBTRY", "BUY", D("70"), D("0.35"), "rebalance_up", P, None),  # 700 bps out: to 300, not to 280
        ("CCCTRY", "BUY", D("15"), D("0.3"), "rebalance_up", S, "within_band"),  # 150 bps: left alone
    ]
    # the same orders as at band 0 for AAATRY and BBBTRY (same ids), none for CCCTRY
    assert intents(p) == [
        ("s7:20260101T003000Z:AAATRY:SELL:f9d7cb09b7a1", "AAATRY", "SELL", D("100.00"), D("0.50000000"), P),
        ("s7:20260101T003000Z:BBBTRY:BUY:69fca3e9d916", "BBBTRY", "BUY", D("200.00"), D("0.35000000"), P),
    ]


@pytest.mark.parametrize(
    ("band", "skips"),
    [
        ("149", [None, None, None]),  # CCCTRY's 150 bps is outside
        ("150", [None, None, "within_band"]),  # the edge is inside
        ("500", ["within_band", None, "within_band"]),  # AAATRY's 500 bps too
        ("700", ["within_band", "within_band", "within_band"]),  # nothing trades
    ],
)
def test_the_band_is_weight_distance_in_bps_of_equity_edge_included(band: str, skips: list[str | None]) -> None:
    assert [a.skip_reason for a in plan(band).actions] == skips


def test_an_in_band_skip_takes_no_order_slot_turnover_or_cash() -> None:
    # AAATRY's SELL is in band at 500: BBBTRY's BUY is paid from cash alone (35 of 70)
    p = plan("500")
    assert [(a.symbol, a.notional_try, a.status.value, a.skip_reason) for a in p.actions] == [
        ("AAATRY", D("50"), S, "within_band"),
        ("BBBTRY", D("35"), P, None),
        ("CCCTRY", D("15"), S, "within_band"),
    ]


def test_entering_and_leaving_the_universe_ignore_the_band() -> None:
    # equity 340 + AAATRY 310 + XXXTRY 50 = 700, targets (700 - 100) / 2 = 300. At a band of
    # 9000 bps every distance here is inside it, yet only AAATRY's drift is left alone:
    # XXXTRY leaves the universe in full and CCCTRY (not held) enters
    p = build_plan(
        cycle_ts=CYCLE_TS,
        universe=("AAATRY", "CCCTRY"),
        marks={**MARKS, "XXXTRY": D("100")},
        cash_try=D("340"),
        holdings={"AAATRY": D("3.1"), "XXXTRY": D("0.5")},
        untradable={},
        policy=policy("9000"),
        execution=FREE,
        mode=Mode.NORMAL,
    )
    assert (p.equity_try, [a.target_notional_try for a in p.allocations]) == (D("700"), [D("300"), D("300"), D("0")])
    assert actions(p) == [
        ("XXXTRY", "SELL", D("50"), D("0.5"), "exit_universe", P, None),
        ("AAATRY", "SELL", D("10"), D("0.1"), "rebalance_down", S, "within_band"),
        ("CCCTRY", "BUY", D("290"), D("5.8"), "enter_universe", P, None),  # cash 240 over target + 50 of XXXTRY
    ]


def test_within_band_comes_before_the_mode() -> None:
    p = plan("200", mode=Mode.OBSERVE_ONLY)
    assert [a.skip_reason for a in p.actions] == ["observe_only", "observe_only", "within_band"]


def test_band_0_is_exactly_the_plan_without_a_band() -> None:
    base = build_plan(
        cycle_ts=CYCLE_TS,
        universe=("AAATRY", "BBBTRY", "CCCTRY"),
        marks=MARKS,
        cash_try=D("135"),
        holdings=BOOK,
        untradable={},
        policy=PolicyParams(
            try_cash_target=D("100"),
            try_cash_max=D("600"),
            notional_cap_try_per_cycle=D("100000"),
            max_orders_per_cycle=10,
            min_order_notional_try=D("10"),
        ),
        execution=FREE,
        mode=Mode.NORMAL,
    )
    assert plan("0") == base
