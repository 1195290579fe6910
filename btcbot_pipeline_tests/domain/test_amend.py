"""Amending resting orders (issue 18): a resting order the plan wants smaller is cancelled
``amended`` and replaced at the new size with a new client order id, not answered with an
opposite order; one the plan wants gone entirely is cancelled ``plan_dropped``.

The book: the limit model, 1000 TRY, no cash target, fees 20 bps and offset 5 bps (a BUY
rests at mark × 0.9995 floored to the cent while the ask is above it), every bar 1000
units unless a test says otherwise. Universes are given per cycle, so a test states the
target change it needs: one symbol targets the whole equity, two half each.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

from btcbot_pipeline.domain.cycle import CycleResult, _after_open_orders, run_cycle, run_cycles
from btcbot_pipeline.domain.exchange_rules import resolve_rules
from btcbot_pipeline.domain.intents import build_intents
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot, finalize_snapshot
from btcbot_pipeline.domain.params import CycleParams, OmsParams, PolicyParams, RulesParams, UniverseParams
from btcbot_pipeline.domain.plan import build_plan
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.universe import UniverseSelection
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol

PARAMS = CycleParams(
    universe=UniverseParams(size=3),
    policy=PolicyParams(
        max_orders_per_cycle=5, notional_cap_try_per_cycle=D("10000"), try_cash_target=D("0"), try_cash_max=D("0")
    ),
    start_capital_try=D("1000"),
    kill_switch=False,
    risk=RiskLimits(max_drawdown_pct=D("1"), max_daily_loss_try=D("1E9")),
    oms=OmsParams(fill_model="limit", volume_share=D("1"), reprice_bps=D("50")),
)
C0, C1, C2 = "20260101T003000Z", "20260101T003500Z", "20260101T004000Z"
OLD_BUY = f"s7:{C0}:BTCTRY:BUY:2595638627d4"  # cycle 0: BUY 9.90562392 BTCTRY at 100.44 (995.01 TRY)


def btc(
    bid: str = "100", ask: str = "101", low: str = "100.5", high: str = "101", volume: str = "1000"
) -> SymbolSnapshot:
    s = symbol("BTCTRY", bid=bid, ask=ask)
    return replace(s, bar_low=D(low), bar_high=D(high), bar_volume=D(volume))


def eth() -> SymbolSnapshot:  # a quiet second symbol: its BUYs rest at 50.47
    return replace(symbol("ETHTRY", bid="50", ask="51"), bar_low=D("50.5"), bar_high=D("51"), bar_volume=D("1000"))


def xrp() -> SymbolSnapshot:
    return replace(symbol("XRPTRY", bid="10", ask="10.1"), bar_low=D("10.06"), bar_high=D("10.1"), bar_volume=D("1000"))


def cycle(k: int, universe: tuple[str, ...], *symbols: SymbolSnapshot) -> tuple[MarketSnapshot, UniverseSelection]:
    ts = CYCLE_TS + timedelta(minutes=5 * k)
    snap = finalize_snapshot(snapshot(*(replace(s, data_ts=ts) for s in symbols), cycle_ts=ts), max_data_age_s=60)
    return snap, UniverseSelection(ts, universe, (), ())


def run(*cycles: tuple[MarketSnapshot, UniverseSelection], params: CycleParams = PARAMS) -> list[CycleResult]:
    return run_cycles([c[0] for c in cycles], [c[1] for c in cycles], LedgerState.opening(D("1000")), params)


def events(result: CycleResult) -> list[tuple[str, str | None]]:
    return [(e.event_id, e.reason) for e in result.events]


def orders(result: CycleResult) -> list[tuple[str, str, D, D, str, str | None]]:
    return [(o.client_order_id, o.side.value, o.qty, o.price_try, o.status.value, o.reason) for o in result.orders]


# Cycle 0 buys BTCTRY with the whole book (the BUY rests); cycle 1 adds ETHTRY to the universe,
# so BTCTRY's target halves while its BUY still rests.
PLACED = cycle(0, ("BTCTRY",), btc(low="100", high="101"), eth())
HALVED = cycle(1, ("BTCTRY", "ETHTRY"), btc(), eth())


def test_the_problem_a_plan_counting_the_resting_buy_answers_with_a_sell_that_has_nothing_to_sell() -> None:
    # What the fold did before the amend: plan from the book with the BUY counted as done
    (placed,) = run(PLACED)
    state = placed.state
    cash, planned, sellable, _ = _after_open_orders(state, PARAMS.execution.fees_bps)
    snap, selection = HALVED
    marks = {"BTCTRY": D("100.5"), "ETHTRY": D("50.5")}
    plan = build_plan(
        cycle_ts=snap.cycle_ts,
        universe=selection.selected,
        marks=marks,
        cash_try=cash,
        holdings=planned,
        untradable={},
        policy=PARAMS.policy,
        execution=PARAMS.execution,
        mode=Mode.NORMAL,
        sells_fund_buys=False,
    )
    assert [(a.symbol, a.side.value, a.notional_try, a.status.value, a.skip_reason) for a in plan.actions] == [
        ("BTCTRY", "SELL", D("496.21"), "PLANNED", None),  # (9.90562392 × 100.5 + 3.09) / 2 too many
        ("ETHTRY", "BUY", D("499.30"), "SKIPPED", "insufficient_cash"),  # the resting BUY holds the cash
    ]
    rules = {s: resolve_rules(s, symbol(s).rules, RulesParams()) for s in marks}
    intents = build_intents(
        cycle_id=C1, plan=plan, rules=rules, holdings=sellable, execution=PARAMS.execution, mode=Mode.NORMAL
    )
    assert [(i.side.value, i.qty, i.status.value, i.skip_reason) for i in intents] == [
        ("SELL", D("0E-8"), "SKIPPED", "qty_rounds_to_zero"),  # nothing held yet: the BUY stays at full size
    ]


def test_a_resting_buy_the_plan_wants_smaller_is_amended() -> None:
    placed, halved = run(PLACED, HALVED)
    assert orders(placed) == [(OLD_BUY, "BUY", D("9.90562392"), D("100.44"), "ACKED", None)]
    new_btc, new_eth = f"s7:{C1}:BTCTRY:BUY:5b3fb1c4399a", f"s7:{C1}:ETHTRY:BUY:85e279467849"
    assert events(halved) == [
        (f"{OLD_BUY}:0003:CANCELED", "amended"),
        (f"{new_btc}:0001:SUBMITTED", None),
        (f"{new_btc}:0002:ACKED", None),
        (f"{new_eth}:0001:SUBMITTED", None),
        (f"{new_eth}:0002:ACKED", None),
    ]
    # planned again from the book without it: equity 1000, 500 each; BUY 500 / 100.44 floored
    assert orders(halved) == [
        (OLD_BUY, "BUY", D("9.90562392"), D("100.44"), "CANCELED", "amended"),
        (new_btc, "BUY", D("4.97809637"), D("100.44"), "ACKED", None),
        (new_eth, "BUY", D("9.80626769"), D("50.47"), "ACKED", None),  # 495.01 / 50.47: the cash the BUY freed
    ]
    assert [(a.symbol, a.side.value, a.notional_try, a.reason, a.status.value) for a in halved.plan.actions] == [
        ("BTCTRY", "BUY", D("500.00"), "enter_universe", "PLANNED"),
        ("ETHTRY", "BUY", D("495.01"), "enter_universe", "PLANNED"),
    ]
    assert halved.plan.cash_try == D("1000")  # nothing reserved: the old BUY's cash is the new orders'
    assert [o.client_order_id for o in halved.state.oms.open_orders] == [new_btc, new_eth]


def test_a_partly_filled_buy_the_plan_wants_below_the_holding_is_dropped_and_only_the_excess_sold() -> None:
    half = cycle(1, ("BTCTRY",), btc(low="100.44", volume="5"), eth(), xrp())  # 5 of 9.90562392 fill
    thirds = cycle(2, ("BTCTRY", "ETHTRY", "XRPTRY"), btc(), eth(), xrp())
    _, filled, result = run(PLACED, half, thirds)
    assert [(o.status.value, o.filled_qty) for o in filled.state.oms.open_orders] == [("PARTIALLY_FILLED", D("5"))]
    # Without the BUY: equity 496.7956 + 5 × 100.5 = 999.2956, a third is 333.09, so 502.50 - 333.09
    # = 169.41 of the 5 held are sold. Counting the BUY, the plan sold (9.90562392 × 100.5 + 3.09) / 3
    # × 2 = 662 TRY, capped at the holding: all 5.
    assert [(a.symbol, a.side.value, a.notional_try, a.status.value) for a in result.plan.actions] == [
        ("BTCTRY", "SELL", D("169.41"), "PLANNED"),
        ("ETHTRY", "BUY", D("333.09"), "PLANNED"),
        ("XRPTRY", "BUY", D("161.23"), "PLANNED"),  # the rest of the cash
    ]
    sell = f"s7:{C2}:BTCTRY:SELL:5ecba1244c7b"
    assert orders(result)[:2] == [
        (OLD_BUY, "BUY", D("9.90562392"), D("100.44"), "CANCELED", "plan_dropped"),  # no BUY replaces it
        (sell, "SELL", D("1.68466587"), D("100.56"), "ACKED", None),  # 169.41 / 100.56 floored
    ]
    assert events(result)[:3] == [
        (f"{OLD_BUY}:0004:CANCELED", "plan_dropped"),
        (f"{sell}:0001:SUBMITTED", None),
        (f"{sell}:0002:ACKED", None),
    ]


def test_an_opposite_trade_within_the_band_amends_nothing() -> None:
    # BTCTRY's SELL of 496.21 is 4,969 bps of equity 998.60: inside a band of 5000, the BUY rests
    banded = replace(PARAMS, policy=replace(PARAMS.policy, rebalance_band_bps=D("5000")))
    _, halved = run(PLACED, HALVED, params=banded)
    assert [(a.symbol, a.side.value, a.skip_reason) for a in halved.plan.actions] == [
        ("BTCTRY", "SELL", "within_band"),
        ("ETHTRY", "BUY", "insufficient_cash"),
    ]
    assert halved.events == () and [o.client_order_id for o in halved.state.oms.open_orders] == [OLD_BUY]


def test_the_kill_switch_amends_nothing() -> None:
    (placed,) = run(PLACED)
    halved = run_cycle(*HALVED, placed.state, replace(PARAMS, kill_switch=True))
    assert {a.skip_reason for a in halved.plan.actions} == {"observe_only"}
    assert halved.events == () and [o.client_order_id for o in halved.state.oms.open_orders] == [OLD_BUY]


# A resting SELL: cycle 1 fills the BUY (9.90562392 BTCTRY held, 3.09 cash), cycle 2 adds
# ETHTRY and XRPTRY, so BTCTRY's target falls to a third and a SELL of 662.65 TRY rests at 100.56.
FILLED = cycle(1, ("BTCTRY",), btc(low="100.44"), eth(), xrp())
THIRDS = cycle(2, ("BTCTRY", "ETHTRY", "XRPTRY"), btc(), eth(), xrp())
OLD_SELL = f"s7:{C2}:BTCTRY:SELL:a7719d34b818"
C3 = "20260101T004500Z"


def quiet(universe: tuple[str, ...]) -> tuple[MarketSnapshot, UniverseSelection]:
    return cycle(3, universe, btc(low="100.5", high="100.5"), eth(), xrp())  # BTCTRY's bar stays below 100.56


def test_a_resting_sell_the_plan_wants_smaller_is_amended() -> None:
    *_, thirds, halves = run(PLACED, FILLED, THIRDS, quiet(("BTCTRY", "ETHTRY")))
    assert orders(thirds) == [(OLD_SELL, "SELL", D("6.58959824"), D("100.56"), "ACKED", None)]
    # Counting the SELL the plan wants to buy BTCTRY back (skipped for cash, which an amend
    # does not need); without it: equity 3.09 + 9.90562392 × 100.5 = 998.60, half is 499.30,
    # so 995.51 - 499.30 = 496.21 TRY are sold: 4.93446698 at 100.56
    new = f"s7:{C3}:BTCTRY:SELL:e3b232d34c78"
    assert events(halves) == [
        (f"{OLD_SELL}:0003:CANCELED", "amended"),
        (f"{new}:0001:SUBMITTED", None),
        (f"{new}:0002:ACKED", None),
    ]
    assert orders(halves) == [
        (OLD_SELL, "SELL", D("6.58959824"), D("100.56"), "CANCELED", "amended"),
        (new, "SELL", D("4.93446698"), D("100.56"), "ACKED", None),
    ]
    assert [(a.symbol, a.side.value, a.notional_try, a.status.value, a.skip_reason) for a in halves.plan.actions] == [
        ("BTCTRY", "SELL", D("496.21"), "PLANNED", None),
        ("ETHTRY", "BUY", D("499.30"), "SKIPPED", "insufficient_cash"),  # the SELL's proceeds have not come in
    ]


def test_a_resting_sell_the_plan_wants_gone_is_dropped() -> None:
    *_, whole = run(PLACED, FILLED, THIRDS, quiet(("BTCTRY",)))
    assert events(whole) == [(f"{OLD_SELL}:0003:CANCELED", "plan_dropped")]
    # the whole book is BTCTRY's target again: 3.08 short of it, below the minimum
    assert [(a.symbol, a.side.value, a.notional_try, a.skip_reason) for a in whole.plan.actions] == [
        ("BTCTRY", "BUY", D("3.08"), "min_notional"),
    ]
    assert whole.state.oms.open_orders == ()


def test_a_resting_sell_still_counts_in_the_equity_the_plan_targets() -> None:
    # The same universe again: the SELL is what the plan wants. Its proceeds at the limit, net of
    # the fee, stay in equity (6.58959824 × 100.56 × 0.998 = 661.32); without them the plan saw
    # 336.35 TRY of equity and sold a further 221 TRY of BTCTRY.
    *_, again = run(PLACED, FILLED, THIRDS, quiet(("BTCTRY", "ETHTRY", "XRPTRY")))
    due = D("6.58959824") * D("100.56") * D("0.998")
    held = (D("9.90562392") - D("6.58959824")) * D("100.5")
    assert again.plan.equity_try == D("3.0892917421504") + held + due
    assert [(a.symbol, a.side.value, a.notional_try, a.skip_reason) for a in again.plan.actions] == [
        ("BTCTRY", "SELL", D("0.71"), "min_notional"),  # 333.26 held beside the SELL, target 332.55
        ("ETHTRY", "BUY", D("332.55"), "insufficient_cash"),
        ("XRPTRY", "BUY", D("332.55"), "insufficient_cash"),
    ]
    assert again.events == () and [o.client_order_id for o in again.state.oms.open_orders] == [OLD_SELL]
