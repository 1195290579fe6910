"""The gate suites over hand-built frames: rows as storage/rows.py makes them, with one
defect injected per test. GE runs where the test is about the GE verdict (imported once
per session); the exact evaluation is the reference elsewhere."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest

from btcbot_pipeline.domain.cycle import cycle_id_for, run_cycles
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.domain.params import CycleParams, PolicyParams, UniverseParams
from btcbot_pipeline.domain.universe import select_universe
from btcbot_pipeline.quality import rules as Q
from btcbot_pipeline.storage import rows as R
from btcbot_pipeline.storage.schema import TABLES
from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol

PARAMS = CycleParams(
    universe=UniverseParams(size=3),
    policy=PolicyParams(max_orders_per_cycle=5, notional_cap_try_per_cycle=D("10000")),
    start_capital_try=D("10000"),
    kill_switch=False,
)
GP = Q.GateParams(cycle=PARAMS, max_excluded_share=D("0.5"))
NAMES = ("ADATRY", "BTCTRY", "ETHTRY", "SOLTRY")


@pytest.fixture(scope="module")
def ge() -> Any:
    from btcbot_pipeline.quality import expectations

    return expectations


def _tuples(tables: dict[str, R.Columns]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows as tuples in schema order, so a test can change one value of one row."""
    return {t: R.as_rows(cols) for t, cols in tables.items()}


def market_rows(snapshots: Any) -> dict[str, list[tuple[Any, ...]]]:
    return _tuples(R.market_rows(snapshots))


def universe_rows(selections: Any) -> dict[str, list[tuple[Any, ...]]]:
    return _tuples(R.universe_rows(selections))


def cycle_rows(results: Any, carried_from: str | None) -> dict[str, list[tuple[Any, ...]]]:
    return _tuples(R.cycle_rows(results, carried_from))


def _set(table: str, row: tuple[Any, ...], **values: Any) -> tuple[Any, ...]:
    names = [c for c, _ in TABLES[table]]
    out = list(row)
    for k, v in values.items():
        out[names.index(k)] = v
    return tuple(out)


def _market(*symbols: Any, **kw: Any) -> dict[str, list[tuple[Any, ...]]]:
    return market_rows([finalize_snapshot(snapshot(*symbols, **kw), max_data_age_s=60)])


def _good_market() -> dict[str, list[tuple[Any, ...]]]:
    return _market(*(symbol(n) for n in NAMES))


def _failed(result: Q.GateResult) -> list[str]:
    return [f.expectation for f in result.failures]


# --- market_snapshot ------------------------------------------------------------------


def test_a_clean_snapshot_passes_through_ge(ge: Any) -> None:
    rows = _good_market()
    result = ge.validate(Q.MARKET_SUITE, Q.market_frame(rows["market_snapshot"], GP, rows["market_cycles"]))
    assert result.passed and result.evaluated == len(Q.MARKET_SUITE.expectations)


def test_a_duplicate_row_fails_one_row_per_symbol(ge: Any) -> None:
    rows = _good_market()
    dup = rows["market_snapshot"] + [rows["market_snapshot"][1]]

    result = ge.validate(Q.MARKET_SUITE, Q.market_frame(dup, GP))

    assert result.blocking and _failed(result) == ["one_row_per_symbol"]
    failure = result.failures[0]
    assert failure.ge_type == "expect_compound_columns_to_be_unique"
    assert [r["symbol"] for r in failure.rows] == ["BTCTRY", "BTCTRY"]
    assert "one_row_per_symbol (expect_compound_columns_to_be_unique on cycle_ts,symbol)" in result.describe()


def test_every_price_bad_fails_the_excluded_share(ge: Any) -> None:
    rows = _market(*(symbol(n, bid="0") for n in NAMES))

    result = ge.validate(Q.MARKET_SUITE, Q.market_frame(rows["market_snapshot"], GP, rows["market_cycles"]))

    assert _failed(result) == ["excluded_share_ok"]
    assert result.failures[0].observed == 4
    assert result.failures[0].rows[0] == {
        "cycle_ts": "2026-01-01T00:30:00Z",
        "symbol": "ADATRY",
        "excluded_share": "1",
        "skip_reason": "non_positive_price",
    }


