"""The seven assets materialized in process against a temporary DuckDB book."""

from __future__ import annotations

import json
from decimal import Decimal

from btcbot_pipeline.storage.schema import RUN_ONLY_COLUMNS
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text

TABLES = (
    "market_snapshot",
    "universe",
    "universe_selection",
    "portfolio_plan",
    "plan_actions",
    "order_intents",
    "orders",
    "order_events",
    "fills",
    "ledger_metrics",
    "positions",
    "cycle_trace",
    "run_metrics",
)


def _dump(cycle: Cycle) -> dict[str, list[tuple]]:
    """Every table's rows, but the columns saying how the run went (its id, its durations)."""
    return {
        t: cycle.rows(f"SELECT * EXCLUDE ({', '.join(RUN_ONLY_COLUMNS[t])}) FROM {t} ORDER BY ALL")
        if t in RUN_ONLY_COLUMNS
        else cycle.rows(f"SELECT * FROM {t} ORDER BY ALL")
        for t in TABLES
    }


def _metrics(cycle: Cycle) -> list[dict[str, str]]:
    return [json.loads(m) for (m,) in cycle.rows("SELECT ledger_metrics_json FROM cycle_trace ORDER BY cycle_ts")]


def test_one_partition_materializes_all_seven_assets(cycle: Cycle) -> None:
    result = cycle.run("2026-01-01T00:30")

    assert result.success, failure_text(result)
    materialized = sorted(
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events() for _ in [0] if e.asset_key
    )
    assert materialized == sorted(
        [
            "market_snapshot",
            "universe",
            "portfolio_plan",
            "order_intents",
            "simulated_fills",
            "ledger_snapshot",
            "cycle_trace",
        ]
    )
    assert cycle.rows("SELECT count(*) FROM cycle_trace") == [(1,)]
    assert cycle.rows("SELECT final_mode FROM cycle_trace") == [("NORMAL",)]
    assert cycle.rows("SELECT count(*) FROM fills")[0][0] >= 1


def test_rematerializing_a_partition_replaces_its_rows(cycle: Cycle) -> None:
    assert cycle.run("2026-01-01T00:30").success
    first = _dump(cycle)

    assert cycle.run("2026-01-01T00:30").success

    assert _dump(cycle) == first


def test_same_partition_in_two_books_gives_identical_rows(cycle: Cycle, tmp_path) -> None:
    other = Cycle(db=tmp_path / "other.duckdb", dataset=cycle.dataset, overrides=cycle.overrides)

    assert cycle.run("2026-01-01T01:00").success and other.run("2026-01-01T01:00").success

    assert _dump(cycle) == _dump(other)


def test_range_in_one_run_equals_partitions_one_by_one(cycle: Cycle, tmp_path) -> None:
    stepwise = Cycle(db=tmp_path / "stepwise.duckdb", dataset=cycle.dataset, overrides=cycle.overrides)

    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:55").success
    for minute in range(30, 60, 5):
        assert stepwise.run(f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}").success

    assert _dump(cycle) == _dump(stepwise)
    assert len(_metrics(cycle)) == 6


def test_ledger_carries_over_to_the_next_partition(cycle: Cycle) -> None:
    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:40").success
    assert cycle.run("2026-01-01T00:45").success

    carried = cycle.rows("SELECT cycle_id, carried_from FROM ledger_metrics ORDER BY cycle_ts")
    assert carried == [
        ("20260101T003000Z", None),
        ("20260101T003500Z", "20260101T003000Z"),
        ("20260101T004000Z", "20260101T003500Z"),
        ("20260101T004500Z", "20260101T004000Z"),
    ]
    states = [json.loads(s) for (s,) in cycle.rows("SELECT state_json FROM ledger_metrics ORDER BY cycle_ts")]
    fills_45 = cycle.rows("SELECT count(*) FROM fills WHERE cycle_id = '20260101T004500Z'")[0][0]
    if fills_45 == 0:
        assert states[3]["cash_try"] == states[2]["cash_try"]
    assert states[3]["start_capital_try"] == "10000"


