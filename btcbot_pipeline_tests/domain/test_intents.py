"""Order intents (seed PR-4): prices and quantities on the exchange grids, validation after
quantisation, deterministic client order ids, and mode gating.

Offset is the default 5 bps: BUY at ``mark × 0.9995`` floored, SELL at ``mark × 1.0005``
ceiled onto the price grid.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.exchange_rules import EffectiveRules, resolve_rules
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent, build_intents
from btcbot_pipeline.domain.params import ExecutionParams, RulesParams
from btcbot_pipeline.domain.plan import ActionStatus, PlanAction, PortfolioPlan
from btcbot_pipeline.domain.vocabulary import Mode, Side
from btcbot_pipeline.testing.builders import CYCLE_TS, rules

CYCLE_ID = "20260101T003000Z"
BUY, SELL = Side.BUY, Side.SELL


def effective(
    symbol: str = "BTCTRY",
    *,
    tick: str = "10",
    lot: str | None = None,
    quantity_scale: int | None = 8,
    min_notional: str = "99.91",
) -> EffectiveRules:
    """Resolved rules; the default is BTCTRY from the real capture (tick 10, scales 2/8)."""
    published = rules(
        symbol,
        tick=tick,
        lot=lot,
        min_notional=min_notional,
        price_scale=2,
        quantity_scale=quantity_scale,
    )
    return resolve_rules(symbol, published, RulesParams())


CENT = effective("AAATRY", tick="0.01")  # 0.01 price grid, 1e-8 quantity grid


def action(
    side: Side = BUY,
    notional: str = "1000",
    mark: str | None = "1234567",
    *,
    symbol: str = "BTCTRY",
    full_exit: bool = False,
    status: ActionStatus = ActionStatus.PLANNED,
) -> PlanAction:
    return PlanAction(
        symbol=symbol,
        side=side,
        desired_notional_try=D(notional),
        notional_try=D(notional),
        est_qty=D("0"),
        mark_price_try=None if mark is None else D(mark),
        reason="rebalance_up" if side is BUY else ("exit_universe" if full_exit else "rebalance_down"),
        status=status,
        full_exit=full_exit,
    )


def build(
    *actions: PlanAction,
    rules_map: dict[str, EffectiveRules] | None = None,
    holdings: dict[str, str] | None = None,
    mode: Mode = Mode.NORMAL,
    cash: str = "1000000",
    cash_target: str = "0",
) -> tuple[OrderIntent, ...]:
    plan = PortfolioPlan(
        cycle_ts=CYCLE_TS,
        mode=mode,
        cash_try=D(cash),
        equity_try=D("0"),
        cash_target_try=D(cash_target),
        investable_try=D("0"),
        allocations=(),
        actions=actions,
    )
    return build_intents(
        cycle_id=CYCLE_ID,
        plan=plan,
        rules={"BTCTRY": effective(), "AAATRY": CENT} if rules_map is None else rules_map,
        holdings={s: D(q) for s, q in (holdings or {}).items()},
        execution=ExecutionParams(),
        mode=mode,
    )


def summary(intent: OrderIntent) -> tuple[object, ...]:
    return (
        intent.side.value,
        intent.price_try,
        intent.qty,
        intent.notional_try,
        intent.status.value,
        intent.skip_reason,
    )


@pytest.mark.parametrize(
    ("side", "mark", "price"),
    [
        (BUY, "100.03", D("99.97")),  # 100.03 × 0.9995 = 99.979985 → floor → 99.97
        (SELL, "100.03", D("100.09")),  # 100.03 × 1.0005 = 100.080015 → ceil → 100.09
        (BUY, "100", D("99.95")),  # 100 × 0.9995 = 99.95 already on the grid
        (SELL, "100", D("100.05")),  # 100 × 1.0005 = 100.05 already on the grid
    ],
)
def test_price_rounds_away_from_the_mark_on_a_cent_grid(side: Side, mark: str, price: D) -> None:
    (intent,) = build(action(side, "500", mark, symbol="AAATRY"), holdings={"AAATRY": "100"})
    assert intent.price_try == price
    assert intent.mark_price_try == D(mark)


def test_btctry_buy_honours_tick_10_and_scale_2_and_8() -> None:
    # price 1234567 × 0.9995 = 1233949.7165 → floor to tick 10 → 1233940
    # qty 1000 / 1233940 = 0.000810412175… → floor to 1e-8 → 0.00081041
    # notional 1233940 × 0.00081041 = 999.9973154
    (intent,) = build(action(BUY, "1000", "1234567"))
    assert summary(intent) == (
        "BUY",
        D("1233940"),
        D("0.00081041"),
        D("999.9973154"),
        "PLANNED",
        None,
    )
    assert intent.price_try % 10 == 0 and intent.price_try.as_tuple().exponent >= -2
    assert intent.qty.as_tuple().exponent >= -8  # type: ignore[union-attr]
    assert (intent.order_type, intent.rules_status) == ("LIMIT", "ok")


def test_btctry_sell_honours_tick_10_and_scale_2_and_8() -> None:
    # price 1234567 × 1.0005 = 1235184.2835 → ceil to tick 10 → 1235190
    # qty 1000 / 1235190 = 0.000809592046… → floor to 1e-8 → 0.00080959
    # notional 1235190 × 0.00080959 = 999.9974721
    (intent,) = build(action(SELL, "1000", "1234567"), holdings={"BTCTRY": "1"})
    assert summary(intent) == (
        "SELL",
        D("1235190"),
        D("0.00080959"),
        D("999.9974721"),
        "PLANNED",
        None,
    )


@pytest.mark.parametrize(
    ("name", "act", "rules_map", "expected"),
    [
        # 0.01 / 1233940 = 8.1e-9 → floors to 0 on the 1e-8 grid
        (
            "below_one_satoshi",
            action(BUY, "0.01"),
            None,
            ("BUY", D("1233940"), D("0"), D("0"), "SKIPPED", "qty_rounds_to_zero"),
        ),
        # lot 1: 50 / 99.95 = 0.50… → 0 whole units
        (
            "whole_lots",
            action(BUY, "50", "100", symbol="AAATRY"),
            {"AAATRY": effective("AAATRY", tick="0.01", lot="1", quantity_scale=0)},
            ("BUY", D("99.95"), D("0"), D("0"), "SKIPPED", "qty_rounds_to_zero"),
        ),
    ],
)
def test_qty_rounds_to_zero(
    name: str,
    act: PlanAction,
    rules_map: dict[str, EffectiveRules] | None,
    expected: tuple[object, ...],
) -> None:
    (intent,) = build(act, rules_map=rules_map)
    assert summary(intent) == expected


WHOLE_LOTS = {"AAATRY": effective("AAATRY", tick="0.01", lot="1", quantity_scale=0)}  # min 99.91


@pytest.mark.parametrize(
    ("name", "notional", "expected"),
    [
        # 110 ≥ 99.91 before quantisation; price 60 × 0.9995 = 59.97,
        # qty 110 / 59.97 = 1.83 → 1,
        # notional 59.97 < 99.91 after quantisation → skipped
        ("fails_after", "110", ("BUY", D("59.97"), D("1"), D("59.97"), "SKIPPED", "min_notional")),
        # 130 / 59.97 = 2.17 → 2, notional 119.94 ≥ 99.91 → planned
        ("passes_after", "130", ("BUY", D("59.97"), D("2"), D("119.94"), "PLANNED", None)),
    ],
)
def test_min_notional_is_checked_after_quantisation(name: str, notional: str, expected: tuple[object, ...]) -> None:
    (intent,) = build(action(BUY, notional, "60", symbol="AAATRY"), rules_map=WHOLE_LOTS)
    assert summary(intent) == expected


@pytest.mark.parametrize(
    ("name", "rules_map", "skip", "rules_status"),
    [
        (
            "missing",
            {"BTCTRY": resolve_rules("BTCTRY", None, RulesParams())},
            "rules_unavailable:missing",
            "missing",
        ),
        ("invalid", {"BTCTRY": effective(tick="0")}, "rules_unavailable:invalid", "invalid"),
        ("not_resolved", {}, "rules_unavailable:missing", "missing"),
    ],
)
def test_unusable_rules_skip_the_intent(
    name: str, rules_map: dict[str, EffectiveRules], skip: str, rules_status: str
) -> None:
    (intent,) = build(action(BUY, "1000"), rules_map=rules_map)
    assert summary(intent) == ("BUY", None, None, None, "SKIPPED", skip)
    assert intent.rules_status == rules_status


def test_fallback_rules_are_used_when_metadata_is_not_required() -> None:
    # fallback grid 0.01 / 1e-8: 1234567 × 0.9995 = 1233949.7165 → 1233949.71
    fallback = resolve_rules("BTCTRY", None, RulesParams(require_metadata=False))
    (intent,) = build(action(BUY, "1000"), rules_map={"BTCTRY": fallback})
    assert (intent.price_try, intent.status, intent.rules_status) == (
        D("1233949.71"),
        IntentStatus.PLANNED,
        "fallback",
    )


@pytest.mark.parametrize(
    ("name", "holding", "qty"),
    [
        ("on_grid", "0.005", D("0.005")),  # 0.005 BTC whatever the 1000 TRY notional says
        ("off_grid", "0.123456789", D("0.12345678")),  # floored onto the 1e-8 grid, never above
    ],
)
def test_full_exit_sells_the_whole_holding(name: str, holding: str, qty: D) -> None:
    (intent,) = build(action(SELL, "1000", full_exit=True), holdings={"BTCTRY": holding})
    assert (intent.qty, intent.status) == (qty, IntentStatus.PLANNED)
    assert intent.notional_try == D("1235190") * qty


def test_sell_never_exceeds_the_holding() -> None:
    # 10000 / 100.05 ≈ 99.95 units wanted, 3 held → 3
    (intent,) = build(action(SELL, "10000", "100", symbol="AAATRY"), holdings={"AAATRY": "3"})
    assert summary(intent) == ("SELL", D("100.05"), D("3"), D("300.15"), "PLANNED", None)


def test_client_order_id_is_the_documented_hash() -> None:
    (intent,) = build(action(BUY, "1000"))
    digest = hashlib.sha256(b"20260101T003000Z|BTCTRY|BUY|1233940|0.00081041|rebalance_up").hexdigest()[:12]
    assert intent.client_order_id == f"s7:20260101T003000Z:BTCTRY:BUY:{digest}"
    assert re.fullmatch(r"s7:20260101T003000Z:BTCTRY:BUY:[0-9a-f]{12}", intent.client_order_id)


def test_client_order_id_is_stable_across_builds_and_follows_the_price() -> None:
    first = build(action(BUY, "1000", "1234567"))[0].client_order_id
    again = build(action(BUY, "1000", "1234567"))[0].client_order_id
    # mark 1234577 × 0.9995 = 1233959.7115 → 1233950, another price → another id
    moved = build(action(BUY, "1000", "1234577"))[0]
    assert first == again
    assert moved.price_try == D("1233950")
    assert moved.client_order_id != first


def test_intents_follow_plan_order_and_ignore_skipped_actions() -> None:
    intents = build(
        action(SELL, "1000", "100", symbol="AAATRY"),
        action(BUY, "1000", status=ActionStatus.SKIPPED),
        action(BUY, "2000"),
        holdings={"AAATRY": "50"},
    )
    assert [(i.symbol, i.side.value, i.notional_try) for i in intents] == [
        ("AAATRY", "SELL", D("100.05") * D("9.99500249")),  # 1000 / 100.05 floored to 1e-8
        ("BTCTRY", "BUY", D("1233940") * D("0.00162082")),  # 2000 / 1233940 floored to 1e-8
    ]


def test_observe_only_emits_no_intents() -> None:
    assert (
        build(
            action(SELL, "1000"),
            action(BUY, "1000"),
            holdings={"BTCTRY": "1"},
            mode=Mode.OBSERVE_ONLY,
        )
        == ()
    )


def test_reduce_risk_only_drops_buys() -> None:
    intents = build(
        action(SELL, "1000", "100", symbol="AAATRY"),
        action(BUY, "1000"),
        holdings={"AAATRY": "50"},
        mode=Mode.REDUCE_RISK_ONLY,
    )
    assert [(i.symbol, i.side.value, i.status.value) for i in intents] == [("AAATRY", "SELL", "PLANNED")]


# -- cash guard ------------------------------------------------------------------------
# Default costs: offset 5 bps, slippage 25 bps, fee 20 bps. A BUY's exact simulated cost
# is qty × mark × 1.0025 × 1.002 = qty × 100.45005 at mark 100. Quantity grid 0.01 here.
HUNDREDTHS = {s: effective(s, tick="0.01", quantity_scale=2) for s in ("AAATRY", "BBBTRY")}


def test_buy_is_cut_to_the_cash_above_the_target_or_skipped() -> None:
    # budget 400 - 300 = 100 → qty floor(100 / 100.45005, 0.01) = 0.99;
    # 99.95 × 0.99 = 98.9505 < min notional 99.91 → skipped
    (only,) = build(action(BUY, "1000", "100", symbol="AAATRY"), rules_map=HUNDREDTHS, cash="400", cash_target="300")
    assert summary(only) == ("BUY", D("99.95"), D("0.99"), D("98.9505"), "SKIPPED", "insufficient_cash")


def test_buy_is_cut_but_still_placed_when_it_stays_above_the_minimum() -> None:
    # budget 1300 - 300 = 1000 → qty floor(1000 / 100.45005, 0.01) = 9.95 instead of 10.00
    (only,) = build(action(BUY, "1000", "100", symbol="AAATRY"), rules_map=HUNDREDTHS, cash="1300", cash_target="300")
    assert summary(only) == ("BUY", D("99.95"), D("9.95"), D("994.5025"), "PLANNED", None)


def test_a_skipped_sell_brings_no_proceeds_to_the_buys() -> None:
    # the SELL of 0.05 × 100.05 = 5.0025 TRY is below min notional: no proceeds, so the
    # BUY may only spend 500 - 300 = 200 → qty floor(200 / 100.45005, 0.01) = 1.99
    intents = build(
        action(SELL, "5", "100", symbol="AAATRY"),
        action(BUY, "1000", "100", symbol="BBBTRY"),
        rules_map=HUNDREDTHS,
        holdings={"AAATRY": "0.05"},
        cash="500",
        cash_target="300",
    )
    assert [summary(i) for i in intents] == [
        ("SELL", D("100.05"), D("0.04"), D("4.0020"), "SKIPPED", "min_notional"),
        ("BUY", D("99.95"), D("1.99"), D("198.9005"), "PLANNED", None),
    ]