@pytest.mark.parametrize(
    ("n_bad", "passes"),
    [
        (1, True),  # 1/4 = 0.25 <= 0.5
        (2, True),  # 2/4 = 0.5 <= 0.5: the bound is inclusive
        (3, False),  # 3/4 = 0.75
    ],
)
def test_the_excluded_share_bound(n_bad: int, passes: bool) -> None:
    syms = [symbol(n, bid="102") if i < n_bad else symbol(n) for i, n in enumerate(NAMES)]  # 102 > 101: crossed
    rows = _market(*syms)

    result = Q.evaluate_exact(Q.MARKET_SUITE, Q.market_frame(rows["market_snapshot"], GP))

    assert result.passed is passes


def test_a_degraded_snapshot_excluding_everything_is_not_a_gate_failure() -> None:
    snap = replace(
        snapshot(*(symbol(n, skip_reason="exchange_unreachable") for n in NAMES)),
        degraded_reason="exchange_unreachable",
    )
    rows = market_rows([snap])
    assert Q.evaluate_exact(Q.MARKET_SUITE, Q.market_frame(rows["market_snapshot"], GP, rows["market_cycles"])).passed


def test_a_cycle_without_any_symbol_fails() -> None:
    rows = market_rows([snapshot()])
    result = Q.evaluate_exact(Q.MARKET_SUITE, Q.market_frame(rows["market_snapshot"], GP, rows["market_cycles"]))
    assert _failed(result) == ["symbol_present", "excluded_share_ok"]


@pytest.mark.parametrize(
    ("column", "value", "expectation"),
    [
        ("best_bid", D("0"), "prices_positive"),
        ("best_bid", D("150"), "bid_le_ask"),  # above the 101 ask
        ("quote_volume_try", D("-1"), "volume_non_negative"),
        ("staleness_s", 61, "fresh"),  # STAGE7_MAX_DATA_AGE_SEC 60
        ("tick_size", None, "rules_usable"),
    ],
)
def test_a_tradable_row_that_breaks_a_rule_fails_it(column: str, value: Any, expectation: str) -> None:
    rows = _good_market()["market_snapshot"]
    if column == "tick_size":  # the rules live in the payload the gate re-resolves
        rows = _market(symbol("ADATRY", symbol_rules=None), *(symbol(n) for n in NAMES[1:]))["market_snapshot"]
    else:
        rows[0] = _set("market_snapshot", rows[0], **{column: value})

    result = Q.evaluate_exact(Q.MARKET_SUITE, Q.market_frame(rows, GP))

    assert _failed(result) == [expectation]
    assert result.failures[0].rows[0]["symbol"] == "ADATRY"


def test_a_spread_beyond_the_sanity_bound_only_warns() -> None:
    gp = replace(
        GP, cycle=replace(PARAMS, universe=replace(PARAMS.universe, max_spread_bps=D("50")))
    )  # 100/101 ≈ 99.5 bps
    rows = _good_market()["market_snapshot"]

    result = Q.evaluate_exact(Q.MARKET_SUITE, Q.market_frame(rows, gp))

    assert _failed(result) == ["spread_within_bound"] and not result.blocking and result.severity == Q.WARN


# --- universe -------------------------------------------------------------------------


def _universe_rows() -> list[tuple[Any, ...]]:
    snap = finalize_snapshot(
        snapshot(*(symbol(n, volume=str(1000 * (i + 1))) for i, n in enumerate(NAMES))), max_data_age_s=60
    )
    return universe_rows([select_universe(snap, PARAMS.universe)])["universe"]


