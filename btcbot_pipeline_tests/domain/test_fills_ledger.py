"""Dry-run fills and the Stage 7 ledger (seed PR-1 definitions).

The ledger test is a worked example in the style of NautilusTrader's position tests: one
book, four fills, and every metric asserted with exact ``Decimal`` equality after each
step, together with the seed identities.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.fills import OrderEvent, SimulatedFill, simulate_fills
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent
from btcbot_pipeline.domain.ledger import Holding, LedgerIntegrityError, LedgerMetrics, LedgerState
from btcbot_pipeline.domain.params import ExecutionParams
from btcbot_pipeline.domain.vocabulary import Mode, Side
from btcbot_pipeline.testing.builders import CYCLE_TS

BUY, SELL = Side.BUY, Side.SELL
COSTS = ExecutionParams()  # slippage 25 bps, fee 20 bps
FREE = ExecutionParams(order_offset_bps=D("0"), slippage_bps=D("0"), fees_bps=D("0"))


def intent(
    side: Side,
    qty: str,
    mark: str,
    *,
    symbol: str = "AAATRY",
    cycle_id: str = "c1",
    status: IntentStatus = IntentStatus.PLANNED,
) -> OrderIntent:
    return OrderIntent(
        cycle_id=cycle_id,
        cycle_ts=CYCLE_TS,
        client_order_id=f"coid-{symbol}-{side.value}",
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        price_try=D(mark),
        qty=D(qty),
        notional_try=D(mark) * D(qty),
        mark_price_try=D(mark),
        status=status,
        reason="test",
        skip_reason=None if status is IntentStatus.PLANNED else "min_notional",
        rules_status="ok",
    )


def fill(
    side: Side,
    qty: str,
    mark: str,
    *,
    symbol: str = "AAATRY",
    cycle_id: str = "c1",
    execution: ExecutionParams = COSTS,
) -> SimulatedFill:
    (only,), _ = simulate_fills((intent(side, qty, mark, symbol=symbol, cycle_id=cycle_id),), execution, Mode.NORMAL)
    return only


# -- fills ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "notional", "fee", "slippage"),
    [
        # 100 × 1.0025 = 100.25; 2 × 100.25 = 200.5; fee 200.5 × 0.002 = 0.401; slip 0.25 × 2
        (BUY, D("100.25"), D("200.5"), D("0.401"), D("0.5")),
        # 100 × 0.9975 = 99.75; 2 × 99.75 = 199.5; fee 199.5 × 0.002 = 0.399; slip 0.25 × 2
        (SELL, D("99.75"), D("199.5"), D("0.399"), D("0.5")),
    ],
)
def test_fill_price_fee_and_slippage(side: Side, price: D, notional: D, fee: D, slippage: D) -> None:
    assert fill(side, "2", "100", cycle_id="20260101T003000Z") == SimulatedFill(
        fill_id=f"s7:20260101T003000Z:coid-AAATRY-{side.value}",
        cycle_id="20260101T003000Z",
        cycle_ts=CYCLE_TS,
        client_order_id=f"coid-AAATRY-{side.value}",
        symbol="AAATRY",
        side=side,
        qty=D("2"),
        mark_price_try=D("100"),
        fill_price_try=price,
        notional_try=notional,
        fee_try=fee,
        slippage_try=slippage,
    )


def test_each_fill_leaves_submitted_then_filled_events() -> None:
    intents = (intent(SELL, "1", "100"), intent(BUY, "1", "50", symbol="BBBTRY"))
    fills, events = simulate_fills(intents, COSTS, Mode.NORMAL)
    assert [f.fill_id for f in fills] == ["s7:c1:coid-AAATRY-SELL", "s7:c1:coid-BBBTRY-BUY"]
    assert events == (
        OrderEvent("coid-AAATRY-SELL:SUBMITTED", "c1", CYCLE_TS, "coid-AAATRY-SELL", "SUBMITTED", "OPEN"),
        OrderEvent("coid-AAATRY-SELL:FILLED", "c1", CYCLE_TS, "coid-AAATRY-SELL", "FILLED", "FILLED"),
        OrderEvent("coid-BBBTRY-BUY:SUBMITTED", "c1", CYCLE_TS, "coid-BBBTRY-BUY", "SUBMITTED", "OPEN"),
        OrderEvent("coid-BBBTRY-BUY:FILLED", "c1", CYCLE_TS, "coid-BBBTRY-BUY", "FILLED", "FILLED"),
    )


@pytest.mark.parametrize(
    ("mode", "filled"),
    [
        (Mode.NORMAL, [("AAATRY", "SELL"), ("BBBTRY", "BUY")]),
        (Mode.REDUCE_RISK_ONLY, [("AAATRY", "SELL")]),  # BUYs are not simulated
        (Mode.OBSERVE_ONLY, []),  # nothing is simulated
    ],
)
def test_mode_gates_simulation(mode: Mode, filled: list[tuple[str, str]]) -> None:
    intents = (
        intent(SELL, "1", "100"),
        intent(BUY, "1", "50", symbol="BBBTRY"),
        intent(BUY, "1", "50", symbol="CCCTRY", status=IntentStatus.SKIPPED),  # never filled
    )
    fills, events = simulate_fills(intents, COSTS, mode)
    assert [(f.symbol, f.side.value) for f in fills] == filled
    assert len(events) == 2 * len(filled)


# -- ledger worked example -----------------------------------------------------------


def metrics_table(m: LedgerMetrics) -> dict[str, D]:
    return {
        "realized": m.realized_pnl_try,
        "unrealized": m.unrealized_pnl_try,
        "gross": m.gross_pnl_try,
        "fees": m.fees_try,
        "slippage": m.slippage_try,
        "net": m.net_pnl_try,
        "cash": m.cash_try,
        "equity": m.equity_try,
        "turnover": m.turnover_try,
        "max_drawdown": m.max_drawdown,
    }


def assert_identities(m: LedgerMetrics, state: LedgerState) -> None:
    marked = sum((h.qty * state.marks[s] for s, h in state.holdings.items()), D(0))
    assert m.gross_pnl_try == m.realized_pnl_try + m.unrealized_pnl_try
    assert m.net_pnl_try == m.gross_pnl_try - m.fees_try - m.slippage_try
    assert m.equity_try == m.start_capital_try + m.net_pnl_try
    assert m.equity_try == m.cash_try + marked
    assert m.positions_value_try == marked
    assert all(h.qty > 0 for h in state.holdings.values())


def test_ledger_worked_example() -> None:
    ts = [CYCLE_TS + timedelta(minutes=5 * i) for i in range(4)]
    state = LedgerState.opening(D("10000"))

    # 1. BUY 10 @ mark 100: fill 100.25, notional 1002.5, fee 2.005, slippage 2.5
    #    cash 10000 - 1002.5 - 2.005 = 8995.495; cost basis 10 × 100 = 1000
    #    marked at 100: unrealized 0; net -2.005 - 2.5 = -4.505; drawdown 4.505 / 10000
    state, m = state.apply_fills([fill(BUY, "10", "100")]).close_cycle("c1", ts[0], {"AAATRY": D("100")})
    assert metrics_table(m) == {
        "realized": D("0"), "unrealized": D("0"), "gross": D("0"),
        "fees": D("2.005"), "slippage": D("2.5"),
        "net": D("-4.505"), "cash": D("8995.495"), "equity": D("9995.495"), "turnover": D("1002.5"),
        "max_drawdown": D("0.0004505"),
    }  # fmt: skip
    assert state.holdings == {"AAATRY": Holding(D("10"), D("1000"))}
    assert_identities(m, state)

    # 2. BUY 10 @ mark 110: fill 110.275, notional 1102.75, fee 2.2055, slippage 2.75
    #    holding 20 at cost 1000 + 1100 = 2100 (average 105)
    #    cash 8995.495 - 1102.75 - 2.2055 = 7890.5395
    #    marked at 110: unrealized 2200 - 2100 = 100; fees 4.2105, slippage 5.25
    #    net 100 - 9.4605 = 90.5395 → new peak 10090.5395, max drawdown stays 0.0004505
    state, m = state.apply_fills([fill(BUY, "10", "110")]).close_cycle("c2", ts[1], {"AAATRY": D("110")})
    assert metrics_table(m) == {
        "realized": D("0"), "unrealized": D("100"), "gross": D("100"),
        "fees": D("4.2105"), "slippage": D("5.25"),
        "net": D("90.5395"), "cash": D("7890.5395"),
        "equity": D("10090.5395"), "turnover": D("2105.25"),
        "max_drawdown": D("0.0004505"),
    }  # fmt: skip
    assert state.holdings["AAATRY"].avg_cost_try == D("105")
    assert_identities(m, state)

    # 3. SELL 5 @ mark 120: fill 119.7, notional 598.5, fee 1.197, slippage 1.5
    #    releases 2100 × 5 / 20 = 525 of cost; realized (pre-fee) 5 × 120 - 525 = 75
    #    holding 15 at cost 1575; cash 7890.5395 + 598.5 - 1.197 = 8487.8425
    #    marked at 120: unrealized 1800 - 1575 = 225; gross 300; fees 5.4075; slippage 6.75
    state, m = state.apply_fills([fill(SELL, "5", "120")]).close_cycle("c3", ts[2], {"AAATRY": D("120")})
    assert metrics_table(m) == {
        "realized": D("75"), "unrealized": D("225"), "gross": D("300"),
        "fees": D("5.4075"), "slippage": D("6.75"),
        "net": D("287.8425"), "cash": D("8487.8425"),
        "equity": D("10287.8425"), "turnover": D("2703.75"),
        "max_drawdown": D("0.0004505"),
    }  # fmt: skip
    assert state.holdings == {"AAATRY": Holding(D("15"), D("1575"))}
    assert_identities(m, state)

    # 4. SELL 15 @ mark 90 (full): fill 89.775, notional 1346.625, fee 2.69325, slippage 3.375
    #    realized 75 + (15 × 90 - 1575) = 75 - 225 = -150; position closed, all cash
    #    cash 8487.8425 + 1346.625 - 2.69325 = 9831.77425; fees 8.10075; slippage 10.125
    #    drawdown (10287.8425 - 9831.77425) / 10287.8425 = 0.044330796277 (12 places)
    state, m = state.apply_fills([fill(SELL, "15", "90")]).close_cycle("c4", ts[3], {"AAATRY": D("90")})
    assert metrics_table(m) == {
        "realized": D("-150"), "unrealized": D("0"), "gross": D("-150"), "fees": D("8.10075"),
        "slippage": D("10.125"), "net": D("-168.22575"),
        "cash": D("9831.77425"), "equity": D("9831.77425"),
        "turnover": D("4050.375"), "max_drawdown": D("0.044330796277"),
    }  # fmt: skip
    assert state.holdings == {}
    assert state.marks == {}
    assert state.peak_equity_try == D("10287.8425")
    assert_identities(m, state)


def test_oversell_is_an_integrity_error() -> None:
    state = LedgerState.opening(D("1000")).apply_fills([fill(BUY, "1", "100", execution=FREE)])
    with pytest.raises(
        LedgerIntegrityError,
        match=re.escape("oversell of AAATRY: fill s7:c1:coid-AAATRY-SELL sells 2, held 1"),
    ):
        state.apply_fills([fill(SELL, "2", "100")])


def test_selling_what_was_never_held_is_an_integrity_error() -> None:
    with pytest.raises(
        LedgerIntegrityError,
        match=re.escape("oversell of BBBTRY: fill s7:c1:coid-BBBTRY-SELL sells 1, held 0"),
    ):
        LedgerState.opening(D("1000")).apply_fills([fill(SELL, "1", "50", symbol="BBBTRY")])


def test_holding_without_any_mark_is_an_integrity_error() -> None:
    state = LedgerState(
        start_capital_try=D("1000"),
        cash_try=D("900"),
        holdings={"AAATRY": Holding(D("1"), D("100"))},
    )
    with pytest.raises(LedgerIntegrityError, match=re.escape("no mark price ever seen for held symbol AAATRY")):
        state.close_cycle("c1", CYCLE_TS, {})


def test_max_drawdown_keeps_the_worst_peak_to_trough() -> None:
    # no costs: 10 units bought at 100 with all 1000 of cash, so equity = 10 × mark
    state = LedgerState.opening(D("1000")).apply_fills([fill(BUY, "10", "100", execution=FREE)])
    assert state.cash_try == D("0")

    def close(s: LedgerState, mark: str) -> tuple[LedgerState, LedgerMetrics]:
        return s.close_cycle("c", CYCLE_TS, {"AAATRY": D(mark)})

    state, m = close(state, "120")  # peak 1200, drawdown 0
    assert (m.equity_try, state.peak_equity_try, m.max_drawdown) == (D("1200"), D("1200"), D("0"))
    state, m = close(state, "90")  # trough: (1200 - 900) / 1200 = 0.25
    assert (m.equity_try, state.peak_equity_try, m.max_drawdown) == (D("900"), D("1200"), D("0.25"))
    state, m = close(state, "110")  # recovery: (1200 - 1100) / 1200 = 0.083…, max stays 0.25
    assert (m.equity_try, state.peak_equity_try, m.max_drawdown) == (
        D("1100"),
        D("1200"),
        D("0.25"),
    )
    state, m = close(state, "130")  # new peak 1300
    assert (m.equity_try, state.peak_equity_try, m.max_drawdown) == (
        D("1300"),
        D("1300"),
        D("0.25"),
    )
    state, m = close(state, "117")  # (1300 - 1170) / 1300 = 0.1 < 0.25
    assert (m.equity_try, state.peak_equity_try, m.max_drawdown) == (
        D("1170"),
        D("1300"),
        D("0.25"),
    )
    assert state.max_drawdown == D("0.25")


def test_holding_without_a_new_mark_keeps_its_last_mark() -> None:
    # AAA 1 @ 100 and BBB 2 @ 50 bought without costs from 1000
    state = LedgerState.opening(D("1000")).apply_fills(
        [
            fill(BUY, "1", "100", execution=FREE),
            fill(BUY, "2", "50", symbol="BBBTRY", execution=FREE),
        ]
    )
    state, m = state.close_cycle("c1", CYCLE_TS, {"AAATRY": D("100"), "BBBTRY": D("50")})
    assert (m.positions_value_try, m.equity_try) == (D("200"), D("1000"))

    # only AAA is marked (110); BBB stays at 50: positions 110 + 2 × 50 = 210, unrealized 10
    state, m = state.close_cycle("c2", CYCLE_TS, {"AAATRY": D("110")})
    assert (m.positions_value_try, m.unrealized_pnl_try, m.equity_try) == (
        D("210"),
        D("10"),
        D("1010"),
    )
    assert state.marks == {"AAATRY": D("110"), "BBBTRY": D("50")}

    # no marks at all: both keep their last one
    state, m = state.close_cycle("c3", CYCLE_TS, {})
    assert (m.positions_value_try, m.equity_try) == (D("210"), D("1010"))
    assert_identities(m, state)


def test_no_fills_leave_the_state_untouched() -> None:
    opening = LedgerState.opening(D("1000"))
    assert opening.apply_fills([]) is opening


def test_identities_survive_many_partial_sells_at_awkward_prices() -> None:
    # Found on real 2018 candles: cost × q / Q released at full precision grew cost bases
    # to 60 significant digits and the equity identity broke in its last digit. Released
    # cost is now on a 1e-18 grid. Thirds of positions at odd marks, topped up again, on
    # several symbols of different price scales reproduce it.
    state = LedgerState.opening(D("10000"))
    symbols = {"ETHTRY": "22420.0311", "LTCTRY": "4264.5757", "ADATRY": "12.8553"}
    state = state.apply_fills(
        [
            fill(BUY, qty, mark, symbol=s)
            for s, (qty, mark) in zip(
                symbols, [("0.08671108", "22420.0311"), ("0.45586277", "4264.5757"), ("151.54664921", "12.8553")]
            )
        ]
    )
    for n in range(12):
        fills, marks = [], {}
        for k, (symbol, base) in enumerate(symbols.items()):
            mark = D(base) + D("0.0137") * n - D("0.0011") * k  # odd, drifting marks
            marks[symbol] = mark
            held = state.holdings[symbol].qty
            third = (held / 3).quantize(D("0.00000001"))
            fills.append(fill(SELL, str(third), str(mark), symbol=symbol, cycle_id=f"c{n}"))
            fills.append(
                fill(BUY, str((third * D("0.9")).quantize(D("0.00000001"))), str(mark), symbol=symbol, cycle_id=f"c{n}")
            )
        state, metrics = state.apply_fills(fills).close_cycle(f"c{n}", CYCLE_TS + timedelta(minutes=5 * n), marks)
        assert_identities(metrics, state)
