"""The gates end to end: per-symbol faults exclude one symbol and the cycle goes on;
systemic faults fail the right blocking check, nothing of the partition is written by
the gated stage or downstream, and the failure is recorded for the summary."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.defs.cycle import resources
from btcbot_pipeline.domain import cycle as cycle_module
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text

KEY = "2026-01-01T00:30"
DOWNSTREAM = (
    "universe_selection",
    "portfolio_plan",
    "order_intents",
    "fills",
    "ledger_metrics",
    "risk_decisions",
    "cycle_trace",
)


def _copy(replay_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(replay_dir, target)
    return target


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows = [rows[0], *(r for r in (edit(r) for r in rows[1:]) if r is not None)]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _count(cycle: Cycle, table: str, key: str = KEY) -> int:
    return cycle.rows(f"SELECT count(*) FROM {table} WHERE cycle_ts = TIMESTAMP '{key.replace('T', ' ')}'")[0][0]


def test_per_symbol_faults_exclude_only_that_symbol(cycle: Cycle, replay_dir: Path, tmp_path: Path) -> None:
    cycle.dataset = ds = _copy(replay_dir, tmp_path)
    # stale: BTCTRY's rows stop at 00:20, ten minutes before the cycle (limit 60 s)
    for kind in ("orderbook", "candles"):
        _rewrite(ds / kind / "BTCTRY.csv", lambda r: r if r[0] <= "2026-01-01T00:20" else None)
    # crossed book and non-positive price in one row each (the reader rejects the file)
    _rewrite(
        ds / "orderbook" / "ETHTRY.csv", lambda r: [r[0], r[2], r[1]] if r[0].startswith("2026-01-01T00:10") else r
    )
    _rewrite(ds / "orderbook" / "SOLTRY.csv", lambda r: [r[0], "0", r[2]] if r[0].startswith("2026-01-01T00:10") else r)
    # missing rules: XRPTRY left out of exchangeinfo.json
    info = json.loads((ds / "exchangeinfo.json").read_text())
    info["data"]["symbols"] = [s for s in info["data"]["symbols"] if s.get("name") != "XRPTRY"]
    (ds / "exchangeinfo.json").write_text(json.dumps(info))

    result = cycle.run(KEY)

    assert result.success, failure_text(result)
    reasons = dict(cycle.rows("SELECT symbol, skip_reason FROM market_snapshot WHERE NOT tradable ORDER BY symbol"))
    assert reasons == {
        "BTCTRY": "stale_data",
        "ETHTRY": "invalid_data:crossed_book",
        "SOLTRY": "invalid_data:non_positive_price",
        "XRPTRY": "rules_unavailable:missing",
    }
    assert _checks(result)["market_snapshot_gate"].passed
    selected = set(json.loads(cycle.rows("SELECT selected_universe_json FROM cycle_trace")[0][0]))
    assert not selected & set(reasons)
    assert _count(cycle, "cycle_trace") == 1


def test_every_price_bad_fails_the_snapshot_gate_and_nothing_is_written(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = resources.ReplayMarketData.snapshots

    def zero_bids(self, times, *, vol_lookback, max_data_age_s):  # type: ignore[no-untyped-def]
        # the source delivers a zero bid for every symbol: each is excluded non_positive_price
        return [
            finalize_snapshot(
                replace(snap, symbols=tuple(replace(s, best_bid=Decimal(0)) for s in snap.symbols)),
                max_data_age_s=max_data_age_s,
            )
            for snap in real(self, times, vol_lookback=vol_lookback, max_data_age_s=max_data_age_s)
        ]

    monkeypatch.setattr(resources.ReplayMarketData, "snapshots", zero_bids)

    result = cycle.run(KEY)

    assert not result.success
    check = _checks(result)["market_snapshot_gate"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    failed = check.metadata["failed_expectations"].value
    assert [f["expectation"] for f in failed] == ["excluded_share_ok"]
    assert failed[0]["expectation_type"] == "expect_column_values_to_be_in_set"
    assert failed[0]["offending_rows"][0]["symbol"] == "ADATRY"
    assert "excluded_share_ok" in failure_text(result) and "symbol=ADATRY" in failure_text(result)
    assert _materialized(result) == set()
    assert _count(cycle, "market_snapshot") == 0
    assert all(_count(cycle, t) == 0 for t in DOWNSTREAM)
    assert cycle.rows("SELECT asset, check_name, expectation FROM gate_failures") == [
        ("market_snapshot", "market_snapshot_gate", "excluded_share_ok")
    ]
    assert "symbol=ADATRY" in cycle.rows("SELECT detail FROM gate_failures")[0][0]


def _bad_bid(symbol: str):  # type: ignore[no-untyped-def]
    real = resources.ReplayMarketData.snapshots

    def snapshots(self, times, *, vol_lookback, max_data_age_s):  # type: ignore[no-untyped-def]
        # a source that forgot to exclude a symbol whose bid is zero
        return [
            replace(
                done, symbols=tuple(replace(s, best_bid=Decimal(0)) if s.symbol == symbol else s for s in done.symbols)
            )
            for done in real(self, times, vol_lookback=vol_lookback, max_data_age_s=max_data_age_s)
        ]

    return snapshots


def test_forced_bad_price_fails_prices_positive_naming_the_symbol(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources.ReplayMarketData, "snapshots", _bad_bid("DOGETRY"))

    result = cycle.run(KEY)

    assert not result.success
    failed = _checks(result)["market_snapshot_gate"].metadata["failed_expectations"].value
    assert {f["expectation"] for f in failed} >= {"prices_positive"}
    prices = next(f for f in failed if f["expectation"] == "prices_positive")
    assert [r["symbol"] for r in prices["offending_rows"]] == ["DOGETRY"]
    assert prices["offending_rows"][0]["best_bid"] == "0"


def _off_grid_intents(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cycle_module.build_intents

    def build_intents(**kwargs):  # type: ignore[no-untyped-def]
        # a quantiser bug: planned prices 1e-12 TRY off the tick grid
        return tuple(replace(i, price_try=i.price_try + Decimal("1E-12")) if i.planned else i for i in real(**kwargs))

    monkeypatch.setattr(cycle_module, "build_intents", build_intents)


def test_off_grid_intent_stops_the_cycle_and_removes_the_window(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cycle.run(first="2026-01-01T00:25", last=KEY).success  # good rows first
    _off_grid_intents(monkeypatch)

    result = cycle.run(KEY)

    assert not result.success
    checks = _checks(result)
    intents = checks["order_intents_gate"]
    assert not intents.passed and intents.severity == dg.AssetCheckSeverity.ERROR
    failed = intents.metadata["failed_expectations"].value
    assert [f["expectation"] for f in failed] == ["price_on_tick_grid"]
    assert failed[0]["offending_rows"][0]["symbol"]
    # one step computes every stage: each suite reports, only the intents gate failed; the
    # others passed their rows, but the chunk was rolled back, so none of them is green
    assert sorted(name for name, c in checks.items() if c.severity == dg.AssetCheckSeverity.ERROR) == [
        "order_intents_gate"
    ]
    assert not any(c.passed for c in checks.values())
    assert checks["market_snapshot_gate"].severity == dg.AssetCheckSeverity.WARN
    assert checks["market_snapshot_gate"].description == (
        "market_snapshot_gate not written: this chunk was rolled back because order_intents_gate failed at cycle "
        "20260101T003000Z (price_on_tick_grid); its own expectations passed over this partition's 1 cycle"
    )
    assert _materialized(result) == set()  # no partition of the failing chunk materialized
    # the window's earlier rows of every stage are gone (never half a cycle in the book)
    assert _count(cycle, "market_snapshot") == 0 and _count(cycle, "universe_selection") == 0
    assert all(_count(cycle, t) == 0 for t in DOWNSTREAM[1:])
    assert _count(cycle, "ledger_metrics", "2026-01-01T00:25") == 1
    symbol = failed[0]["offending_rows"][0]["symbol"]

    assert main(["summary", "--partition", KEY, "--db", str(cycle.db)]) == 0
    out = capsys.readouterr().out
    assert "STOPPED by a gate" in out and "order_intents / order_intents_gate: price_on_tick_grid: " in out
    assert "intent(s) priced off the tick grid" in out  # in trading terms, then the gate's exact detail
    assert "\n      exact: expect_column_values_to_be_in_set on price_on_tick_grid: observed " in out
    assert f"symbol={symbol}" in out

    # a later cycle never carries the gated one: its ledger starts from 00:25
    monkeypatch.undo()
    assert cycle.run("2026-01-01T00:35").success
    assert cycle.rows("SELECT carried_from FROM ledger_metrics WHERE cycle_ts = TIMESTAMP '2026-01-01 00:35'") == [
        ("20260101T002500Z",)
    ]


def test_a_passing_rerun_clears_the_recorded_gate_failure(cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    _off_grid_intents(monkeypatch)
    assert not cycle.run(KEY).success
    assert _count(cycle, "gate_failures") >= 1
    monkeypatch.undo()

    result = cycle.run(KEY)

    assert result.success, failure_text(result)
    assert _count(cycle, "gate_failures") == 0
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert len(result.get_asset_check_evaluations()) == 9  # seven stage gates, the ledger chain, the order lifecycle


def test_a_warn_gate_is_reported_and_the_cycle_goes_on(cycle: Cycle) -> None:
    # every book's spread is above 1 bps: the universe filter leaves such symbols out (its
    # job); for the snapshot gate a wide spread is not unsafe data, so it only warns
    cycle.overrides["STAGE7_MAX_SPREAD_BPS"] = "1"

    result = cycle.run(KEY)

    assert result.success, failure_text(result)
    check = _checks(result)["market_snapshot_gate"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert [f["expectation"] for f in check.metadata["failed_expectations"].value] == ["spread_within_bound"]
    assert _count(cycle, "market_snapshot") > 0 and _count(cycle, "gate_failures") == 0


def test_in_a_range_one_bad_cycle_rejects_the_window_and_names_that_cycle(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cycle_module.build_intents

    def build_intents(**kwargs):  # type: ignore[no-untyped-def]
        intents = real(**kwargs)
        if kwargs["cycle_id"] != "20260101T003000Z":
            return intents
        return tuple(replace(i, price_try=i.price_try + Decimal("1E-12")) if i.planned else i for i in intents)

    monkeypatch.setattr(cycle_module, "build_intents", build_intents)

    result = cycle.run(first="2026-01-01T00:20", last="2026-01-01T00:40")

    assert not result.success
    assert cycle.rows("SELECT DISTINCT strftime(cycle_ts, '%H:%M'), expectation FROM gate_failures") == [
        ("00:30", "price_on_tick_grid")
    ]
    assert cycle.rows("SELECT count(*) FROM ledger_metrics") == [(0,)]  # the whole window, never half-written
    assert cycle.rows("SELECT count(DISTINCT cycle_ts) FROM universe_selection") == [(0,)]
    assert (
        "gate order_intents_gate stopped cycle 20260101T003000Z (2026-01-01T00:30 UTC): price_on_tick_grid"
        in failure_text(result)
    )


def test_a_stop_after_a_committed_chunk_is_one_alert_and_no_green_check(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cycle_module.build_intents

    def build_intents(**kwargs):  # type: ignore[no-untyped-def]
        # a quantiser bug at 00:30 and 00:35 only: both cycles of the second chunk fail
        intents = real(**kwargs)
        if kwargs["cycle_id"] not in ("20260101T003000Z", "20260101T003500Z"):
            return intents
        return tuple(replace(i, price_try=i.price_try + Decimal("1E-12")) if i.planned else i for i in intents)

    monkeypatch.setattr(cycle_module, "build_intents", build_intents)
    cycle.overrides["GATE_CHUNK_CYCLES"] = "2"  # 00:20–00:25 | 00:30–00:35 | 00:40
    instance = dg.DagsterInstance.ephemeral()
    tags = {
        "dagster/asset_partition_range_start": "2026-01-01T00:20",
        "dagster/asset_partition_range_end": "2026-01-01T00:40",
    }

    result = dg.materialize(
        cycle.assets(), tags=tags, resources=cycle.resources(), instance=instance, raise_on_error=False
    )

    assert not result.success
    # the stop says what of the run is in the book: the first chunk, committed
    assert (
        "Nothing of 2026-01-01T00:30…2026-01-01T00:35 was written; this run committed 2 earlier partitions before it "
        "(2026-01-01T00:20…2026-01-01T00:25, 2 cycles); not retried"
    ) in failure_text(result)
    assert cycle.rows("SELECT strftime(cycle_ts, '%H:%M') FROM ledger_metrics ORDER BY cycle_ts") == [
        ("00:20",),
        ("00:25",),
    ]

    # the committed chunk's checks are green; not one check of the rolled-back chunk is
    evals = result.get_asset_check_evaluations()
    by_partition = {
        k: [e for e in evals if e.partition == k] for k in ("2026-01-01T00:25", "2026-01-01T00:30", "2026-01-01T00:35")
    }
    assert all(e.passed for e in by_partition["2026-01-01T00:25"])
    stopped = by_partition["2026-01-01T00:30"] + by_partition["2026-01-01T00:35"]
    assert stopped and not any(e.passed for e in stopped)
    assert sorted((e.check_name, e.partition) for e in stopped if e.severity == dg.AssetCheckSeverity.ERROR) == [
        ("order_intents_gate", "2026-01-01T00:30"),
        ("order_intents_gate", "2026-01-01T00:35"),
    ]
    warned = [e for e in stopped if e.severity == dg.AssetCheckSeverity.WARN]
    assert warned and all(
        e.description.endswith(  # type: ignore[union-attr]
            "not written: this chunk was rolled back because order_intents_gate failed at cycle 20260101T003000Z "
            "(price_on_tick_grid); its own expectations passed over this partition's 1 cycle"
        )
        for e in warned
    )

    # two failing cycles, one cause: one alert at the first, the other counted and listed
    ((alert_id, message, details),) = cycle.rows(
        "SELECT alert_id, message, details_json FROM alerts WHERE rule = 'gate_failure'"
    )
    assert alert_id == "gate_failure:20260101T003000Z"
    assert message.startswith("gate order_intents_gate stopped the cycle: price_on_tick_grid: ")
    assert "intent(s) priced off the tick grid" in message and "expect_column_values" not in message
    assert message.endswith(
        "(+1 more failing cycle of the chunk, the last at 2026-01-01T00:35 UTC); nothing of its chunk was written"
    )
    exact = json.loads(details)
    assert exact["failing_cycles"] == ["20260101T003000Z", "20260101T003500Z"]
    assert [f["detail"].split(": observed ")[0] for f in exact["failures"]] == [
        "expect_column_values_to_be_in_set on price_on_tick_grid"
    ] * 2
    assert "00000001;" in exact["failures"][0]["detail"]  # the exact price, off the grid by 1e-12

    # the run's log names the alert in trading terms, not by its id alone
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    assert [line for line in logged if line.startswith("alert ")] == [
        f"alert ERROR at cycle 2026-01-01T00:30 UTC, gate_failure: {message}"
    ]
