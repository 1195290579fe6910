"""Portfolio Policy v1 (seed PR-3): targets, SELL-first allocation, skip reasons, mode gating.

Unless a test says otherwise, execution costs are zero (a BUY of N TRY costs exactly N) and
the policy is loose (cash target 100, max 600, per-symbol max 5000, cap 100000, 10 orders,
min 10), so each test states only the constraint it exercises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams
from btcbot_pipeline.domain.plan import Allocation, PortfolioPlan, build_plan
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.testing.builders import CYCLE_TS

FREE = ExecutionParams(order_offset_bps=D("0"), slippage_bps=D("0"), fees_bps=D("0"))
LOOSE = PolicyParams(
    try_cash_target=D("100"),
    try_cash_max=D("600"),
    max_position_notional_try=D("5000"),
    notional_cap_try_per_cycle=D("100000"),
    max_orders_per_cycle=10,
    min_order_notional_try=D("10"),
)
CASH_ABOVE_MAX = "cash_above_max: per-symbol caps or a small universe leave cash above TRY_CASH_MAX"
P, S = "PLANNED", "SKIPPED"


def plan(
    *,
    universe: Sequence[str] = ("AAATRY",),
    marks: Mapping[str, str] | None = None,
    cash: str = "1000",
    holdings: Mapping[str, str] | None = None,
    untradable: Mapping[str, str] | None = None,
    policy: PolicyParams = LOOSE,
    execution: ExecutionParams = FREE,
    mode: Mode = Mode.NORMAL,
    **policy_overrides: object,
) -> PortfolioPlan:
    if policy_overrides:
        fields = {f: getattr(policy, f) for f in PolicyParams.__dataclass_fields__}
        policy = PolicyParams(**{**fields, **policy_overrides})  # type: ignore[arg-type]
    return build_plan(
        cycle_ts=CYCLE_TS,
        universe=tuple(universe),
        marks={s: D(m) for s, m in (marks or {"AAATRY": "100"}).items()},
        cash_try=D(cash),
        holdings={s: D(q) for s, q in (holdings or {}).items()},
        untradable=dict(untradable or {}),
        policy=policy,
        execution=execution,
        mode=mode,
    )


def table(p: PortfolioPlan) -> list[tuple[str, str, D, str, str | None]]:
    return [(a.symbol, a.side.value, a.notional_try, a.status.value, a.skip_reason) for a in p.actions]


# One held symbol outside the universe (XXXTRY, 2 × 100 = 200) and one BUY candidate.
# cash 800 + 200 = equity 1000; cash target 300 → investable 700 → AAATRY targets 700.
EXIT_AND_ENTER = dict(
    universe=("AAATRY",),
    marks={"AAATRY": "100", "XXXTRY": "100"},
    cash="800",
    holdings={"XXXTRY": "2"},
    try_cash_target=D("300"),
)


@pytest.mark.parametrize(
    ("target", "cash_max", "equity", "cash_target", "investable"),
    [
        ("300", "600", "1000", "300", "700"),  # min(300, 600, 1000) = 300
        ("800", "600", "1000", "600", "400"),  # TRY_CASH_MAX bounds the target
        ("300", "600", "200", "200", "0"),  # equity below the target: all cash
        ("0", "600", "1000", "0", "1000"),  # no buffer
    ],
)
def test_cash_target_is_min_of_target_max_and_equity(
    target: str, cash_max: str, equity: str, cash_target: str, investable: str
) -> None:
    p = plan(cash=equity, try_cash_target=D(target), try_cash_max=D(cash_max))
    assert (p.equity_try, p.cash_target_try, p.investable_try) == (
        D(equity),
        D(cash_target),
        D(investable),
    )


def test_equal_weights_over_the_universe() -> None:
    # equity 1000, cash target 100 → investable 900 → 300 each, weight 300 / 1000 = 0.3
    p = plan(
        universe=("AAATRY", "BBBTRY", "CCCTRY"),
        marks={"AAATRY": "100", "BBBTRY": "200", "CCCTRY": "50"},
    )
    assert p.allocations == (
        Allocation("AAATRY", D("0.3"), D("300"), D("0")),
        Allocation("BBBTRY", D("0.3"), D("300"), D("0")),
        Allocation("CCCTRY", D("0.3"), D("300"), D("0")),
    )
    assert table(p) == [
        ("AAATRY", "BUY", D("300"), P, None),
        ("BBBTRY", "BUY", D("300"), P, None),
        ("CCCTRY", "BUY", D("300"), P, None),
    ]
    # est qty = notional / mark: 300/100, 300/200, 300/50
    assert [a.est_qty for a in p.actions] == [D("3"), D("1.5"), D("6")]
    assert [a.reason for a in p.actions] == ["enter_universe"] * 3
    assert p.notes == ()


@pytest.mark.parametrize(
    ("name", "max_position", "target", "notes"),
    [
        # 300 each is within 5000: no clip; implied cash 1000 - 900 = 100
        ("no_clip", "5000", "300", ()),
        # clipped to 200: implied cash 1000 - 600 = 400 ≤ TRY_CASH_MAX 600
        ("clip_within_max", "200", "200", ()),
        # clipped to 100: implied cash 1000 - 300 = 700 > 600 → leftover goes to cash, noted
        ("clip_above_max", "100", "100", (CASH_ABOVE_MAX,)),
    ],
)
def test_per_symbol_clip_sends_leftover_to_cash(
    name: str, max_position: str, target: str, notes: tuple[str, ...]
) -> None:
    p = plan(
        universe=("AAATRY", "BBBTRY", "CCCTRY"),
        marks={"AAATRY": "100", "BBBTRY": "200", "CCCTRY": "50"},
        max_position_notional_try=D(max_position),
    )
    assert [a.target_notional_try for a in p.allocations] == [D(target)] * 3
    assert [a.notional_try for a in p.actions] == [D(target)] * 3
    assert p.notes == notes


def test_held_symbols_outside_the_universe_exit_in_full() -> None:
    # cash 500 + AAA 15 × 100 + XXX 0.123456789 × 1000 = 2123.456789
    # AAA target clipped to 1000, holds 1500 → SELL 500 (rebalance_down, qty 500 / 100 = 5)
    # XXX outside the universe → SELL floor_cent(123.456789) = 123.45, but the whole holding
    # sells largest first: AAA 500, then XXX 123.45
    p = plan(
        marks={"AAATRY": "100", "XXXTRY": "1000"},
        cash="500",
        holdings={"AAATRY": "15", "XXXTRY": "0.123456789"},
        max_position_notional_try=D("1000"),
    )
    assert table(p) == [
        ("AAATRY", "SELL", D("500"), P, None),
        ("XXXTRY", "SELL", D("123.45"), P, None),
    ]
    assert [(a.reason, a.full_exit, a.est_qty) for a in p.actions] == [
        ("rebalance_down", False, D("5")),
        ("exit_universe", True, D("0.123456789")),
    ]
    assert p.allocations[1] == Allocation("XXXTRY", D("0"), D("0"), D("123.456789"))
    # implied cash 2123.456789 - 1000 > 600
    assert p.notes == (CASH_ABOVE_MAX,)


def test_sell_first_holds_during_turnover_allocation() -> None:
    # cap 300. SELL XXX 200 is allocated first, leaving 100 for the BUY (clipped from 700).
    # BUY-first would have spent all 300 on AAA and skipped the exit with turnover_cap.
    p = plan(**EXIT_AND_ENTER, notional_cap_try_per_cycle=D("300"))  # type: ignore[arg-type]
    assert table(p) == [
        ("XXXTRY", "SELL", D("200"), P, None),
        ("AAATRY", "BUY", D("100"), P, None),
    ]
    assert p.actions[1].desired_notional_try == D("700")


def test_sell_first_holds_during_max_order_selection() -> None:
    # one order slot: it goes to the SELL although AAA comes first in the universe; the
    # skipped BUY keeps the 700 it wanted (7 at 100)
    p = plan(**EXIT_AND_ENTER, max_orders_per_cycle=1)  # type: ignore[arg-type]
    assert table(p) == [
        ("XXXTRY", "SELL", D("200"), P, None),
        ("AAATRY", "BUY", D("700"), S, "max_orders"),
    ]
    assert p.actions[1].est_qty == D("7")


def test_largest_sell_takes_the_first_slot() -> None:
    # YYY 5 × 100 = 500 before XXX 2 × 100 = 200, whatever the symbol order
    p = plan(
        marks={"AAATRY": "100", "XXXTRY": "100", "YYYTRY": "100"},
        holdings={"XXXTRY": "2", "YYYTRY": "5"},
        max_orders_per_cycle=1,
    )
    # equity 1000 + 700 = 1700, cash target 100: AAA wants 1600
    assert table(p) == [
        ("YYYTRY", "SELL", D("500"), P, None),
        ("XXXTRY", "SELL", D("200"), S, "max_orders"),
        ("AAATRY", "BUY", D("1600"), S, "max_orders"),
    ]


@pytest.mark.parametrize(
    ("name", "cap", "expected", "sell_full_exit", "sell_qty"),
    [
        # 205 - 200 = 5 left < min 10 → BUY skipped
        (
            "buy_skipped",
            "205",
            [("XXXTRY", "SELL", D("200"), P, None), ("AAATRY", "BUY", D("700"), S, "turnover_cap")],
            True,
            D("2"),
        ),
        # the SELL itself is clipped to 150 (no longer a full exit, qty 150 / 100);
        # 0 left for the BUY
        (
            "sell_clipped",
            "150",
            [("XXXTRY", "SELL", D("150"), P, None), ("AAATRY", "BUY", D("700"), S, "turnover_cap")],
            False,
            D("1.5"),
        ),
        # 5 < min 10 before anything is allocated → both skipped, each with what it
        # wanted (the exit: the whole holding of 2)
        (
            "nothing_fits",
            "5",
            [
                ("XXXTRY", "SELL", D("200"), S, "turnover_cap"),
                ("AAATRY", "BUY", D("700"), S, "turnover_cap"),
            ],
            True,
            D("2"),
        ),
    ],
)
def test_turnover_cap(name: str, cap: str, expected: list[object], sell_full_exit: bool, sell_qty: D) -> None:
    p = plan(**EXIT_AND_ENTER, notional_cap_try_per_cycle=D(cap))  # type: ignore[arg-type]
    assert table(p) == expected
    assert (p.actions[0].full_exit, p.actions[0].est_qty) == (sell_full_exit, sell_qty)


def test_max_orders_cuts_buys_in_universe_order() -> None:
    # two slots, three BUYs of 300 (see equal weights): CCC, ranked last, is cut
    p = plan(
        universe=("AAATRY", "BBBTRY", "CCCTRY"),
        marks={"AAATRY": "100", "BBBTRY": "200", "CCCTRY": "50"},
        max_orders_per_cycle=2,
    )
    assert table(p) == [
        ("AAATRY", "BUY", D("300"), P, None),
        ("BBBTRY", "BUY", D("300"), P, None),
        ("CCCTRY", "BUY", D("300"), S, "max_orders"),
    ]


def test_min_notional() -> None:
    # XXX 0.05 × 100 = 5 < 10 → skipped, keeping the 5 TRY (0.05) it wanted; equity 1005 →
    # AAA targets 905, but only 1000 - 100 = 900 of cash is above the target, so the BUY
    # is clipped to 900
    p = plan(marks={"AAATRY": "100", "XXXTRY": "100"}, holdings={"XXXTRY": "0.05"})
    assert table(p) == [
        ("XXXTRY", "SELL", D("5"), S, "min_notional"),
        ("AAATRY", "BUY", D("900"), P, None),
    ]
    assert [(a.desired_notional_try, a.est_qty) for a in p.actions] == [(D("5"), D("0.05")), (D("905"), D("9"))]
    assert p.planned == (p.actions[1],)  # the skipped 5 TRY is no part of what is traded


def test_a_buy_below_min_notional_keeps_its_size() -> None:
    # cash 104 + AAA 8.95 × 100 = 999; cash target 100 → AAA targets 899, holds 895:
    # a BUY of 4 TRY (0.04 at 100) < min 10
    p = plan(cash="104", holdings={"AAATRY": "8.95"})
    assert table(p) == [("AAATRY", "BUY", D("4"), S, "min_notional")]
    assert (p.actions[0].desired_notional_try, p.actions[0].est_qty, p.actions[0].reason) == (
        D("4"),
        D("0.04"),
        "rebalance_up",
    )
    assert p.planned == ()


def test_insufficient_cash_with_an_untradable_holding() -> None:
    # XXX (10 × 100, crossed book) cannot be sold; cash 105 - target 100 = 5 to spend
    # AAA targets 1105 - 100 = 1005, affordable 5 < min 10 → insufficient_cash
    p = plan(
        marks={"AAATRY": "100", "XXXTRY": "100"},
        cash="105",
        holdings={"XXXTRY": "10"},
        untradable={"XXXTRY": "crossed_book"},
    )
    assert table(p) == [
        ("XXXTRY", "SELL", D("1000"), S, "not_tradable:crossed_book"),
        ("AAATRY", "BUY", D("1005"), S, "insufficient_cash"),
    ]


def test_buy_budget_is_net_of_worst_case_costs() -> None:
    # default costs: offset 5, slippage 25, fee 20 bps
    # buy cost per TRY = 1.0025 × 1.002 / 0.9995 = 1.0050075037…
    # budget 400 - 300 = 100 → 100 / 1.0050075… = 99.5017… → floored to the cent 99.50
    p = plan(cash="400", policy=PolicyParams(), execution=ExecutionParams())
    assert table(p) == [("AAATRY", "BUY", D("99.50"), P, None)]
    assert p.actions[0].desired_notional_try == D("100")
    assert p.actions[0].est_qty == D("0.995")  # 99.50 / 100


def test_observe_only_skips_every_action() -> None:
    p = plan(**EXIT_AND_ENTER, mode=Mode.OBSERVE_ONLY)  # type: ignore[arg-type]
    assert table(p) == [
        ("XXXTRY", "SELL", D("200"), S, "observe_only"),
        ("AAATRY", "BUY", D("700"), S, "observe_only"),
    ]
    assert p.planned == ()
    assert p.mode is Mode.OBSERVE_ONLY
    # the plan itself is still built
    assert [a.target_notional_try for a in p.allocations] == [D("700"), D("0")]


def test_reduce_risk_only_keeps_sells_and_skips_buys() -> None:
    p = plan(**EXIT_AND_ENTER, mode=Mode.REDUCE_RISK_ONLY)  # type: ignore[arg-type]
    assert table(p) == [
        ("XXXTRY", "SELL", D("200"), P, None),
        ("AAATRY", "BUY", D("700"), S, "mode_reduce_risk_only"),
    ]


def test_held_symbol_with_bad_data_is_not_tradable() -> None:
    # XXX kept its last mark 100 (valued, so it is in equity) but its book is crossed now
    bad_data = {**EXIT_AND_ENTER, "untradable": {"XXXTRY": "crossed_book"}}
    p = plan(**bad_data)  # type: ignore[arg-type]
    assert table(p) == [
        ("XXXTRY", "SELL", D("200"), S, "not_tradable:crossed_book"),
        ("AAATRY", "BUY", D("500"), P, None),  # 800 - 300 of cash above the target
    ]
    assert p.equity_try == D("1000")


def test_held_symbol_without_any_mark() -> None:
    # ZZZ has never had a mark: it cannot be valued (equity is cash only) nor sold
    p = plan(marks={"AAATRY": "100"}, holdings={"ZZZTRY": "3"})
    assert table(p) == [
        ("ZZZTRY", "SELL", D("0"), S, "missing_mark_price"),
        ("AAATRY", "BUY", D("900"), P, None),
    ]
    assert p.notes == ("missing_mark_price:ZZZTRY",)
    assert p.equity_try == D("1000")


def test_a_skipped_quantity_the_book_cannot_store_is_zero_its_notional_stays() -> None:
    # SHIBTRY wants 2,500,000 TRY at a mark of 1e-12: 2.5e18 units, beyond the book's 1e18
    p = plan(
        universe=("BTCTRY", "SHIBTRY"),
        marks={"BTCTRY": "4000000", "SHIBTRY": "1E-12"},
        cash="5000000",
        try_cash_target=D("0"),
        try_cash_max=D("0"),
        max_position_notional_try=D("3000000"),
        notional_cap_try_per_cycle=D("5000000"),
    )
    shib = p.actions[1]
    assert (shib.symbol, shib.status.value, shib.skip_reason) == ("SHIBTRY", S, "out_of_range:est_qty")
    assert (shib.desired_notional_try, shib.notional_try, shib.est_qty) == (D("2500000"), D("2500000"), D("0"))
