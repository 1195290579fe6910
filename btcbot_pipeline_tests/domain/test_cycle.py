"""Cycles folded over 30 synthetic snapshots: identities, carry, determinism, modes, payloads.

The price path is deterministic: symbol ``k`` at cycle ``i`` has mid
``base × (1 + (((i × (k + 3) + 7k) mod 11) - 5) / 200)`` (±2.5 %), a spread of
``5 + 10 × ((i + 2k) mod 6)`` bps and a volume that steps by 10 % with ``i``. XRPTRY's
book is crossed at cycles 5–7 and empty at 8–10, while the bot holds it (bought at 4).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from functools import cache

import pytest

from btcbot_pipeline.domain.cycle import (
    CycleResult,
    ModeDecision,
    cycle_id_for,
    run_cycle,
    run_cycles,
)
from btcbot_pipeline.domain.exchange_rules import rules_stats
from btcbot_pipeline.domain.fills import simulate_fills
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.domain.params import (
    CycleParams,
    InvalidMetadataPolicy,
    PolicyParams,
    RulesParams,
    UniverseParams,
)
from btcbot_pipeline.domain.payloads import (
    dumps,
    fill_payload,
    intent_payload,
    ledger_state_from_payload,
    ledger_state_payload,
    metrics_payload,
    plan_payload,
    snapshot_from_payloads,
    symbol_payload,
    universe_payload,
)
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.trace import CycleTrace, build_trace
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.testing.builders import CYCLE_TS, rules, snapshot, symbol

N_CYCLES = 30
START = D("10000")
SPECS = [  # name, base mid, tick, price scale, quantity scale, 24 h volume
    ("AVAXTRY", "1234.56", "0.01", 2, 4, "4000000"),
    ("BTCTRY", "1234567", "10", 2, 8, "9000000"),  # BTCTurk's real grid: tick 10, scales 2/8
    ("ETHTRY", "45678.9", "0.1", 1, 6, "6000000"),
    ("SOLTRY", "5678.9", "0.1", 1, 4, "3000000"),
    ("XRPTRY", "23.456", "0.001", 3, 2, "8000000"),
]
CROSSED, NO_BOOK = range(5, 8), range(8, 11)
DEMO = CycleParams(
    universe=UniverseParams(size=3),
    policy=PolicyParams(max_orders_per_cycle=5, notional_cap_try_per_cycle=D("10000")),
    start_capital_try=START,
    kill_switch=False,
    base_mode=Mode.NORMAL,
    # The risk budget has its own tests (test_risk.py); here it never trips.
    risk=RiskLimits(max_drawdown_pct=D("1"), max_daily_loss_try=D("1E9")),
)


def _mid(k: int, i: int, base: str, tick: str) -> D:
    step = ((i * (k + 3) + 7 * k) % 11) - 5
    return (D(base) * (1 + D(step) / 200)).quantize(D(tick))


def make_snapshot(i: int) -> MarketSnapshot:
    cycle_ts = CYCLE_TS + timedelta(minutes=5 * i)
    symbols = []
    for k, (name, base, tick, price_scale, quantity_scale, volume) in enumerate(SPECS):
        mid = _mid(k, i, base, tick)
        half = (mid * D(5 + 10 * ((i + 2 * k) % 6)) / 20000).quantize(D(tick))
        bid, ask = str(mid - half), str(mid + half)
        if name == "XRPTRY" and i in CROSSED:
            bid, ask = ask, bid
        symbols.append(
            symbol(
                name,
                bid=None if name == "XRPTRY" and i in NO_BOOK else bid,
                ask=None if name == "XRPTRY" and i in NO_BOOK else ask,
                volume=str(D(volume) * (1 + D((i * (k + 1)) % 5) / 10)),
                closes=tuple(str(_mid(k, j, base, tick)) for j in range(max(0, i - 5), i + 1)),
                data_ts=cycle_ts,
                symbol_rules=rules(name, tick=tick, price_scale=price_scale, quantity_scale=quantity_scale),
            )
        )
    return finalize_snapshot(snapshot(*symbols, cycle_ts=cycle_ts), max_data_age_s=60)


def inputs(params: CycleParams = DEMO) -> tuple[list[MarketSnapshot], list[UniverseSelection]]:
    snapshots = [make_snapshot(i) for i in range(N_CYCLES)]
    return snapshots, [select_universe(s, params.universe) for s in snapshots]


def run(params: CycleParams = DEMO) -> list[CycleResult]:
    snapshots, selections = inputs(params)
    return run_cycles(snapshots, selections, LedgerState.opening(START), params)


@cache
def demo() -> tuple[CycleResult, ...]:
    return tuple(run())


def trace_of(
    result: CycleResult, snap: MarketSnapshot, selection: UniverseSelection, params: CycleParams
) -> CycleTrace:
    return build_trace(
        market={
            "skipped": [{"symbol": s, "reason": r} for s, r in selection.rejected],
            "degraded_reason": snap.degraded_reason,
        },
        universe=universe_payload(selection),
        plan=plan_payload(result),
        intents=[intent_payload(i) for i in result.intents],
        fills=[fill_payload(f) for f in result.fills],
        ledger=metrics_payload(result.metrics),
        active_params=params.as_dict(),
    )


def test_scenario_trades_and_meets_bad_books_while_holding() -> None:
    results, (snapshots, selections) = demo(), inputs()
    fills = [f for r in results for f in r.fills]
    assert {f.side.value for f in fills} == {"BUY", "SELL"}
    assert results[-1].metrics.realized_pnl_try != 0
    assert [dict(s.rejected).get("XRPTRY") for s in selections[4:12]] == [
        None, "crossed_book", "crossed_book", "crossed_book",
        "missing_book", "missing_book", "missing_book", None,
    ]  # fmt: skip
    # XRPTRY cannot be sold while its data is bad, and is valued at its last mark (cycle 4)
    exits = [next(a for a in r.plan.actions if a.symbol == "XRPTRY") for r in results[5:11]]
    assert [a.skip_reason for a in exits] == ["not_tradable:crossed_book"] * 3 + ["not_tradable:missing_book"] * 3
    assert {r.state.marks["XRPTRY"] for r in results[4:11]} == {snapshots[4].by_symbol()["XRPTRY"].mark}


@pytest.mark.parametrize("i", range(N_CYCLES))
def test_identities_hold_at_every_cycle(i: int) -> None:
    result = demo()[i]
    m, state = result.metrics, result.state
    marked = sum((h.qty * state.marks[s] for s, h in state.holdings.items()), D(0))
    assert m.gross_pnl_try == m.realized_pnl_try + m.unrealized_pnl_try
    assert m.net_pnl_try == m.gross_pnl_try - m.fees_try - m.slippage_try
    assert m.equity_try == START + m.net_pnl_try
    assert m.equity_try == m.cash_try + marked


def test_carried_state_is_the_next_cycle_start() -> None:
    snapshots, selections = inputs()
    first = run_cycles(snapshots[:15], selections[:15], LedgerState.opening(START), DEMO)
    second = run_cycles(snapshots[15:], selections[15:], first[-1].state, DEMO, risk=first[-1].risk.state)
    assert [r.metrics for r in first + second] == [r.metrics for r in demo()]
    assert second[-1].state == demo()[-1].state


def test_two_runs_are_equal() -> None:
    assert run() == list(demo())


def test_mismatched_inputs_are_refused() -> None:
    snapshots, selections = inputs()
    with pytest.raises(ValueError, match=re.escape("3 snapshots but 2 universe selections")):
        run_cycles(snapshots[:3], selections[:2], LedgerState.opening(START), DEMO)
    with pytest.raises(
        ValueError,
        match=re.escape("universe of 2026-01-01 00:35:00+00:00 paired with snapshot of 2026-01-01 00:30:00+00:00"),
    ):
        run_cycles(snapshots[:1], selections[1:2], LedgerState.opening(START), DEMO)


def test_kill_switch_observes_only() -> None:
    results = run(replace(DEMO, kill_switch=True))
    assert {r.mode for r in results} == {
        ModeDecision(Mode.NORMAL, Mode.OBSERVE_ONLY, Mode.OBSERVE_ONLY, ("kill_switch",))
    }
    assert [(r.intents, r.fills, r.events) for r in results] == [((), (), ())] * N_CYCLES
    assert {r.metrics.equity_try for r in results} == {START}
    assert {a.skip_reason for r in results for a in r.plan.actions} == {"observe_only"}


def _without_rules(snap: MarketSnapshot, name: str) -> MarketSnapshot:
    return replace(snap, symbols=tuple(replace(s, rules=None) if s.symbol == name else s for s in snap.symbols))


def _one_cycle(
    policy: InvalidMetadataPolicy,
) -> tuple[CycleResult, MarketSnapshot, UniverseSelection, CycleParams]:
    params = replace(DEMO, rules=RulesParams(invalid_metadata_policy=policy))
    snap = _without_rules(make_snapshot(0), "XRPTRY")
    selection = select_universe(snap, params.universe)
    assert selection.selected == ("BTCTRY", "XRPTRY", "AVAXTRY")
    (result,) = run_cycles([snap], [selection], LedgerState.opening(START), params)
    return result, snap, selection, params


def test_observe_only_cycle_policy_forces_observe_only() -> None:
    result, *_ = _one_cycle(InvalidMetadataPolicy.OBSERVE_ONLY_CYCLE)
    assert result.mode == ModeDecision(Mode.NORMAL, Mode.OBSERVE_ONLY, Mode.OBSERVE_ONLY, ("rules_unavailable:XRPTRY",))
    assert (result.intents, result.fills) == ((), ())
    assert result.rules_stats["missing_symbols"] == ["XRPTRY"]


def test_skip_symbol_policy_skips_only_that_symbol() -> None:
    result, *_ = _one_cycle(InvalidMetadataPolicy.SKIP_SYMBOL)
    assert result.mode == ModeDecision(Mode.NORMAL, None, Mode.NORMAL, ())
    assert [(i.symbol, i.side.value, i.status.value, i.skip_reason) for i in result.intents] == [
        ("BTCTRY", "BUY", "PLANNED", None),
        ("XRPTRY", "BUY", "SKIPPED", "rules_unavailable:missing"),
        ("AVAXTRY", "BUY", "PLANNED", None),
    ]
    assert [f.symbol for f in result.fills] == ["BTCTRY", "AVAXTRY"]


def test_reduce_risk_only_base_is_never_loosened_and_never_buys() -> None:
    # 10 NORMAL cycles build a book; then REDUCE_RISK_ONLY with a universe of one forces exits
    snapshots, selections = inputs()
    opened = run_cycles(snapshots[:10], selections[:10], LedgerState.opening(START), DEMO)
    reduce = replace(DEMO, base_mode=Mode.REDUCE_RISK_ONLY, universe=UniverseParams(size=1))
    later = run_cycles(
        snapshots[10:],
        [select_universe(s, reduce.universe) for s in snapshots[10:]],
        opened[-1].state,
        reduce,
    )
    assert {r.mode.final for r in later} == {Mode.REDUCE_RISK_ONLY}
    assert {f.side.value for r in later for f in r.fills} == {"SELL"}
    assert {a.skip_reason for r in later for a in r.plan.actions if a.side.value == "BUY"} <= {"mode_reduce_risk_only"}


def test_reduce_risk_only_with_kill_switch_is_observe_only() -> None:
    snapshots, selections = inputs()
    params = replace(DEMO, base_mode=Mode.REDUCE_RISK_ONLY, kill_switch=True)
    (result,) = run_cycles(snapshots[:1], selections[:1], LedgerState.opening(START), params)
    assert result.mode == ModeDecision(Mode.REDUCE_RISK_ONLY, Mode.OBSERVE_ONLY, Mode.OBSERVE_ONLY, ("kill_switch",))


@pytest.mark.parametrize("i", range(N_CYCLES))
def test_state_payload_round_trip(i: int) -> None:
    state = demo()[i].state
    assert ledger_state_from_payload(ledger_state_payload(state)) == state
    assert ledger_state_from_payload(json.loads(dumps(ledger_state_payload(state)))) == state


@pytest.mark.parametrize("i", [0, 5, 8, 29])  # clean, crossed, empty book, last
def test_snapshot_payload_round_trip(i: int) -> None:
    snap = make_snapshot(i)
    payloads = json.loads(dumps([symbol_payload(s) for s in snap.symbols]))
    assert snapshot_from_payloads(snap.cycle_ts, payloads) == snap


@pytest.mark.parametrize("i", range(N_CYCLES))
def test_trace_gives_every_skipped_decision_a_reason(i: int) -> None:
    snapshots, selections = inputs()
    trace = trace_of(demo()[i], snapshots[i], selections[i], DEMO)
    skipped = [d for d in json.loads(trace.order_decisions_json) if d["status"] == "SKIPPED"]
    assert all(isinstance(d["reason"], str) and d["reason"] for d in skipped)
    assert json.loads(trace.mode_json) == {
        "base_mode": "NORMAL", "override_mode": None, "final_mode": "NORMAL", "reasons": [],
    }  # fmt: skip


def test_demo_traces_do_record_skips() -> None:
    # guards the test above against passing vacuously
    snapshots, selections = inputs()
    reasons = {
        d["reason"]
        for i in range(N_CYCLES)
        for d in json.loads(trace_of(demo()[i], snapshots[i], selections[i], DEMO).order_decisions_json)
        if d["status"] == "SKIPPED"
    }
    assert {"not_tradable:crossed_book", "not_tradable:missing_book", "min_notional"} <= reasons


def test_kill_switch_trace() -> None:
    params = replace(DEMO, kill_switch=True)
    snapshots, selections = inputs(params)
    (result,) = run_cycles(snapshots[:1], selections[:1], LedgerState.opening(START), params)
    trace = trace_of(result, snapshots[0], selections[0], params)
    assert json.loads(trace.mode_json) == {
        "base_mode": "NORMAL", "override_mode": "OBSERVE_ONLY",
        "final_mode": "OBSERVE_ONLY", "reasons": ["kill_switch"],
    }  # fmt: skip
    assert (trace.base_mode, trace.final_mode) == ("NORMAL", "OBSERVE_ONLY")
    assert [(d["symbol"], d["status"], d["reason"]) for d in json.loads(trace.order_decisions_json)] == [
        ("BTCTRY", "SKIPPED", "observe_only"),
        ("XRPTRY", "SKIPPED", "observe_only"),
        ("AVAXTRY", "SKIPPED", "observe_only"),
    ]


def test_skip_symbol_trace() -> None:
    result, snap, selection, params = _one_cycle(InvalidMetadataPolicy.SKIP_SYMBOL)
    trace = trace_of(result, snap, selection, params)
    intent_decisions = [d for d in json.loads(trace.order_decisions_json) if d["stage"] == "intent"]
    assert [(d["symbol"], d["status"], d["reason"]) for d in intent_decisions] == [
        ("BTCTRY", "FILLED", "enter_universe"),
        ("XRPTRY", "SKIPPED", "rules_unavailable:missing"),
        ("AVAXTRY", "FILLED", "enter_universe"),
    ]
    assert json.loads(trace.intents_summary_json)["skip_reasons"] == {"rules_unavailable:missing": 1}
    assert json.loads(trace.rules_stats_json)["missing_symbols"] == ["XRPTRY"]


@pytest.mark.parametrize(("cash_target", "size"), [("300", 3), ("0", 1)])
def test_cash_never_goes_below_the_cash_target(cash_target: str, size: int) -> None:
    # The plan budgets with estimates; the intents' cash guard makes it exact: a skipped
    # SELL brings nothing and a price floored to the tick costs a little more.
    params = replace(
        DEMO,
        policy=replace(DEMO.policy, try_cash_target=D(cash_target), try_cash_max=D("600")),
        universe=replace(DEMO.universe, size=size),
    )
    for result in run(params):
        assert result.state.cash_try >= D(cash_target), result.cycle_id


def test_degraded_market_snapshot_observes_only_with_its_reason() -> None:
    snapshots, selections = inputs()
    degraded = replace(snapshots[4], degraded_reason="exchange_unreachable")

    result = run_cycle(degraded, selections[4], run()[3].state, DEMO)

    assert (result.mode.final, result.mode.reasons) == (
        Mode.OBSERVE_ONLY,
        ("market_data_degraded:exchange_unreachable",),
    )
    assert (result.intents, result.fills) == ((), ())


def test_the_seed_fill_model_fills_like_the_seed_and_each_order_leaves_its_lifecycle() -> None:
    # The OMS with the seed model (the default) fills exactly what the seed's simulation
    # filled; every filled order went SUBMITTED → ACKED → FILLED, one event each, in order.
    for result in demo():
        assert result.fills == simulate_fills(result.intents, DEMO.execution, result.mode.final)[0]
        assert result.rules_stats == rules_stats(result.rules)
        for fill in result.fills:
            mine = [
                (e.seq, e.event_type.value, e.status_after.value)
                for e in result.events
                if e.client_order_id == fill.client_order_id
            ]
            assert mine == [(1, "SUBMITTED", "SUBMITTED"), (2, "ACKED", "ACKED"), (3, "FILLED", "FILLED")]
        assert (
            [e.event_id for e in result.events][:1] == [f"{result.fills[0].client_order_id}:0001:SUBMITTED"]
            if result.fills
            else True
        )
        assert result.state.oms.open_orders == ()
    assert sum(len(r.events) for r in demo()) == 3 * sum(len(r.fills) for r in demo()) > 0


def test_run_cycle_equals_one_step_of_the_fold() -> None:
    snapshots, selections = inputs()
    folded = demo()

    one = run_cycle(snapshots[4], selections[4], folded[3].state, DEMO, folded[3].risk.state)  # type: ignore[union-attr]

    assert one == folded[4]


@pytest.mark.parametrize("minutes", [0, 5, 61, 60 * 24 * 365 + 7])
def test_cycle_id_is_strftime_text(minutes: int) -> None:
    cycle_ts = CYCLE_TS + timedelta(minutes=minutes, seconds=minutes % 60)

    assert cycle_id_for(cycle_ts) == cycle_ts.strftime("%Y%m%dT%H%M%SZ")
