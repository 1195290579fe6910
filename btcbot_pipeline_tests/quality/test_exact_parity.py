"""The exact evaluator gives Great Expectations' verdicts, failure for failure.

A short run (``GATE_VALIDATOR=auto`` below 12 cycles) is validated in pure Python so a
scheduled cycle does not pay GE's ~3 s import; the book must not depend on which one ran,
so every field of every failure must be equal: expectation type, column, observed count,
offending rows.
"""

from __future__ import annotations

import random
from decimal import Decimal as D
from typing import Any

import pytest

from btcbot_pipeline.quality import rules as Q
from btcbot_pipeline.quality.worker import (
    GE_MIN_CYCLES,
    ExactGates,
    GateWorker,
    InProcessGates,
    gates_for,
)
from btcbot_pipeline_tests.quality.test_suites import (
    GP,
    NAMES,
    PARAMS,
    _good_market,
    _set,
    cycle_rows,
)


@pytest.fixture(scope="module")
def traded() -> tuple[dict[str, list[tuple[Any, ...]]], list[Any]]:
    """One cycle's rows with planned intents (as in test_suites)."""
    from btcbot_pipeline.domain.cycle import run_cycles
    from btcbot_pipeline.domain.ledger import LedgerState
    from btcbot_pipeline.domain.market import finalize_snapshot
    from btcbot_pipeline.domain.universe import select_universe
    from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol

    snaps = [finalize_snapshot(snapshot(*(symbol(n) for n in NAMES), cycle_ts=CYCLE_TS), max_data_age_s=60)]
    results = run_cycles(
        snaps, [select_universe(s, PARAMS.universe) for s in snaps], LedgerState.opening(D("10000")), PARAMS
    )
    return cycle_rows(results, None), results


@pytest.fixture(scope="module")
def ge() -> Any:
    from btcbot_pipeline.quality import expectations

    return expectations


def _both(ge: Any, suite: Q.Suite, recs: list[Q.Record]) -> tuple[Q.GateResult, Q.GateResult]:
    return ge.validate(suite, recs), Q.evaluate_exact(suite, recs)


def test_every_kind_of_expectation_fails_alike_with_missing_values(ge: Any) -> None:
    suite = Q.Suite(
        "parity",
        "market_snapshot",
        (
            Q.Expect("flag_ok", "flag", ("flag_ok",), observed=("note",)),
            Q.Expect("present", "not_null", ("present",)),
            Q.Expect("status_known", "in_set", ("status",), value_set=("A", "B"), severity=Q.WARN),
            Q.Expect("id_well_formed", "regex", ("cid",), regex=r"^c\d+$"),
            Q.Expect("cid_unique", "unique", ("cid",)),
            Q.Expect("pair_unique", "unique", ("cycle_ts", "symbol")),
        ),
    )
    recs = [
        {"cycle_ts": 1, "symbol": "X", "flag_ok": True, "present": 1, "status": "A", "cid": "c1", "note": "n"},
        {"cycle_ts": 1, "symbol": "X", "flag_ok": False, "present": None, "status": None, "cid": None, "note": "m"},
        {"cycle_ts": 2, "symbol": None, "flag_ok": True, "present": 2, "status": "C", "cid": "bad", "note": "o"},
        {"cycle_ts": 3, "symbol": "Y", "flag_ok": False, "present": 3, "status": "B", "cid": "bad", "note": "p"},
        {"cycle_ts": None, "symbol": None, "flag_ok": True, "present": 4, "status": None, "cid": None, "note": "q"},
        {"cycle_ts": None, "symbol": None, "flag_ok": True, "present": 5, "status": "A", "cid": "c9", "note": "r"},
    ]

    here, exact = _both(ge, suite, recs)

    assert exact == here
    assert [(f.expectation, f.observed) for f in exact.failures] == [
        ("flag_ok", 2),
        ("present", 1),
        ("status_known", 1),
        ("id_well_formed", 2),
        ("cid_unique", 2),
        ("pair_unique", 2),
    ]


def test_an_empty_frame_fails_min_rows_alike(ge: Any) -> None:
    suite = Q.Suite("rows", "market_snapshot", (Q.Expect("has_rows", "min_rows", ()),), columns=("cycle_ts", "symbol"))

    here, exact = _both(ge, suite, [])

    assert exact == here and [(f.expectation, f.observed) for f in exact.failures] == [("has_rows", 0)]


def test_random_defects_in_real_suites_fail_alike(ge: Any, traded: Any) -> None:
    rows, results = traded
    market = _good_market()["market_snapshot"]
    rng = random.Random(20261201)
    for trial in range(6):
        bad = list(market)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(bad))
            column, value = rng.choice(
                [("best_bid", D(0)), ("best_ask", D(-1)), ("symbol", bad[0][2]), ("cycle_id", None)]
            )
            bad[k] = _set("market_snapshot", bad[k], **{column: value})
        suites = [(Q.MARKET_SUITE, Q.market_frame(bad, GP))]
        intents = list(rows["order_intents"])
        k = rng.randrange(len(intents))
        intents[k] = _set("order_intents", intents[k], client_order_id=rng.choice([None, "x", intents[0][2]]))
        changed = {**rows, "order_intents": intents}
        suites += Q.trading_frames(changed, results, GP)
        for suite, recs in suites:
            here, exact = _both(ge, suite, recs)
            assert exact == here, (trial, suite.name)


def test_auto_validates_short_runs_exactly_and_longer_ones_with_ge() -> None:
    assert isinstance(gates_for(1), ExactGates)
    assert isinstance(gates_for(GE_MIN_CYCLES - 1, "auto"), ExactGates)
    with gates_for(GE_MIN_CYCLES, "auto") as long_run:
        assert isinstance(long_run, (InProcessGates, GateWorker))
    with gates_for(1, "great_expectations") as forced:
        assert forced.name == "great_expectations"
    assert isinstance(gates_for(100_000, "exact"), ExactGates)
    with pytest.raises(ValueError, match="GATE_VALIDATOR must be one of auto, great_expectations, exact, not 'ge'"):
        gates_for(1, "ge")
