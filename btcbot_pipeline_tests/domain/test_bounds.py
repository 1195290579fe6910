"""Bounds (domain/bounds.py): a value the book cannot store excludes its symbol, never the cycle."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from btcbot_pipeline.domain.exchange_rules import resolve_rules, rules_problem
from btcbot_pipeline.domain.market import (
    MarketSnapshot,
    SymbolRules,
    SymbolSnapshot,
    bound_snapshot,
    finalize_snapshot,
    snapshot_out_of_range,
)
from btcbot_pipeline.domain.params import ExecutionParams, PolicyParams, RulesParams
from btcbot_pipeline.domain.plan import build_plan
from btcbot_pipeline.domain.vocabulary import Mode, canonical_symbol, is_pair_name

T = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
D = Decimal
RULES = SymbolRules("ETHTRY", tick_size=D("1"), min_notional_try=D("10"), price_scale=2, quantity_scale=8)


def snap(**fields: object) -> SymbolSnapshot:
    base: dict[str, object] = dict(
        symbol="ETHTRY",
        data_ts=T,
        staleness_s=0,
        best_bid=D("4562"),
        best_ask=D("4564"),
        last=D("4563"),
        high_24h=D("4600"),
        low_24h=D("4500"),
        quote_volume_try=D("1000000"),
        daily_change_pct=D("1.5"),
        closes=(D("4560"), D("4563")),
        rules=RULES,
    )
    base.update(fields)
    return SymbolSnapshot(**base)  # type: ignore[arg-type]


def final(*symbols: SymbolSnapshot) -> dict[str, SymbolSnapshot]:
    return finalize_snapshot(MarketSnapshot(cycle_ts=T, symbols=symbols), max_data_age_s=60).by_symbol()


@pytest.mark.parametrize(
    ("fields", "reason", "dropped"),
    [
        # the numbers, each one symbol's problem
        (
            {"best_bid": D("1e25"), "best_ask": D("2e25")},
            "invalid_data:out_of_range:best_bid",
            ("best_bid", "best_ask"),
        ),
        ({"last": D("1e25")}, "invalid_data:out_of_range:last", ("last",)),
        ({"quote_volume_try": D("1e25")}, "invalid_data:out_of_range:quote_volume_try", ("quote_volume_try",)),
        ({"closes": (D("4560"), D("1e30"))}, "invalid_data:out_of_range:closes", ("closes",)),
        (
            {"best_bid": D("1e-25"), "best_ask": D("2e-25")},
            "invalid_data:out_of_range:best_bid",
            ("best_bid", "best_ask"),
        ),
        # a daily change derived from a close of 1e30 over an open of 1
        ({"daily_change_pct": D("1e32")}, "invalid_data:out_of_range:daily_change_pct", ("daily_change_pct",)),
        ({"daily_change_pct": D("-150")}, "invalid_data:out_of_range:daily_change_pct", ("daily_change_pct",)),
    ],
)
def test_a_value_out_of_bounds_excludes_the_symbol_and_is_dropped(fields: dict, reason: str, dropped: tuple) -> None:
    out = final(snap(**fields), snap(symbol="BTCTRY"))

    assert out["ETHTRY"].skip_reason == reason
    for name in dropped:
        assert getattr(out["ETHTRY"], name) in (None, ())
    assert out["BTCTRY"].skip_reason is None


def test_values_at_the_bounds_are_kept() -> None:
    edge = snap(
        best_bid=D("1e12"), best_ask=D("1e12"), last=D("1e-12"), quote_volume_try=D("1e18"), daily_change_pct=D("-100")
    )

    assert snapshot_out_of_range(edge) is None
    assert bound_snapshot(edge) is edge


def test_a_bid_of_1e_30_under_an_ask_of_4563_is_never_a_mark() -> None:
    # Out of range first; a tiny bid that is in range still gives no mark (implausible spread).
    out = final(
        snap(best_bid=D("1e-30"), best_ask=D("4563")), snap(symbol="XRPTRY", best_bid=D("0.5"), best_ask=D("4563"))
    )

    assert out["ETHTRY"].skip_reason == "invalid_data:out_of_range:best_bid"
    assert out["XRPTRY"].skip_reason == "implausible_spread"
    assert out["ETHTRY"].best_bid is None


def test_a_spread_of_exactly_twice_the_bid_is_still_a_mark() -> None:
    assert final(snap(best_bid=D("100"), best_ask=D("200")))["ETHTRY"].skip_reason is None
    assert final(snap(best_bid=D("100"), best_ask=D("200.01")))["ETHTRY"].skip_reason == "implausible_spread"


@pytest.mark.parametrize("name", ["ETH:TRY", "ETH TRY", "ETH'TRY", "ÉTHTRY", "ETH\x00TRY", "", "A" * 21])
def test_names_that_are_not_pair_names_are_refused(name: str) -> None:
    assert not is_pair_name(canonical_symbol(name))
    assert final(snap(symbol=name))[name].skip_reason == "invalid_data:invalid_symbol_name"


@pytest.mark.parametrize("name", ["ETH-TRY", "eth_try", "eth/try", " ETHTRY "])
def test_separators_and_case_are_one_canonical_name(name: str) -> None:
    assert canonical_symbol(name) == "ETHTRY"
    assert is_pair_name(canonical_symbol(name))


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        (
            SymbolRules("ETHTRY", tick_size=D("1"), min_notional_try=D("10"), price_scale=2, quantity_scale=60),
            "quantity_scale out of range",
        ),
        (
            SymbolRules("ETHTRY", tick_size=D("1e30"), min_notional_try=D("10"), price_scale=2, quantity_scale=8),
            "tick_size out of range",
        ),
        (
            SymbolRules(
                "ETHTRY",
                tick_size=D("1"),
                min_notional_try=D("10"),
                price_scale=2,
                quantity_scale=8,
                out_of_range="quantity_scale",
            ),
            "quantity_scale out of range",
        ),
        (
            SymbolRules("ETHTRY", tick_size=D("0"), min_notional_try=D("10"), price_scale=2, quantity_scale=8),
            "tick_size 0",
        ),
        # found by the fuzzer: a tick of -1e20 is unusable, and no DECIMAL(38, 18) could hold it
        (
            SymbolRules("ETHTRY", tick_size=D("-1e20"), min_notional_try=D("10"), price_scale=2, quantity_scale=8),
            "tick_size out of range",
        ),
        (
            SymbolRules("ETHTRY", tick_size=D("1"), min_notional_try=D("-1e20"), price_scale=2, quantity_scale=8),
            "min_notional_try out of range",
        ),
        (
            SymbolRules(
                "ETHTRY", tick_size=D("1"), lot_size=D("0"), min_notional_try=D("10"), price_scale=2, quantity_scale=8
            ),
            "lot_size 0",
        ),
        (
            SymbolRules("ETHTRY", tick_size=D("1"), min_notional_try=D("-5"), price_scale=2, quantity_scale=8),
            "min_notional -5",
        ),
        (
            SymbolRules(
                "ETHTRY", tick_size=D("1"), min_notional_try=D("10"), price_scale=2, quantity_scale=8, status="HALTED"
            ),
            "status HALTED",
        ),
    ],
)
def test_unusable_rules_are_named_and_never_resolved_into_a_grid(rules: SymbolRules, problem: str) -> None:
    assert rules_problem(rules) == problem
    assert not resolve_rules("ETHTRY", rules, RulesParams()).usable


def test_a_quantity_scale_of_60_excludes_the_symbol_at_the_snapshot() -> None:
    wide = SymbolRules("ETHTRY", tick_size=D("1"), min_notional_try=D("10"), price_scale=2, quantity_scale=60)

    out = final(snap(rules=wide))["ETHTRY"]

    assert (out.skip_reason, out.rules) == ("invalid_data:out_of_range:quantity_scale", None)


def test_the_plan_skips_a_buy_whose_estimated_quantity_the_book_cannot_store() -> None:
    # ~2,490,000 TRY over a mark of 1e-12 would be 2.49e18 units (> 1e18): skipped, the other symbol still bought.
    policy = PolicyParams(
        try_cash_target=D("0"),
        try_cash_max=D("0"),
        max_position_notional_try=D("3000000"),
        notional_cap_try_per_cycle=D("5000000"),
        max_orders_per_cycle=5,
        min_order_notional_try=D("10"),
    )

    plan = build_plan(
        cycle_ts=T,
        universe=("BTCTRY", "SHIBTRY"),
        cash_try=D("5000000"),
        holdings={},
        marks={"BTCTRY": D("4000000"), "SHIBTRY": D("1E-12")},
        untradable={},
        policy=policy,
        execution=ExecutionParams(),
        mode=Mode.NORMAL,
    )

    by_symbol = {a.symbol: a for a in plan.actions}
    assert by_symbol["SHIBTRY"].skip_reason == "out_of_range:est_qty"
    assert by_symbol["BTCTRY"].skip_reason is None
    assert by_symbol["BTCTRY"].est_qty < D("1")


def test_an_order_whose_quantity_has_more_digits_than_its_grid_holds_is_skipped_not_raised() -> None:
    from btcbot_pipeline.domain.exchange_rules import EffectiveRules
    from btcbot_pipeline.domain.intents import build_intents
    from btcbot_pipeline.domain.market import RulesStatus

    # 1,000,000 TRY at ~0.001 TRY is ~1e9 units on a grid of 1e-18: 27 digits, fits the
    # 28-digit context. 1e12 TRY of it would need 33 digits: skipped as out_of_range:qty.
    policy = PolicyParams(
        try_cash_target=D("0"),
        try_cash_max=D("0"),
        max_position_notional_try=D("1E15"),
        notional_cap_try_per_cycle=D("1E15"),
        max_orders_per_cycle=5,
        min_order_notional_try=D("10"),
    )
    fine = EffectiveRules("FINETRY", RulesStatus.OK, D("1E-6"), D("1E-18"), D("10"))
    marks = {"FINETRY": D("0.001"), "BTCTRY": D("4000000")}
    rules = {"FINETRY": fine, "BTCTRY": EffectiveRules("BTCTRY", RulesStatus.OK, D("1"), D("1E-8"), D("10"))}

    def intents(cash: str) -> dict[str, object]:
        plan = build_plan(
            cycle_ts=T,
            universe=("BTCTRY", "FINETRY"),
            cash_try=D(cash),
            holdings={},
            marks=marks,
            untradable={},
            policy=policy,
            execution=ExecutionParams(),
            mode=Mode.NORMAL,
        )
        made = build_intents(
            cycle_id="20260101T003000Z",
            plan=plan,
            rules=rules,
            holdings={},
            execution=ExecutionParams(),
            mode=Mode.NORMAL,
        )
        return {i.symbol: i.skip_reason for i in made}

    assert intents("2000000") == {"BTCTRY": None, "FINETRY": None}
    assert intents("2000000000000") == {"BTCTRY": None, "FINETRY": "out_of_range:qty"}


def test_a_zero_price_stays_non_positive_and_a_huge_negative_one_is_out_of_range() -> None:
    out = final(snap(best_bid=D("0")), snap(symbol="XRPTRY", best_bid=D("-1e25")))

    assert out["ETHTRY"].skip_reason == "non_positive_price"
    assert (out["XRPTRY"].skip_reason, out["XRPTRY"].best_bid) == ("invalid_data:out_of_range:best_bid", None)


def test_a_volatility_the_book_cannot_store_is_rejected_by_the_universe_and_the_others_ranked() -> None:
    from btcbot_pipeline.domain.params import UniverseParams
    from btcbot_pipeline.domain.universe import select_universe

    # Every close in bounds, but 1e-12 → 1e12 is a return of 1e24.
    wild = snap(symbol="WILDTRY", closes=(D("1e-12"), D("1e12"), D("1e-12"), D("1e12")))
    snapshot = finalize_snapshot(MarketSnapshot(cycle_ts=T, symbols=(wild, snap(symbol="BTCTRY"))), max_data_age_s=60)

    selection = select_universe(snapshot, UniverseParams())

    assert selection.selected == ("BTCTRY",)
    assert selection.rejected == (("WILDTRY", "out_of_range:volatility"),)
