"""CycleResult.rules_stats: the fold computes it once per distinct rules tuple and gives it
to its results; equal to exchange_rules.rules_stats of each result's rules, whoever built it."""

from __future__ import annotations

import copy
import pickle
from dataclasses import fields, replace

from btcbot_pipeline.domain.cycle import CycleResult, run_cycles
from btcbot_pipeline.domain.exchange_rules import rules_stats
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline_tests.domain.test_cycle import DEMO, START, demo, inputs


def test_every_result_of_the_fold_has_the_stats_of_its_rules() -> None:
    results = demo()
    for result in results:
        assert result.rules_stats == rules_stats(result.rules)
        assert result.rules_stats is result.rules_stats  # kept, not computed again


def test_results_with_the_same_rules_share_one_stats_dict() -> None:
    snapshots, _ = inputs()
    first = {s.symbol: s.rules for s in snapshots[0].symbols}  # one rules object per symbol, as a replay has
    snapshots = [
        replace(snap, symbols=tuple(replace(s, rules=first[s.symbol]) for s in snap.symbols)) for snap in snapshots
    ]
    results = run_cycles(
        snapshots, [select_universe(s, DEMO.universe) for s in snapshots], LedgerState.opening(START), DEMO
    )
    by_rules: dict[int, dict[str, object]] = {}
    for result in results:
        assert result.rules_stats == rules_stats(result.rules)
        assert by_rules.setdefault(id(result.rules), result.rules_stats) is result.rules_stats
    assert len(by_rules) < len(results)  # the cycles do repeat their rules


def test_a_result_built_otherwise_computes_its_own() -> None:
    result = demo()[-1]
    assert "_rules_stats" not in {f.name for f in fields(CycleResult)}
    rebuilt = CycleResult(**{f.name: getattr(result, f.name) for f in fields(CycleResult)})
    fewer = replace(result, rules=result.rules[:1])
    for other in (rebuilt, copy.copy(result), pickle.loads(pickle.dumps(result))):
        assert other == result
        assert other.rules_stats == result.rules_stats
    assert fewer.rules_stats == rules_stats(result.rules[:1]) != result.rules_stats
