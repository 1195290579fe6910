"""The simulated venue under the kill switch (nothing placed, cancelled, expired or replaced;
resting orders still fill) and the caps on open orders (MAX_OPEN_ORDERS,
MAX_OPEN_ORDERS_PER_SYMBOL): the same rules as the live venue's."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from btcbot_pipeline.domain.cycle import run_cycles
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.oms import OmsState
from btcbot_pipeline.domain.oms.venue import SIMULATED, ExecutionRequest
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.domain.vocabulary import Side
from btcbot_pipeline_tests.domain.test_cycle_oms import PARAMS, _snap
from btcbot_pipeline_tests.domain.test_oms_step import at, bar, cid, intent, rows, run

LIMIT = OmsParams(fill_model="limit", volume_share=D("1"))


def test_with_the_kill_switch_a_resting_order_is_neither_cancelled_nor_expired_and_still_fills() -> None:
    placed = run(
        OmsState(), 0, [intent(1, price="99")], bars=[bar("100", best_ask_try="100", best_bid_try="99.5")], params=LIMIT
    )
    (order,) = placed.state.open_orders
    ttl = replace(LIMIT, order_ttl_s=60)
    # the plan no longer wants it and its time-to-live is over: with the kill switch, nothing happens
    frozen = run(placed.state, 3, [intent(2, k=3)], params=ttl, wanted=frozenset(), frozen=True)
    assert rows(frozen) == [] and frozen.state.open_orders == (order,)
    # the market comes down to it: the exchange fills it all the same
    filled = run(
        frozen.state,
        4,
        bars=[bar("98", best_ask_try="98.5", best_bid_try="97.5", low_try="97", volume="10")],
        params=ttl,
        wanted=frozenset(),
        frozen=True,
    )
    assert rows(filled) == [(cid(1), 3, "FILLED", "FILLED", None)]
    assert [(f.qty, f.fill_price_try) for f in filled.fills] == [(D("1"), D("99"))]


def test_the_kill_switch_in_the_fold_keeps_resting_orders_that_the_market_left_behind() -> None:
    snaps = [_snap(0, "100", "101", "100", "101"), _snap(1, "102", "103", "101", "103")]  # would be replaced
    (placed,) = run_cycles(
        snaps[:1], [select_universe(snaps[0], PARAMS.universe)], LedgerState.opening(D("1000")), PARAMS
    )
    killed = replace(PARAMS, kill_switch=True)
    (frozen,) = run_cycles(snaps[1:], [select_universe(snaps[1], killed.universe)], placed.state, killed)
    assert frozen.mode.reasons == ("kill_switch",) and frozen.events == ()
    assert frozen.state.oms.open_orders == placed.state.oms.open_orders


def test_max_open_orders_refuses_the_order_past_the_cap_with_its_reason() -> None:
    capped = replace(LIMIT, max_open_orders=2)
    intents = [intent(1, price="99"), intent(2, price="99", symbol="BBBTRY"), intent(3, price="99", symbol="CCCTRY")]
    bars = [bar("100", symbol=s, best_ask_try="100", best_bid_try="99.5") for s in ("AAATRY", "BBBTRY", "CCCTRY")]
    result = run(OmsState(), 0, intents, bars=bars, params=capped)
    assert [r for r in rows(result) if r[2] == "REJECTED"] == [
        (cid(3, symbol="CCCTRY"), 1, "REJECTED", "REJECTED", "cap:MAX_OPEN_ORDERS")
    ]
    assert [k for k, _, _ in result.keys] == [f"submit:{cid(1)}", f"submit:{cid(2, symbol='BBBTRY')}"]


def test_max_open_orders_per_symbol_counts_orders_resting_from_earlier_cycles() -> None:
    capped = replace(LIMIT, max_open_orders_per_symbol=1)
    placed = run(
        OmsState(),
        0,
        [intent(1, price="99")],
        bars=[bar("100", best_ask_try="100", best_bid_try="99.5")],
        params=capped,
    )
    again = run(placed.state, 1, [intent(2, Side.BUY, price="98", k=1)], params=capped)
    assert [r[2:] for r in rows(again)] == [("REJECTED", "REJECTED", "cap:MAX_OPEN_ORDERS_PER_SYMBOL")]


def test_the_simulated_venue_is_the_pure_step() -> None:
    request = ExecutionRequest(
        cycle_id="c0", cycle_ts=at(0), intents=[intent(1)], bars={"AAATRY": bar("100")}, wanted=(), params=OmsParams()
    )
    assert SIMULATED.execute(OmsState(), request) == run(
        OmsState(), 0, [intent(1)], bars=[bar("100")], wanted=frozenset()
    )
