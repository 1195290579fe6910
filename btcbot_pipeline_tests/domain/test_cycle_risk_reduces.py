"""The risk budget's later limits and knobs inside the fold (issue 18): a drawdown breach
under STAGE7_DRAWDOWN_MODE=REDUCE_RISK_ONLY lets exits through and blocks entries, where
OBSERVE_ONLY freezes the book; COOLDOWN_SECONDS holds back a symbol's next order."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from btcbot_pipeline.domain.cycle import run_cycles
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.plan import ActionStatus
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.domain.vocabulary import Mode, Side
from btcbot_pipeline_tests.domain.test_cycle import DEMO, START, make_snapshot

SNAPS = [make_snapshot(i) for i in range(12)]


def fold(params):  # type: ignore[no-untyped-def]
    return run_cycles(SNAPS, [select_universe(s, params.universe) for s in SNAPS], LedgerState.opening(START), params)


def breaching(mode: Mode):  # type: ignore[no-untyped-def]
    # a drawdown limit any loss breaches (fees alone), with the mode under test
    return replace(DEMO, risk=replace(DEMO.risk, max_drawdown_pct=D("0.0001"), drawdown_mode=mode, cooldown_s=0))


def test_a_drawdown_breach_under_reduce_risk_only_lets_exits_through_and_blocks_entries() -> None:
    results = fold(breaching(Mode.REDUCE_RISK_ONLY))
    reduced = [r for r in results if r.mode.final is Mode.REDUCE_RISK_ONLY]
    assert reduced and all(r.mode.base is Mode.REDUCE_RISK_ONLY for r in reduced)
    assert any("risk:drawdown_limit:breached" in r.mode.reasons for r in reduced)
    planned = [(i.side, i.symbol) for r in reduced for i in r.intents if i.planned]
    assert planned and all(side is Side.SELL for side, _ in planned)  # exits only
    buys = [a for r in reduced for a in r.plan.actions if a.side is Side.BUY]
    assert buys and all(a.status is ActionStatus.SKIPPED and a.skip_reason == "mode_reduce_risk_only" for a in buys)
    sold = [f for r in reduced for f in r.fills]
    assert sold and all(f.side is Side.SELL for f in sold)


def test_the_same_breach_under_observe_only_freezes_the_book() -> None:
    results = fold(breaching(Mode.OBSERVE_ONLY))
    frozen = [r for r in results if r.mode.final is Mode.OBSERVE_ONLY]
    assert frozen and all(r.fills == () and r.intents == () for r in frozen)


def test_cooldown_seconds_holds_back_a_symbols_next_order_in_the_fold() -> None:
    free = fold(DEMO)
    cooled = fold(replace(DEMO, risk=replace(DEMO.risk, order_cooldown_s=3600)))
    orders = lambda rs: [(r.cycle_id, i.symbol, i.side) for r in rs for i in r.intents if i.planned]  # noqa: E731
    assert len(orders(cooled)) < len(orders(free))
    seen: set[tuple[str, Side]] = set()
    for _, symbol, side in orders(cooled):  # within the hour, one order per symbol and side
        assert (symbol, side) not in seen
        seen.add((symbol, side))
