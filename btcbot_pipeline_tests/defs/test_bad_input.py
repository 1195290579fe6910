"""Bad input ends in a clear failure or a recorded skip, never a lost or duplicated row."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text


def _copy(replay_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(replay_dir, target)
    return target


def test_missing_dataset_fails_the_cycle_with_its_code(cycle: Cycle, tmp_path: Path) -> None:
    cycle.dataset = tmp_path / "nowhere"

    result = cycle.run("2026-01-01T00:30")

    assert not result.success
    assert "dataset_missing" in failure_text(result)
    assert not (cycle.db.exists() and cycle.rows("SELECT count(*) FROM ledger_metrics")[0][0])


def test_disabled_stage7_refuses_to_run(cycle: Cycle) -> None:
    cycle.overrides["STAGE7_ENABLED"] = "false"

    result = cycle.run("2026-01-01T00:30")

    assert not result.success
    assert "STAGE7_ENABLED is false: the Stage 7 dry-run cycle is disabled" in failure_text(result)


def test_invalid_settings_fail_with_the_variable_named(cycle: Cycle) -> None:
    cycle.overrides["TRY_CASH_TARGET"] = "700"

    result = cycle.run("2026-01-01T00:30")

    assert not result.success
    assert "TRY_CASH_MAX: must be >= TRY_CASH_TARGET (was TRY_CASH_MAX=600, TRY_CASH_TARGET=700)" in failure_text(
        result
    )


def test_symbol_without_orderbook_is_skipped_and_the_cycle_goes_on(
    cycle: Cycle, replay_dir: Path, tmp_path: Path
) -> None:
    cycle.dataset = _copy(replay_dir, tmp_path)
    (cycle.dataset / "orderbook" / "BTCTRY.csv").unlink()

    result = cycle.run("2026-01-01T00:30")

    assert result.success, failure_text(result)
    assert cycle.rows("SELECT tradable, skip_reason FROM market_snapshot WHERE symbol = 'BTCTRY'") == [
        (False, "invalid_data:missing_orderbook_file")
    ]
    assert "BTCTRY" not in json.loads(cycle.rows("SELECT selected_universe_json FROM cycle_trace")[0][0])
    notes = json.loads(cycle.rows("SELECT market_notes_json FROM cycle_trace")[0][0])
    assert {"symbol": "BTCTRY", "reason": "invalid_data:missing_orderbook_file"} in notes["skipped"]
    assert cycle.rows("SELECT count(*) FROM fills")[0][0] >= 1


def test_symbol_with_missing_rows_is_stale_and_its_position_keeps_its_last_mark(
    cycle: Cycle, replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cycle.dataset = _copy(replay_dir, tmp_path)
    assert cycle.run("2026-01-01T00:30").success
    held = [s for (s,) in cycle.rows("SELECT symbol FROM positions ORDER BY symbol")]
    victim = held[0]
    last_mark = cycle.rows(f"SELECT mark_price_try FROM positions WHERE symbol = '{victim}'")[0][0]
    for folder in ("orderbook", "candles", "ticker"):
        path = cycle.dataset / folder / f"{victim}.csv"
        if path.exists():
            lines = path.read_text().splitlines()
            # keep the header and the rows up to 00:30 (31 one-minute rows): the symbol goes silent
            path.write_text("\n".join(lines[:32]) + "\n")

    result = cycle.run("2026-01-01T00:45")

    assert result.success, failure_text(result)
    assert cycle.rows(
        f"SELECT skip_reason FROM market_snapshot WHERE cycle_id = '20260101T004500Z' AND symbol = '{victim}'"
    ) == [("stale_data",)]
    assert cycle.rows(
        f"SELECT mark_price_try FROM positions WHERE cycle_id = '20260101T004500Z' AND symbol = '{victim}'"
    ) == [(last_mark,)]
    decisions = json.loads(
        cycle.rows("SELECT order_decisions_json FROM cycle_trace WHERE cycle_id = '20260101T004500Z'")[0][0]
    )
    # skipped, the exit keeps what it wanted: the whole holding, 1940.96 TRY at its last mark; nothing of it trades
    assert {
        "stage": "plan",
        "symbol": victim,
        "side": "SELL",
        "status": "SKIPPED",
        "reason": "not_tradable:stale_data",
        "notional_try": "1940.96",
    } in decisions
    qty = cycle.rows(f"SELECT qty FROM positions WHERE cycle_id = '20260101T004500Z' AND symbol = '{victim}'")[0][0]
    assert cycle.rows(
        f"SELECT notional_try, est_qty FROM plan_actions WHERE cycle_id = '20260101T004500Z' AND symbol = '{victim}'"
    ) == [(Decimal("1940.96"), qty)]
    assert cycle.rows(f"SELECT count(*) FROM fills WHERE cycle_id = '20260101T004500Z' AND symbol = '{victim}'") == [
        (0,)
    ]
    assert main(["summary", "--partition", "2026-01-01T00:45", "--db", str(cycle.db)]) == 0
    assert (
        f"                    SELL {victim}: not_tradable:stale_data (wanted 1940.96 TRY)"
        in capsys.readouterr().out.splitlines()
    )


def test_a_failed_cycle_leaves_the_previous_rows_intact(cycle: Cycle, replay_dir: Path, tmp_path: Path) -> None:
    cycle.dataset = _copy(replay_dir, tmp_path)
    assert cycle.run("2026-01-01T00:30").success
    before = cycle.rows("SELECT * FROM ledger_metrics ORDER BY ALL")
    shutil.rmtree(cycle.dataset / "candles")

    result = cycle.run("2026-01-01T00:30")

    assert not result.success
    assert "missing_candles_folder" in failure_text(result)
    assert cycle.rows("SELECT * FROM ledger_metrics ORDER BY ALL") == before


def test_a_dataset_without_exchangeinfo_runs_and_skips_every_symbol_with_its_reason(
    cycle: Cycle, replay_dir: Path, tmp_path: Path
) -> None:
    # exchangeinfo.json is optional in the replay layout; with STAGE7_RULES_REQUIRE_METADATA
    # (default true) no symbol has usable rules: nothing trades, every skip says why.
    cycle.dataset = _copy(replay_dir, tmp_path)
    (cycle.dataset / "exchangeinfo.json").unlink()

    result = cycle.run("2026-01-01T00:30")

    assert result.success, failure_text(result)
    assert cycle.rows("SELECT DISTINCT skip_reason FROM market_snapshot") == [("rules_unavailable:missing",)]
    assert cycle.rows("SELECT count(*) FROM fills") == [(0,)]
    assert cycle.rows("SELECT equity_try FROM ledger_metrics") == [(Decimal("10000"),)]


def test_the_same_dataset_trades_with_fallback_rules_when_metadata_is_not_required(
    cycle: Cycle, replay_dir: Path, tmp_path: Path
) -> None:
    cycle.dataset = _copy(replay_dir, tmp_path)
    (cycle.dataset / "exchangeinfo.json").unlink()
    cycle.overrides["STAGE7_RULES_REQUIRE_METADATA"] = "false"

    result = cycle.run("2026-01-01T00:30")

    assert result.success, failure_text(result)
    assert cycle.rows("SELECT DISTINCT rules_status FROM order_intents") == [("fallback",)]
    assert cycle.rows("SELECT count(*) FROM fills")[0][0] >= 1


def test_odd_file_names_are_symbols_excluded_by_name_never_a_blocked_cycle(cycle: Cycle, tmp_path: Path) -> None:
    from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset

    data = _copy(cycle.dataset, tmp_path)
    for kind in ("candles", "orderbook"):
        for odd in ("ETH:TRY", "ÉTHTRY", "ETH'TRY"):
            shutil.copy(data / kind / "ETHTRY.csv", data / kind / f"{odd}.csv")
        (data / kind / ".csv").write_text("ts,x\n")  # a hidden file is not a symbol
    (data / "candles" / "BTCTRY.csv").rename(data / "candles" / "btc-try.CSV")  # separators and case: still BTCTRY
    (data / "orderbook" / "BTCTRY.csv").rename(data / "orderbook" / "BTC_TRY.csv")
    cycle.dataset = data

    report = validate_replay_dataset(data)
    result = cycle.run("2026-01-01T00:30")

    assert {(i.code, i.symbol) for i in report.issues if i.code == "invalid_symbol_name"} == {
        ("invalid_symbol_name", "ETH:TRY"),
        ("invalid_symbol_name", "ÉTHTRY"),
        ("invalid_symbol_name", "ETH'TRY"),
    }
    assert sorted(i.path for i in report.issues if i.code == "hidden_file_ignored") == [
        "candles/.csv",
        "orderbook/.csv",
    ]
    assert result.success, failure_text(result)
    assert cycle.rows(
        "SELECT symbol, skip_reason FROM market_snapshot WHERE symbol IN ('ETH:TRY', 'ÉTHTRY', 'ETH''TRY', 'BTCTRY') "
        "ORDER BY symbol"
    ) == [
        ("BTCTRY", None),
        ("ETH'TRY", "invalid_data:invalid_symbol_name"),
        ("ETH:TRY", "invalid_data:invalid_symbol_name"),
        ("ÉTHTRY", "invalid_data:invalid_symbol_name"),
    ]
    assert cycle.rows("SELECT count(*) FROM order_intents WHERE symbol IN ('ETH:TRY', 'ÉTHTRY', 'ETH''TRY')") == [(0,)]
    assert cycle.rows("SELECT count(*) FROM market_snapshot") == [(15,)]  # 12 pairs + 3 odd names, no hidden file