def test_universe_rows_pass_and_a_blacklisted_selection_fails() -> None:
    rows = _universe_rows()
    assert Q.evaluate_exact(Q.UNIVERSE_SUITE, Q.universe_frame(rows, GP)).passed
    gp = replace(GP, cycle=replace(PARAMS, universe=replace(PARAMS.universe, blacklist=("SOLTRY",))))
    assert _failed(Q.evaluate_exact(Q.UNIVERSE_SUITE, Q.universe_frame(rows, gp))) == ["symbol_allowed"]


def test_universe_too_many_selected_and_out_of_order() -> None:
    rows = [_set("universe", r, selected=True) for r in _universe_rows()]
    rows[0], rows[1] = _set("universe", rows[0], rank=2), _set("universe", rows[1], rank=1)

    result = Q.evaluate_exact(Q.UNIVERSE_SUITE, Q.universe_frame(rows, GP))

    assert _failed(result) == ["size_within_limit", "ranked_in_order", "selected_is_top_ranked"]


# --- trading cycle --------------------------------------------------------------------


@pytest.fixture(scope="module")
def trading() -> tuple[dict[str, list[tuple[Any, ...]]], list[Any]]:
    snaps = [finalize_snapshot(snapshot(*(symbol(n) for n in NAMES), cycle_ts=CYCLE_TS), max_data_age_s=60)]
    results = run_cycles(
        snaps, [select_universe(s, PARAMS.universe) for s in snaps], LedgerState.opening(D("10000")), PARAMS
    )
    rows = cycle_rows(results, None)
    assert any(r[11] == "PLANNED" for r in rows["order_intents"])  # guards the tests below against passing vacuously
    return rows, results


def _frames(rows: dict[str, list[tuple[Any, ...]]], results: list[Any]) -> dict[str, list[Q.Record]]:
    return {suite.name: recs for suite, recs in Q.trading_frames(rows, results, GP)}


def test_a_clean_cycle_passes_all_four_suites_in_ge_and_exactly(ge: Any, trading: Any) -> None:
    rows, results = trading
    for suite, recs in Q.trading_frames(rows, results, GP):
        assert ge.validate(suite, recs).passed, suite.name
        assert Q.evaluate_exact(suite, recs).passed, suite.name


def test_an_intent_off_the_tick_grid_fails_naming_the_symbol(ge: Any, trading: Any) -> None:
    rows, results = trading
    intents = list(rows["order_intents"])
    k = next(i for i, r in enumerate(intents) if r[11] == "PLANNED")
    intents[k] = _set("order_intents", intents[k], price_try=intents[k][7] + D("0.001"))  # tick 0.01

    result = ge.validate(
        Q.INTENTS_SUITE,
        Q.intents_frame(
            intents, rows["portfolio_plan"], {(r.cycle_ts, e.symbol): e for r in results for e in r.rules}, GP
        ),
    )

    assert _failed(result) == ["price_on_tick_grid"]
    assert result.failures[0].rows[0]["symbol"] == intents[k][4]
    assert result.failures[0].ge_type == "expect_column_values_to_be_in_set"


def test_a_duplicate_or_malformed_client_order_id_fails(trading: Any) -> None:
    rows, results = trading
    eff = {(r.cycle_ts, e.symbol): e for r in results for e in r.rules}
    intents = list(rows["order_intents"])
    dup = intents + [intents[0]]
    assert "client_order_id_unique" in _failed(
        Q.evaluate_exact(Q.INTENTS_SUITE, Q.intents_frame(dup, rows["portfolio_plan"], eff, GP))
    )
    intents[0] = _set("order_intents", intents[0], client_order_id="oops")
    assert _failed(Q.evaluate_exact(Q.INTENTS_SUITE, Q.intents_frame(intents, rows["portfolio_plan"], eff, GP))) == [
        "client_order_id_well_formed"
    ]


def test_a_buy_under_observe_only_fails(trading: Any) -> None:
    rows, results = trading
    plans = [_set("portfolio_plan", rows["portfolio_plan"][0], final_mode="OBSERVE_ONLY")]
    eff = {(r.cycle_ts, e.symbol): e for r in results for e in r.rules}
    assert "buy_allowed_by_mode" in _failed(
        Q.evaluate_exact(Q.INTENTS_SUITE, Q.intents_frame(rows["order_intents"], plans, eff, GP))
    )
    assert "buy_allowed_by_mode" in _failed(
        Q.evaluate_exact(Q.PLAN_SUITE, Q.plan_frame(rows["plan_actions"], plans, GP))
    )


