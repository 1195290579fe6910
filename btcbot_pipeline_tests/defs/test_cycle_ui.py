"""What the Dagster UI shows per cycle: each partition's own figures, the trace as tables,
a log line per partition, checks per suite and partition in trading terms, owners and
tags on every definition, and the retry policy (transient failures retried, gates not)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from btcbot_pipeline.defs.cycle import resources
from btcbot_pipeline.defs.cycle.assets import CYCLE_RETRY, CycleGraph, build_cycle_assets
from btcbot_pipeline.defs.cycle.checks import ChunkChecks, Limits
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.engine import GateStopped, Partition
from btcbot_pipeline.quality.rules import (
    ERROR,
    INTENTS_SUITE,
    MARKET_SUITE,
    SUITES,
    UNIVERSE_SUITE,
    WARN,
    Expect,
    Failure,
    GateResult,
    Suite,
)
from btcbot_pipeline.storage.book import Window
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text

T0 = datetime(2026, 1, 1, 0, 25, tzinfo=timezone.utc)
FIVE = timedelta(minutes=5)


def _parts(n: int) -> list[Partition]:
    return [
        Partition(f"2026-01-01T00:{25 + 5 * i:02d}", Window(T0 + i * FIVE, T0 + (i + 1) * FIVE), (T0 + i * FIVE,))
        for i in range(n)
    ]


def _checks(**kw: Any) -> ChunkChecks:
    return ChunkChecks(lambda stage: dg.AssetKey(stage), Limits(Decimal("0.5"), Decimal("50"), 60, 5), **kw)


def _excluded_rows(ts: str, n: int) -> tuple[dict[str, Any], ...]:
    # as the gate lists them: the chunk's first five offending rows, exact text
    share = format(Decimal(7) / Decimal(12), "f")  # 0.5833333333333333333333333333
    symbols = ["ADATRY", "AVAXTRY", "BTCTRY", "DOGETRY", "DOTTRY"]
    return tuple(
        {"cycle_ts": ts, "symbol": s, "excluded_share": share, "skip_reason": "crossed_book"} for s in symbols[:n]
    )


def _excluded_failure() -> Failure:
    return Failure(
        "excluded_share_ok",
        "expect_column_values_to_be_in_set",
        "excluded_share_ok",
        ERROR,
        7,
        _excluded_rows("2026-01-01T00:35:00Z", 5),
    )


def _stopped(parts: list[Partition], gates: tuple[GateResult, ...]) -> GateStopped:
    ts = datetime(2026, 1, 1, 0, 35)  # the book's naive UTC
    return GateStopped(
        tuple(parts),
        gates,
        (
            (
                ts,
                "20260101T003500Z",
                "market_snapshot",
                "market_snapshot_gate",
                "excluded_share_ok",
                "expect_column_values_to_be_in_set on excluded_share_ok: observed 7",
            ),
        ),
    )


def test_a_blocked_cycle_marks_only_its_partition_and_only_the_failing_suite() -> None:
    parts = _parts(3)  # 00:25, 00:30, 00:35 validated as one chunk; 00:35 has 7 of 12 books crossed
    gates = (GateResult(MARKET_SUITE, (_excluded_failure(),), 10), GateResult(UNIVERSE_SUITE, (), 6))
    stopped = _stopped(parts, gates)
    tally = {datetime(2026, 1, 1, 0, 35, tzinfo=timezone.utc): (12, {"crossed_book": 7})}

    evals = list(_checks(market=tally.get).evaluations(stopped.partitions, stopped.gates, stopped))

    verdicts = [(e.check_name, e.partition, e.passed, e.severity.value) for e in evals]
    # nothing of the rolled-back chunk is in the book: no check of it reads green; only the
    # failing suite's failing partition is an ERROR
    assert verdicts == [
        ("market_snapshot_gate", "2026-01-01T00:25", False, "WARN"),
        ("market_snapshot_gate", "2026-01-01T00:30", False, "WARN"),
        ("market_snapshot_gate", "2026-01-01T00:35", False, "ERROR"),
        ("universe_gate", "2026-01-01T00:25", False, "WARN"),
        ("universe_gate", "2026-01-01T00:30", False, "WARN"),
        ("universe_gate", "2026-01-01T00:35", False, "WARN"),
    ]  # suites that did not run for the chunk (here five of them) get no evaluation at all
    failed = evals[2]
    assert (
        failed.description
        == "market_snapshot_gate failed (ERROR): 7 of 12 symbols (58 %) excluded, limit 50 %: crossed_book ×7"
    )
    assert failed.metadata["written"].value is False
    assert failed.metadata["failing_cycles"].value == ["2026-01-01T00:35:00Z"]
    (listed,) = failed.metadata["failed_expectations"].value
    assert (
        listed["offending_rows_partition"] == 7
        and listed["offending_rows"][0]["excluded_share"] == "0.5833333333333333333333333333"
    )
    assert evals[0].description == (
        "market_snapshot_gate not written: this chunk was rolled back because market_snapshot_gate failed at cycle "
        "20260101T003500Z (excluded_share_ok); its own expectations passed over this partition's 1 cycle"
    )
    assert evals[5].description == (
        "universe_gate not written: this chunk was rolled back because market_snapshot_gate failed at cycle "
        "20260101T003500Z (excluded_share_ok); its own expectations passed over this partition's 1 cycle"
    )
    assert all(e.metadata["written"].value is False for e in evals)
    # the chunk was the run's first: nothing of the run is in the book
    assert _checks(market=tally.get).stop_description(stopped).splitlines()[0] == (
        "gate market_snapshot_gate stopped cycle 20260101T003500Z (2026-01-01T00:35 UTC): excluded_share_ok: "
        "7 of 12 symbols (58 %) excluded, limit 50 %: crossed_book ×7. Nothing of this run was written (the stopped "
        "chunk 2026-01-01T00:25…2026-01-01T00:35 was its first); not retried: the same rows fail the same gate."
    )


def test_a_stop_after_committed_chunks_says_what_of_the_run_is_in_the_book() -> None:
    parts = _parts(5)  # 00:25 and 00:30 committed as two chunks, then 00:35…00:45 stopped
    checks = _checks()
    for p in parts[:2]:
        assert all(e.passed for e in checks.evaluations([p], (GateResult(UNIVERSE_SUITE, (), 6),)))
    stopped = _stopped(parts[2:], (GateResult(MARKET_SUITE, (_excluded_failure(),), 10),))
    assert [e.passed for e in checks.evaluations(stopped.partitions, stopped.gates, stopped)] == [False, False, False]

    assert checks.stop_description(stopped).splitlines()[0].split(". ", 1)[1] == (
        "Nothing of 2026-01-01T00:35…2026-01-01T00:45 was written; this run committed 2 earlier partitions before it "
        "(2026-01-01T00:25…2026-01-01T00:30, 2 cycles); not retried: the same rows fail the same gate."
    )


def test_without_the_snapshot_tally_the_text_says_which_rows_were_not_listed() -> None:
    parts = _parts(3)
    stopped = _stopped(parts, (GateResult(MARKET_SUITE, (_excluded_failure(),), 10),))

    (failed,) = [
        e for e in _checks().evaluations(parts, stopped.gates, stopped) if e.severity == dg.AssetCheckSeverity.ERROR
    ]

    assert failed.description == (
        "market_snapshot_gate failed (ERROR): 7 of 12 symbols (58 %) excluded, limit 50 %: crossed_book ×5 (+2 not "
        "listed)"
    )


def test_a_passing_suite_has_the_suite_severity() -> None:
    warn_only = Suite("spread_watch", "market_snapshot", (Expect("spread_ok", "flag", ("spread_ok",), WARN),))

    evals = list(_checks().evaluations(_parts(1), (GateResult(MARKET_SUITE, (), 10), GateResult(warn_only, (), 1))))

    assert [(e.check_name, e.passed, e.severity) for e in evals] == [
        ("market_snapshot_gate", True, dg.AssetCheckSeverity.ERROR),
        ("spread_watch", True, dg.AssetCheckSeverity.WARN),
    ]
    assert evals[0].description == "market_snapshot_gate: every expectation passed over this partition's 1 cycle"


def test_a_warn_failure_in_trading_terms_with_rounded_figures() -> None:
    parts = _parts(2)
    spread = Failure(
        "spread_within_bound",
        "expect_column_values_to_be_in_set",
        "spread_within_bound",
        WARN,
        1,
        ({"cycle_ts": "2026-01-01T00:30:00Z", "symbol": "BTCTRY", "spread_bps": "61.23456789012345678901234567"},),
    )

    evals = list(_checks().evaluations(parts, (GateResult(MARKET_SUITE, (spread,), 10),)))

    assert [(e.partition, e.passed, e.severity.value) for e in evals] == [
        ("2026-01-01T00:25", True, "ERROR"),
        ("2026-01-01T00:30", False, "WARN"),
    ]
    assert evals[1].description == (
        "market_snapshot_gate failed (WARN): spread_within_bound: 1 tradable symbol(s) with a spread above "
        "STAGE7_MAX_SPREAD_BPS (50 bps): BTCTRY spread_bps=61.2"
    )


def test_warn_rows_cut_off_leave_no_partition_of_the_chunk_cleared() -> None:
    parts = _parts(3)
    rows = tuple({"cycle_ts": "2026-01-01T00:25:00Z", "symbol": s, "price_try": "1234.560000000001"} for s in "ABCDE")
    off_grid = Failure("price_on_tick_grid", "expect_column_values_to_be_in_set", "price_on_tick_grid", WARN, 9, rows)

    evals = list(_checks().evaluations(parts, (GateResult(INTENTS_SUITE, (off_grid,), 9),)))

    assert [e.passed for e in evals] == [False, False, False]
    assert evals[0].description == (
        "order_intents_gate failed (WARN): price_on_tick_grid: at least 5 intent(s) priced off the tick grid: "
        "A price_try=1234.56; B price_try=1234.56; C price_try=1234.56 …"
    )
    assert (
        evals[1].description
        == "order_intents_gate failed (WARN): price_on_tick_grid: some intent(s) priced off the tick grid"
    )


# --- the definitions ---------------------------------------------------------------------


def test_every_definition_has_a_description_owners_and_tags(tmp_path: Path, replay_dir: Path) -> None:
    from btcbot_pipeline.backtest_definitions import build_backtest_definitions
    from btcbot_pipeline.definitions import build_definitions
    from btcbot_pipeline.defs.backtest.spec import make_spec, save_spec
    from btcbot_pipeline.settings import load_settings

    save_spec(
        make_spec(name="base", dataset=str(replay_dir), start=T0, end=T0 + timedelta(days=1), env_file=None), tmp_path
    )
    settings = load_settings(None, BACKTEST_DIR=str(tmp_path))
    bot, backtests = build_definitions(settings, env_file=None), build_backtest_definitions(settings)

    for defs, graph_kind in ((bot, "dry_run"), (backtests, "backtest")):
        graph = defs.resolve_asset_graph()
        every = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
        keys = [k for k in every if k.path[0] != "sweep"]
        assert len(keys) == 7, keys  # each location: one graph of seven (and the backtests' sweeps, below)
        for key in keys:
            node = graph.get(key)
            assert node.description and node.owners == ["team:trading"], key
            assert node.tags["btcbot/stage"] == key.path[-1] and node.tags["btcbot/graph"] == graph_kind, key
        check_keys = list(graph.asset_check_keys)
        assert len(check_keys) == len(SUITES)
        for check_key in check_keys:
            spec = graph.get_check_spec(check_key)
            assert spec.description and spec.blocking and spec.partitions_def is not None, check_key
            assert spec.metadata["owners"] == ["team:trading"] and spec.metadata["tags"]["btcbot/kind"] == "gate", (
                check_key
            )
        for assets_def in defs.assets or []:
            if not isinstance(assets_def, dg.AssetsDefinition) or any(k.path[0] == "sweep" for k in assets_def.keys):
                continue  # a sweep member is a whole backtest: a failure is reported, not retried thrice
            assert assets_def.op.retry_policy == CYCLE_RETRY
    assert CYCLE_RETRY.max_retries == 3 and CYCLE_RETRY.delay == 10 and CYCLE_RETRY.backoff == dg.Backoff.EXPONENTIAL
    jobs = [bot.resolve_job_def("cycle_job")]
    # (the run-failure alert sensor takes no owners in Dagster 1.13: tested in test_alert_sensors)
    automations = [*bot.schedules, *(s for s in bot.sensors if s.name != "cycle_failure_alert_sensor")]  # type: ignore[misc]
    assert [d.name for d in automations] == ["cycle_job_schedule", "cycle_catchup_sensor"]
    # the job's runs also name their book (one run per book in the instance's queue)
    book = {"btcbot/book": str(Path(settings.state_db_path).resolve())}
    for d, tags in [
        (jobs[0], {"btcbot/mode": "dry_run", **book}),
        *((a, {"btcbot/mode": "dry_run"}) for a in automations),
    ]:
        assert d.description and d.tags == tags and d.owners == ["team:trading"], d.name
    sweeps = backtests.resolve_asset_graph()
    for key in (dg.AssetKey(["sweep", "backtest"]), dg.AssetKey(["sweep", "leaderboard"])):
        node = sweeps.get(key)
        assert node.description and node.owners == ["team:trading"] and node.tags["btcbot/graph"] == "sweep", key
    backtest_job = backtests.resolve_job_def("backtest_base_job")
    assert backtest_job.description and backtest_job.tags == {
        "btcbot/backtest": "base",
        "btcbot/book": str((tmp_path / "base.duckdb").resolve()),
    }


# --- end to end --------------------------------------------------------------------------


def _equity_by_partition(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    return {
        m.partition: m.materialization.metadata["equity_try"].value
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "ledger_snapshot"
    }


def test_six_partitions_of_one_run_each_show_their_own_cycle(cycle: Cycle) -> None:
    instance = dg.DagsterInstance.ephemeral()
    tags = {
        "dagster/asset_partition_range_start": "2026-01-01T00:25",
        "dagster/asset_partition_range_end": "2026-01-01T00:50",
    }

    result = dg.materialize(
        cycle.assets(), tags=tags, resources=cycle.resources(), instance=instance, raise_on_error=False
    )

    assert result.success, failure_text(result)
    book = cycle.rows("SELECT strftime(cycle_ts, '%Y-%m-%dT%H:%M'), equity_try FROM ledger_metrics ORDER BY cycle_ts")
    assert len(book) == 6 and len({e for _, e in book}) == 6  # six different equities
    assert _equity_by_partition(result) == {k: float(e.quantize(Decimal("0.01"))) for k, e in book}
    ledger = {
        m.partition: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "ledger_snapshot"
    }
    money = cycle.rows(
        "SELECT strftime(cycle_ts, '%Y-%m-%dT%H:%M'), cash_try, net_pnl_try, fees_try, max_drawdown FROM ledger_metrics"
    )
    cent = Decimal("0.01")
    for key, cash, net, fees, drawdown in money:  # numeric, so Dagster plots them by partition; exact text beside
        meta = ledger[key]
        assert (
            meta["cash_try"].value,
            meta["net_pnl_try_since_opening"].value,
            meta["fees_try_since_opening"].value,
        ) == (float(cash.quantize(cent)), float(net.quantize(cent)), float(fees.quantize(cent)))
        assert meta["max_drawdown_pct_since_opening"].value == float((drawdown * 100).quantize(Decimal("0.0001")))
        assert Decimal(meta["cash_try_exact"].value) == cash and meta["cycles"].value == 1

    evals = result.get_asset_check_evaluations()
    assert sorted({(e.check_name, e.partition) for e in evals}) == sorted((s, k) for s in SUITES for k, _ in book)
    assert len(evals) == 6 * len(SUITES) and all(e.passed and e.severity == dg.AssetCheckSeverity.ERROR for e in evals)

    trace = {
        m.partition: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "cycle_trace"
    }
    meta = trace["2026-01-01T00:40"]
    (decisions_json, base, final) = cycle.rows(
        "SELECT order_decisions_json, base_mode, final_mode FROM cycle_trace "
        "WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40'"
    )[0]
    table = meta["decisions_last_cycle"]
    assert [c.name for c in table.schema.columns] == ["stage", "symbol", "side", "notional_try", "status", "reason"]
    assert [dict(r.data) for r in table.records] == [
        {
            "stage": d["stage"],
            "symbol": d["symbol"],
            "side": d["side"],
            "status": d["status"],
            "reason": d["reason"] or "",
            "notional_try": None
            if d["notional_try"] is None
            else float(Decimal(d["notional_try"]).quantize(Decimal("0.01"))),
        }
        for d in json.loads(decisions_json)
    ]
    assert len(table.records) >= 2 and meta["mode_last_cycle"].value == f"{base} → {final}"
    assert meta["last_cycle_id"].value == "20260101T004000Z" and meta["cycles"].value == 1
    risk = cycle.rows("SELECT mode, drawdown FROM risk_decisions WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40'")[0]
    assert meta["risk_mode_next_cycle"].value == risk[0]
    assert meta["risk_drawdown_pct_last_cycle"].value == float((risk[1] * 100).quantize(Decimal("0.01")))
    skipped = cycle.rows(
        "SELECT symbol, skip_reason FROM market_snapshot WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40' "
        "AND skip_reason IS NOT NULL ORDER BY symbol"
    )
    assert [
        (r.data["symbol"], r.data["reason"])
        for r in meta["skipped_symbols_last_cycle"].records
        if r.data["stage"] == "market"
    ] == skipped

    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    lines = [line for line in logged if line.startswith("cycle 2026-")]
    assert len(lines) == 6
    equity_40 = dict(book)["2026-01-01T00:40"].quantize(Decimal("0.01"))
    line_40 = next(line for line in lines if line.startswith("cycle 2026-01-01T00:40: mode "))
    assert (
        f"equity {equity_40} TRY" in line_40
        and "; intents " in line_40
        and "; fills " in line_40
        and "; fees " in line_40
    )


def test_a_locked_book_is_retried_and_a_gate_failure_is_not(cycle: Cycle, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open, real_snapshots = resources.BookResource.open, resources.ReplayMarketData.snapshots
    opened = []

    @contextmanager
    def locked_once(self):  # type: ignore[no-untyped-def]
        opened.append(1)
        if len(opened) == 1:  # another process holds DuckDB's lock past DuckDBResource's own retries
            raise duckdb.IOException(
                'IO Error: Could not set lock on file "book.duckdb": Conflicting lock is held (PID 4242)'
            )
        with real_open(self) as book:
            yield book

    def crossed_at_0035(self, times, *, vol_lookback, max_data_age_s):  # type: ignore[no-untyped-def]
        out = []
        for snap in real_snapshots(self, times, vol_lookback=vol_lookback, max_data_age_s=max_data_age_s):
            if snap.cycle_ts.minute == 35:  # 7 of the 12 books crossed: more than STAGE7_MAX_EXCLUDED_SHARE (50 %)
                symbols = tuple(replace(s, best_bid=s.best_ask * 2) if i < 7 else s for i, s in enumerate(snap.symbols))
                snap = finalize_snapshot(replace(snap, symbols=symbols), max_data_age_s=max_data_age_s)
            out.append(snap)
        return out

    monkeypatch.setattr(resources.BookResource, "open", locked_once)
    monkeypatch.setattr(resources.ReplayMarketData, "snapshots", crossed_at_0035)
    # the real policy waits 10 s, 20 s, 40 s between attempts: the same policy without waiting
    graph = CycleGraph(cycle_partitions("*/5 * * * *", "2026-01-01T00:00"), retry_policy=dg.RetryPolicy(max_retries=3))
    assets = build_cycle_assets(graph.partitions_def, graph)
    tags = {
        "dagster/asset_partition_range_start": "2026-01-01T00:25",
        "dagster/asset_partition_range_end": "2026-01-01T00:40",
    }

    result = dg.materialize(
        assets, tags=tags, resources=cycle.resources(), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )

    kinds = [
        e.event_type_value
        for e in result.all_events
        if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED", "STEP_FAILURE")
    ]
    assert kinds == ["STEP_UP_FOR_RETRY", "STEP_RESTARTED", "STEP_FAILURE"]  # the lock retried once, the gate never
    assert len(opened) == 2
    assert (
        "gate market_snapshot_gate stopped cycle 20260101T003500Z (2026-01-01T00:35 UTC): excluded_share_ok: 7 of 12 "
        "symbols (58 %) excluded, limit 50 %: crossed_book ×7." in failure_text(result)
    )
    evals = result.get_asset_check_evaluations()
    failed = [(e.check_name, e.partition, e.description) for e in evals if e.severity == dg.AssetCheckSeverity.ERROR]
    assert failed == [
        (
            "market_snapshot_gate",
            "2026-01-01T00:35",
            "market_snapshot_gate failed (ERROR): 7 of 12 symbols (58 %) excluded, limit 50 %: crossed_book ×7",
        )
    ]
    assert not any(e.passed for e in evals)  # the chunk was rolled back: not one check of it is green
    assert len(result.get_asset_check_evaluations()) == 4 * len(SUITES)  # every suite ran on the chunk's four cycles
    assert cycle.rows("SELECT count(*) FROM ledger_metrics") == [(0,)]

    cycle.overrides["STAGE7_ENABLED"] = "false"  # bad settings: refused once, never retried
    refused = dg.materialize(
        assets,
        partition_key="2026-01-01T00:25",
        resources=cycle.resources(),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert [
        e.event_type_value for e in refused.all_events if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_FAILURE")
    ] == ["STEP_FAILURE"]
    assert "STAGE7_ENABLED is false" in failure_text(refused)
