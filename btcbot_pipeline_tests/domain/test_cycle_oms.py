"""The OMS inside the fold: resting orders, their reservation, repricing by replacement."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

from btcbot_pipeline.domain.cycle import run_cycles
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.domain.oms import Bar, OmsState, OmsStep
from btcbot_pipeline.domain.oms.venue import SIMULATED, ExecutionRequest
from btcbot_pipeline.domain.params import CycleParams, OmsParams, PolicyParams, UniverseParams
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol

PARAMS = CycleParams(
    universe=UniverseParams(size=1),
    policy=PolicyParams(
        max_orders_per_cycle=5, notional_cap_try_per_cycle=D("10000"), try_cash_target=D("0"), try_cash_max=D("0")
    ),
    start_capital_try=D("1000"),
    kill_switch=False,
    risk=RiskLimits(max_drawdown_pct=D("1"), max_daily_loss_try=D("1E9")),
    oms=OmsParams(fill_model="limit", volume_share=D("1"), reprice_bps=D("50")),
)


def _snap(k: int, bid: str, ask: str, low: str, high: str) -> MarketSnapshot:
    s = replace(symbol("BTCTRY", bid=bid, ask=ask), bar_low=D(low), bar_high=D(high), bar_volume=D("1000"))
    ts = CYCLE_TS + timedelta(minutes=5 * k)
    return finalize_snapshot(snapshot(replace(s, data_ts=ts), cycle_ts=ts), max_data_age_s=60)


def _run(*snaps: MarketSnapshot, params: CycleParams = PARAMS) -> list:  # type: ignore[type-arg]
    return run_cycles(
        list(snaps), [select_universe(s, params.universe) for s in snaps], LedgerState.opening(D("1000")), params
    )


def test_a_buy_rests_below_the_market_is_reserved_then_fills_when_the_price_comes_down() -> None:
    placed, waiting, filled = _run(
        _snap(0, "100", "101", "100", "101"),  # BUY limit under the ask: rests
        _snap(1, "100", "101", "100.5", "101"),  # the market stays above it
        _snap(2, "99", "100", "99", "100.5"),  # the low reaches the limit
    )
    (order,) = placed.orders
    assert (order.side.value, order.status.value, order.filled_qty) == ("BUY", "ACKED", D("0"))
    assert order.price_try == D("100.44") and placed.fills == ()  # mark 100.5 less 5 bps, under the ask
    # the next cycle plans nothing new for BTCTRY: its cash is reserved, its target met by the open order
    assert waiting.fills == () and [i for i in waiting.intents if i.planned] == []
    assert waiting.plan.cash_try == D("1000") - order.qty * order.price_try * (1 + D("0.002"))
    (fill,) = filled.fills
    assert (fill.client_order_id, fill.fill_price_try, fill.qty) == (order.client_order_id, order.price_try, order.qty)
    assert filled.state.oms.open_orders == ()
    m = filled.metrics
    assert m.equity_try == m.start_capital_try + m.net_pnl_try == m.cash_try + m.positions_value_try


def test_an_order_the_market_left_behind_is_replaced_with_a_new_id_at_the_new_price() -> None:
    placed, moved = _run(
        _snap(0, "100", "101", "100", "101"),
        _snap(1, "102", "103", "101", "103"),  # up ~2 %: the old limit is 200 bps off, more than 50
    )
    (old,) = placed.orders
    by_id = {o.client_order_id: o for o in moved.orders}
    assert (by_id[old.client_order_id].status.value, by_id[old.client_order_id].reason) == ("CANCELED", "replaced")
    (new,) = [o for o in moved.orders if o.client_order_id != old.client_order_id]
    assert new.side.value == "BUY" and new.price_try > old.price_try and new.placed_cycle_id != old.placed_cycle_id
    # the remainder was planned again: not reserved twice
    assert moved.plan.cash_try == D("1000")


def test_a_small_move_keeps_the_order_open() -> None:
    placed, still = _run(_snap(0, "100", "101", "100", "101"), _snap(1, "100.2", "101.2", "100.5", "101.2"))
    (old,) = placed.orders
    assert [o.client_order_id for o in still.state.oms.open_orders] == [old.client_order_id]
    assert [o for o in still.orders if o.reason == "replaced"] == []


def test_the_venue_gets_a_bar_for_every_symbol_with_a_mark() -> None:
    """Built when looked up, but the same bars as if built up front: one per symbol with a
    mark (not the skipped one, not the one whose book gives no mark)."""
    seen: list[ExecutionRequest] = []

    class Watching:
        name = "watching"

        def execute(self, state: OmsState, request: ExecutionRequest) -> OmsStep:
            seen.append(request)
            return SIMULATED.execute(state, request)

    btc = replace(symbol("BTCTRY", bid="100", ask="102"), bar_low=D("99"), bar_high=D("103"), bar_volume=D("5"))
    eth = symbol("ETHTRY", bid="10", ask="11")
    snap = snapshot(btc, eth, symbol("XRPTRY", skip_reason="stale_data"), symbol("ADATRY", bid="0", ask="1"))
    run_cycles(
        [snap], [select_universe(snap, PARAMS.universe)], LedgerState.opening(D("1000")), PARAMS, venue=Watching()
    )
    (request,) = seen
    assert dict(request.bars) == {
        "BTCTRY": Bar("BTCTRY", D("101"), D("100"), D("102"), D("99"), D("103"), D("5")),
        "ETHTRY": Bar("ETHTRY", D("10.5"), D("10"), D("11")),
    }
    assert len(request.bars) == 2 and request.bars.get("XRPTRY") is None and "ADATRY" not in request.bars