def test_money_identities_hold_exactly_at_every_cycle(cycle: Cycle) -> None:
    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T02:55").success

    metrics = _metrics(cycle)
    assert len(metrics) == 30
    for m in metrics:
        d = {k: Decimal(v) for k, v in m.items() if k not in ("cycle_id", "cycle_ts", "opening")}
        assert d["gross_pnl_try"] == d["realized_pnl_try"] + d["unrealized_pnl_try"]
        assert d["net_pnl_try"] == d["gross_pnl_try"] - d["fees_try"] - d["slippage_try"]
        assert d["equity_try"] == d["start_capital_try"] + d["net_pnl_try"]
        assert d["equity_try"] == d["cash_try"] + d["positions_value_try"]
    positions = cycle.rows("SELECT cycle_id, sum(market_value_try) FROM positions GROUP BY cycle_id ORDER BY cycle_id")
    values = {cid: v for cid, v in positions}
    for m in metrics:
        assert values.get(m["cycle_id"], Decimal(0)) == Decimal(m["positions_value_try"]).quantize(Decimal("1E-18"))


def test_a_ledger_carried_across_missing_cycles_says_how_many_and_its_gate_warns(cycle: Cycle) -> None:
    import dagster as dg

    assert cycle.run("2026-01-01T00:25").success
    result = cycle.run("2026-01-01T00:40")  # 00:30 and 00:35 never ran

    assert result.success, failure_text(result)
    assert cycle.rows(
        "SELECT strftime(cycle_ts, '%H:%M'), carried_from, gap_cycles FROM ledger_metrics ORDER BY cycle_ts"
    ) == [
        ("00:25", None, 0),
        ("00:40", "20260101T002500Z", 2),
    ]
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "ledger_snapshot_gate")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert [f["expectation"] for f in check.metadata["failed_expectations"].value] == ["no_missing_cycles"]
    (ledger,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "ledger_snapshot"
    ]
    assert ledger.materialization.metadata["gap_cycles"].value == 2
    assert cycle.run("2026-01-01T00:45").success
    assert cycle.rows("SELECT gap_cycles FROM ledger_metrics WHERE cycle_ts = TIMESTAMP '2026-01-01 00:45'") == [(0,)]


def test_run_metrics_say_which_run_wrote_the_cycle_how_long_each_stage_took_and_how_old_its_data_was(
    cycle: Cycle,
) -> None:
    result = cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:35")

    assert result.success, failure_text(result)
    rows = cycle.rows(
        "SELECT run_id, data_age_s, market_ms, universe_ms, trading_ms, trace_ms, write_ms, gates_ms FROM run_metrics "
        "ORDER BY cycle_ts"
    )
    assert [r[0] for r in rows] == [result.run_id, result.run_id]
    assert all(r[1] is not None and 0 <= r[1] <= 60 for r in rows)  # the demo's data is at most a minute old
    assert all(all(ms is not None and ms >= 0 for ms in r[2:]) for r in rows)
    # one batch: its stages' time is shared evenly by its two cycles
    assert rows[0][2:] == rows[1][2:]


def test_a_subset_of_the_cycle_cannot_run_so_no_ledger_row_is_ever_without_its_trace(cycle: Cycle) -> None:
    import dagster as dg
    import pytest

    with pytest.raises(dg.DagsterInvalidDefinitionError) as refused:
        dg.materialize(
            cycle.assets(),
            selection=["ledger_snapshot"],
            partition_key="2026-01-01T00:30",
            resources=cycle.resources(),
            instance=dg.DagsterInstance.ephemeral(),
        )
    assert "This AssetsDefinition does not support subsetting" in str(refused.value.__cause__)
    assert not cycle.db.exists() or cycle.rows("SELECT count(*) FROM ledger_metrics") == [(0,)]