def test_a_broken_equity_identity_fails_the_ledger_gate(ge: Any, trading: Any) -> None:
    rows, _ = trading
    ledger = [
        _set(
            "ledger_metrics",
            rows["ledger_metrics"][0],
            equity_try=rows["ledger_metrics"][0][10] + D("0.000000000000000001"),
        )
    ]

    result = ge.validate(Q.LEDGER_SUITE, Q.ledger_frame(ledger, rows["positions"], GP))

    assert _failed(result) == ["equity_identity"]
    assert result.failures[0].rows[0]["cycle_ts"] == "2026-01-01T00:30:00Z"


def test_a_fill_beyond_slippage_or_a_negative_fee_fails(trading: Any) -> None:
    rows, _ = trading
    fill = rows["fills"][0]
    bad = [
        _set("fills", fill, fee_try=D("-0.01")),
        _set("fills", fill, fill_id="other", fill_price_try=fill[7] * D("1.01")),
    ]
    assert _failed(Q.evaluate_exact(Q.FILLS_SUITE, Q.fills_frame(bad, GP))) == [
        "fee_non_negative",
        "price_within_slippage",
    ]


def test_gate_failure_rows_name_the_expectation_and_symbol() -> None:
    rows = _market(*(symbol(n, bid="0") for n in NAMES))
    recs = Q.market_frame(rows["market_snapshot"], GP, rows["market_cycles"])
    out = Q.gate_failure_rows(Q.evaluate_exact(Q.MARKET_SUITE, recs), recs, cycle_id_for)
    assert [(r[1], r[2], r[3], r[4]) for r in out] == [
        ("20260101T003000Z", "market_snapshot", "market_snapshot_gate", "excluded_share_ok")
    ]
    assert "symbol=ADATRY, excluded_share=1, skip_reason=non_positive_price" in out[0][5]
    # the chunk's count, then this cycle's (what a reader needs to say "4 of 4 symbols")
    assert out[0][5].startswith(
        "expect_column_values_to_be_in_set on excluded_share_ok: observed 4 (4 at this cycle); rows: "
    )


def _trace_row(base: str, final: str, decisions: list[dict[str, Any]]) -> tuple[Any, ...]:
    row = {c: None for c, _ in TABLES["cycle_trace"]} | {
        "cycle_ts": CYCLE_TS,
        "cycle_id": cycle_id_for(CYCLE_TS),
        "base_mode": base,
        "final_mode": final,
        "order_decisions_json": json.dumps(decisions),
    }
    return tuple(row.values())


@pytest.mark.parametrize(
    ("base", "final", "decisions", "failed"),
    [
        ("REDUCE_RISK_ONLY", "OBSERVE_ONLY", [{"status": "SKIPPED", "reason": "observe_only"}], []),
        ("OBSERVE_ONLY", "NORMAL", [], ["final_not_looser_than_base"]),  # looser than base
        ("NORMAL", "NORMAL", [{"status": "SKIPPED", "reason": ""}], ["skipped_has_reason"]),
    ],
)
def test_the_trace_gate(base: str, final: str, decisions: list[dict[str, Any]], failed: list[str]) -> None:
    recs = Q.trace_frame([_trace_row(base, final, decisions)], GP)
    assert _failed(Q.evaluate_exact(Q.TRACE_SUITE, recs)) == failed


