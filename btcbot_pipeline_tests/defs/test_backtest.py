"""Backtests: their own books, one run, parity with the dry-run replay path, fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from btcbot_pipeline.defs.backtest.run import BacktestRun, prepare, run
from btcbot_pipeline.defs.backtest.spec import SpecError, make_spec
from btcbot_pipeline.reporting.fingerprint import compare_books, fingerprint_book
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle

START = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
END = datetime(2026, 1, 1, 1, 30, tzinfo=timezone.utc)  # 12 five-minute cycles


def backtest(
    folder: Path, dataset: Path, name: str, *, start: datetime = START, end: datetime = END, **sets: str
) -> BacktestRun:
    spec = make_spec(name=name, dataset=str(dataset), start=start, end=end, env_file=None, sets={**DEMO, **sets})
    prepare(spec, folder)
    return run(spec, folder, instance=dg.DagsterInstance.ephemeral())


def rows(book: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(book), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_backtest_equals_the_dry_run_replay_of_the_same_cycles(
    cycle: Cycle, replay_dir: Path, tmp_path: Path
) -> None:
    done = backtest(tmp_path / "bt", replay_dir, "parity")
    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T01:25").success

    assert done.success, done.failure
    assert compare_books(done.book, cycle.db).agree
    assert fingerprint_book(done.book).digest == fingerprint_book(cycle.db).digest
    for table in ("ledger_metrics", "fills", "cycle_trace", "market_snapshot", "universe"):
        assert rows(done.book, f"SELECT * FROM {table} ORDER BY ALL") == cycle.rows(
            f"SELECT * FROM {table} ORDER BY ALL"
        )
    assert rows(done.book, "SELECT count(*) FROM ledger_metrics") == [(12,)]


def test_same_backtest_twice_same_fingerprint_and_a_changed_parameter_another(replay_dir: Path, tmp_path: Path) -> None:
    first = backtest(tmp_path, replay_dir, "first")
    again = backtest(tmp_path, replay_dir, "again")
    slippage = backtest(tmp_path, replay_dir, "slippage", STAGE7_SLIPPAGE_BPS="40")

    assert first.success and again.success and slippage.success
    digests = [fingerprint_book(r.book).digest for r in (first, again, slippage)]
    assert digests[0] == digests[1] != digests[2]
    # both books of the same window stay inspectable, each with its own parameters
    info = {r.spec.name: rows(r.book, "SELECT name, kind, params_hash FROM book_info")[0] for r in (first, slippage)}
    assert info["first"][:2] == ("first", "backtest") and info["slippage"][:2] == ("slippage", "backtest")
    assert info["first"][2] != info["slippage"][2]
    assert (
        rows(first.book, "SELECT count(*) FROM ledger_metrics")
        == rows(slippage.book, "SELECT count(*) FROM ledger_metrics")
        == [(12,)]
    )


def test_a_backtest_of_that_name_with_another_spec_is_refused_unless_replaced(replay_dir: Path, tmp_path: Path) -> None:
    assert backtest(tmp_path, replay_dir, "named").success
    spec = make_spec(
        name="named",
        dataset=str(replay_dir),
        start=START,
        end=END,
        env_file=None,
        sets={**DEMO, "STAGE7_FEES_BPS": "30"},
    )

    with pytest.raises(SpecError) as refused:
        prepare(spec, tmp_path)

    assert str(refused.value) == (
        "backtest 'named' already exists with another spec (differs in STAGE7_FEES_BPS): run it under another "
        "--name to keep both, or pass --replace to start it over"
    )
    prepare(spec, tmp_path, replace=True)
    assert run(spec, tmp_path, instance=dg.DagsterInstance.ephemeral()).success
    assert (
        json.loads(rows(tmp_path / "named.duckdb", "SELECT params_json FROM book_info")[0][0])["cycle"]["execution"][
            "fees_bps"
        ]
        == "30"
    )


def test_a_book_of_another_parameter_set_is_refused_by_the_run_itself(replay_dir: Path, tmp_path: Path) -> None:
    assert backtest(tmp_path, replay_dir, "strict").success
    # someone edits the spec file by hand: the book's identity still refuses the mix
    path = tmp_path / "strict.spec.json"
    spec = json.loads(path.read_text())
    spec["settings"]["STAGE7_FEES_BPS"] = "30"
    path.write_text(json.dumps(spec))
    from btcbot_pipeline.defs.backtest.spec import BacktestSpec

    result = run(BacktestSpec.model_validate(spec), tmp_path, instance=dg.DagsterInstance.ephemeral())

    assert not result.success
    assert "book 'strict' is a backtest book of source replay (params_hash=" in (result.failure or "")
    assert "run this backtest under another --name, or pass --replace" in (result.failure or "")


def test_a_backtest_never_touches_the_dry_run_book(cycle: Cycle, replay_dir: Path, tmp_path: Path) -> None:
    assert cycle.run("2026-01-01T00:30").success
    before = hashlib.sha256(cycle.db.read_bytes()).hexdigest()

    assert backtest(tmp_path / "bt", replay_dir, "elsewhere").success

    assert hashlib.sha256(cycle.db.read_bytes()).hexdigest() == before
    assert (tmp_path / "bt" / "elsewhere.duckdb").exists()


def test_a_dry_run_book_refuses_a_backtest_run_and_says_why(cycle: Cycle, replay_dir: Path) -> None:
    assert cycle.run("2026-01-01T00:30").success
    from btcbot_pipeline.settings import load_settings
    from btcbot_pipeline.storage.book import Book, BookKindError
    from btcbot_pipeline.storage.identity import run_identity

    identity = run_identity(load_settings(None, **DEMO, REPLAY_DATASET_PATH=str(replay_dir)), kind="backtest", name="x")
    with duckdb.connect(str(cycle.db)) as con, pytest.raises(BookKindError) as refused:
        Book(con).claim(identity)

    assert str(refused.value).startswith(
        "book 'book' is a dry_run book of source replay (kind=dry_run); this run is a backtest run"
    )


def test_the_money_identities_hold_at_every_cycle_of_a_real_data_backtest(real_dataset: Path, tmp_path: Path) -> None:
    done = backtest(
        tmp_path,
        real_dataset,
        "real",
        start=datetime(2018, 1, 10, 5, tzinfo=timezone.utc),
        end=datetime(2018, 1, 11, 5, tzinfo=timezone.utc),
    )

    assert done.success, done.failure
    checked = 0
    for metrics_json, state_json in rows(
        done.book,
        "SELECT t.ledger_metrics_json, l.state_json FROM ledger_metrics l JOIN cycle_trace t USING (cycle_ts) ORDER BY "
        "cycle_ts",
    ):
        m = {k: Decimal(v) for k, v in json.loads(metrics_json).items() if k.endswith("_try")}
        state = json.loads(state_json)
        marked = sum((Decimal(h["qty"]) * Decimal(state["marks"][s]) for s, h in state["holdings"].items()), Decimal(0))
        assert m["gross_pnl_try"] == m["realized_pnl_try"] + m["unrealized_pnl_try"]
        assert m["net_pnl_try"] == m["gross_pnl_try"] - m["fees_try"] - m["slippage_try"]
        assert m["equity_try"] == m["start_capital_try"] + m["net_pnl_try"] == Decimal(state["cash_try"]) + marked
        checked += 1
    assert checked == 288
    assert rows(done.book, "SELECT count(*) FROM fills")[0][0] > 0


def test_each_day_partition_has_its_own_figures_and_the_last_the_report(replay_dir: Path, tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    spec = make_spec(
        name="days",
        dataset=str(replay_dir),
        start=START,
        end=datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc),
        partition="day",
        env_file=None,
        sets=dict(DEMO),
    )
    prepare(spec, tmp_path)
    assert run(spec, tmp_path, instance=instance).success

    ledger = instance.get_latest_materialization_event(dg.AssetKey(["backtest", "days", "ledger_snapshot"]))
    meta = ledger.asset_materialization.metadata
    assert ledger.asset_materialization.partition == "2026-01-01"
    assert meta["cycles"].value == 18
    book_equity = rows(
        tmp_path / "days.duckdb", "SELECT equity_try FROM ledger_metrics ORDER BY cycle_ts DESC LIMIT 1"
    )[0][0]
    cent = Decimal("0.01")
    assert Decimal(meta["equity_try_exact"].value).quantize(cent) == book_equity.quantize(cent)
    assert meta["equity_try"].value == float(book_equity.quantize(cent))
    assert isinstance(meta["equity_try"].value, float) and isinstance(
        meta["max_drawdown_pct_since_opening"].value, float
    )
    trace = instance.get_latest_materialization_event(
        dg.AssetKey(["backtest", "days", "cycle_trace"])
    ).asset_materialization
    assert (
        "| cycles |" in trace.metadata["report"].value
        and "data:image/png;base64," in trace.metadata["equity_and_drawdown"].value
    )
    assert (tmp_path / "days.png").exists()


def test_the_dataset_fingerprint_is_its_market_data_wherever_it_lies(replay_dir: Path, tmp_path: Path) -> None:
    import shutil

    from btcbot_pipeline.storage.identity import dataset_fingerprint

    copy = tmp_path / "elsewhere"
    shutil.copytree(replay_dir, copy)
    (copy / "import_manifest.json").write_text('{"source": {"dir": "/somewhere/else"}}')
    assert dataset_fingerprint(copy) == dataset_fingerprint(replay_dir)
    (copy / "candles" / "BTCTRY.csv").write_text((copy / "candles" / "BTCTRY.csv").read_text() + "\n")
    assert dataset_fingerprint(copy) != dataset_fingerprint(replay_dir)
    assert dataset_fingerprint(tmp_path / "missing") is None


def _planned(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str | None, list[str] | None]]:
    """Each planned materialization of the run: asset, partition, partitions of a range."""
    out = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED):
        data = entry.dagster_event.event_specific_data
        subset = None if data.partitions_subset is None else sorted(data.partitions_subset.get_partition_keys())
        out.append((data.asset_key.path[-1], data.partition, subset))
    return sorted(out, key=lambda p: (p[0], p[1] or ""))


def test_a_throwaway_instance_records_planned_partitions_as_ranges_a_kept_one_each(
    real_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(
        name="planned",
        dataset=str(real_dataset),
        start=datetime(2018, 1, 10, 23, 0, tzinfo=timezone.utc),
        end=datetime(2018, 1, 11, 1, 0, tzinfo=timezone.utc),  # 24 cycles over two day partitions
        partition="day",
        env_file=None,
        sets=dict(DEMO),
    )
    days = ["2018-01-10", "2018-01-11"]
    prepare(spec, tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    made: list[dg.DagsterInstance] = []
    ephemeral = dg.DagsterInstance.ephemeral
    monkeypatch.setattr(dg.DagsterInstance, "ephemeral", staticmethod(lambda: made.append(ephemeral()) or made[-1]))

    thrown = run(spec, tmp_path)  # `btcbot backtest` without DAGSTER_HOME: an instance made for the run

    assert thrown.success and len(made) == 1
    assert [p for p in _planned(made[0], thrown.run_id) if p[0] == "ledger_snapshot"] == [
        ("ledger_snapshot", None, days)
    ]
    assert len(_planned(made[0], thrown.run_id)) == 7  # one per asset
    assert "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS" not in os.environ

    kept = dg.DagsterInstance.ephemeral()  # an instance the caller keeps (a sweep's, DAGSTER_HOME's)
    prepare(spec.model_copy(), tmp_path, replace=True)
    again = run(spec, tmp_path, instance=kept)

    assert again.success
    assert [p for p in _planned(kept, again.run_id) if p[0] == "ledger_snapshot"] == [
        ("ledger_snapshot", day, None) for day in days
    ]
