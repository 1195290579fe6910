"""Adaptation over the real cycle fold: ``cycle_stats`` of a ``CycleResult``, a run with
adaptation off equal to the fold's own, and a run with it on repeated identically.

The fold here is what the integration will do each cycle: run the cycle on
``apply(params, state.values)``, then ``adapt`` with the cycle's statistics.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from btcbot_pipeline.domain.adaptation import (
    AdaptationParams,
    AdaptationState,
    ChangeKind,
    CycleStats,
    ParamChange,
    adapt,
    apply,
    cycle_stats,
    initial_state,
)
from btcbot_pipeline.domain.cycle import CycleResult, run_cycle
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.params import CycleParams, OmsParams
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline_tests.domain.test_cycle import DEMO, N_CYCLES, START, demo, make_snapshot

ON = AdaptationParams(enabled=True, interval_cycles=5, lookback_cycles=5, checkpoint_after_cycles=8)


def fold(
    adaptation: AdaptationParams, params: CycleParams = DEMO
) -> tuple[list[CycleResult], list[int], list[ParamChange], AdaptationState]:
    state = initial_state(params, START)
    ledger, risk = LedgerState.opening(START), None
    results: list[CycleResult] = []
    versions: list[int] = []
    changes: list[ParamChange] = []
    for i in range(N_CYCLES):
        snapshot = make_snapshot(i)
        active = apply(params, state.values)
        result = run_cycle(snapshot, select_universe(snapshot, active.universe), ledger, active, risk)
        versions.append(state.active_version)
        state, change = adapt(state, cycle_stats(result), result.cycle_id, result.cycle_ts, adaptation)
        results.append(result)
        if change is not None:
            changes.append(change)
        assert result.risk is not None
        ledger, risk = result.state, result.risk.state
    return results, versions, changes, state


def test_cycle_stats_of_a_seed_model_cycle() -> None:
    first = demo()[0]
    assert cycle_stats(first) == CycleStats(
        cycle_id="20260101T003000Z",
        cycle_ts=first.cycle_ts,
        mode=Mode.NORMAL,
        equity_try=D("9956.497720010025300"),
        turnover_try=D("9680.585058812350"),
        fees_try=D("19.361170117624700"),
        fills=3,
        orders_submitted=3,
        orders_filled=3,
        max_drawdown=D("0.004350227999"),
    )


def test_cycle_stats_are_the_cycles_own_flows() -> None:
    results = demo()
    every = [cycle_stats(r) for r in results]
    for result, stats in zip(results, every):
        assert stats.turnover_try == sum((f.notional_try for f in result.fills), D(0))
        assert stats.fees_try == sum((f.fee_try for f in result.fills), D(0))
        assert stats.equity_try == result.metrics.equity_try
    # the ledger's running totals are the sums of the cycles' own
    assert sum((s.turnover_try for s in every), D(0)) == results[-1].metrics.turnover_try
    assert sum((s.fees_try for s in every), D(0)) == results[-1].metrics.fees_try


def test_cycle_stats_count_orders_that_rest_unfilled() -> None:
    limit = replace(DEMO, oms=OmsParams(fill_model="limit"))
    first = fold(AdaptationParams(), limit)[0][0]
    stats = cycle_stats(first)
    assert (stats.fills, stats.orders_submitted, stats.orders_filled) == (0, 3, 0)


def test_adaptation_off_gives_the_folds_results_exactly() -> None:
    results, versions, changes, state = fold(AdaptationParams())
    assert results == list(demo())
    assert versions == [1] * N_CYCLES and changes == []
    assert state == initial_state(DEMO, START)


def test_adaptation_on_repeats_identically_and_every_cycle_runs_its_version() -> None:
    first, second = fold(ON), fold(ON)
    assert first == second
    results, versions, changes, _ = first
    assert ChangeKind.ADAPT in {c.kind for c in changes}
    # each change takes effect from the next cycle; a checkpoint changes no values
    by_cycle = {c.cycle_id: c for c in changes}
    for i, result in enumerate(results[:-1]):
        change = by_cycle.get(result.cycle_id)
        expected = versions[i] if change is None or change.kind is ChangeKind.CHECKPOINT else change.version_after
        assert versions[i + 1] == expected