def test_the_symbol_cap_binds_buys_not_a_sell_that_unwinds(trading: Any) -> None:
    # A SELL reducing an oversized holding (opened from real balances) may exceed
    # MAX_POSITION_NOTIONAL_TRY; a BUY beyond it may not.
    rows, _ = trading
    cap = GP.cycle.policy.max_position_notional_try
    actions = list(rows["plan_actions"])
    k = next(i for i, r in enumerate(actions) if r[10] == "PLANNED")
    big_sell = _set("plan_actions", actions[k], side="SELL", notional_try=cap + 1)
    big_buy = _set("plan_actions", actions[k], side="BUY", notional_try=cap + 1)

    sell_frame = Q.plan_frame([big_sell], rows["portfolio_plan"], GP)
    buy_frame = Q.plan_frame([big_buy], rows["portfolio_plan"], GP)

    assert "notional_within_symbol_cap" not in _failed(Q.evaluate_exact(Q.PLAN_SUITE, sell_frame))
    assert "notional_within_symbol_cap" in _failed(Q.evaluate_exact(Q.PLAN_SUITE, buy_frame))


def test_a_skipped_actions_notional_counts_towards_no_cap(trading: Any) -> None:
    # A SKIPPED row keeps the notional it wanted (domain.plan); nothing of it is traded,
    # so neither the per-symbol nor the per-cycle cap may count it.
    rows, _ = trading
    policy = GP.cycle.policy
    huge = policy.notional_cap_try_per_cycle + policy.max_position_notional_try
    k = next(i for i, r in enumerate(rows["plan_actions"]) if r[10] == "PLANNED")
    skipped = _set(
        "plan_actions",
        rows["plan_actions"][k],
        side="BUY",
        status="SKIPPED",
        skip_reason="max_orders",
        desired_notional_try=huge,
        notional_try=huge,
        seq=99,
    )

    recs = Q.plan_frame([*rows["plan_actions"], skipped], rows["portfolio_plan"], GP)

    assert _failed(Q.evaluate_exact(Q.PLAN_SUITE, recs)) == []
    assert recs[-1]["cycle_notional_try"] == sum((r[6] for r in rows["plan_actions"] if r[10] == "PLANNED"), D(0))


def test_the_gate_worker_process_gives_the_in_process_verdicts(ge: Any) -> None:
    from btcbot_pipeline.quality.worker import GateWorker

    rows = _good_market()["market_snapshot"]
    bad = [_set("market_snapshot", rows[0], best_bid=D(0))] + list(rows[1:])
    recs = Q.market_frame(bad, GP)
    frames = [ge.frame(Q.MARKET_SUITE, recs[:2]), ge.frame(Q.MARKET_SUITE, recs[2:])]  # one chunk, two batches

    here = ge.validate_frames(Q.MARKET_SUITE, frames)
    with GateWorker() as worker:
        there = worker.validate_frames(Q.MARKET_SUITE, frames)
        assert worker._pool is not None
        ran = worker._pool.submit(_deferred_modules_run).result(timeout=60)

    assert there == here
    assert _failed(there[0]) == ["prices_positive"] and there[0].failures[0].rows[0]["symbol"] == "ADATRY"
    # GE imported scipy.stats and altair, but their code never ran: the suites do not use them
    assert ran == {"scipy.stats": False, "altair": False}


def _deferred_modules_run() -> dict[str, bool]:
    """In the worker: whether each deferred module's code ran (it imports submodules of its own)."""
    import sys

    return {name: any(m.startswith(f"{name}.") for m in sys.modules) for name in ("scipy.stats", "altair")}


def test_the_gate_worker_never_reruns_an_unguarded_main_module(tmp_path: Any) -> None:
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "print('main ran', flush=True)\n"  # like `python -m dagster`: the command runs at import
        "from btcbot_pipeline.quality import rules as Q\n"
        "from btcbot_pipeline.quality.worker import GateWorker\n"
        "with GateWorker() as w:\n"
        "    result, _ = w.validate_frames(Q.FILLS_SUITE, [w.frame(Q.FILLS_SUITE, [])])\n"
        "    print('validated in worker', w._pool is not None, result.suite.name, flush=True)\n"
    )

    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)

    assert out.stdout.splitlines() == ["main ran", "validated in worker True simulated_fills_gate"], out.stderr[-2000:]
