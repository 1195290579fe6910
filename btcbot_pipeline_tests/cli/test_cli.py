"""The btcbot command: exit codes and exact output lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle


def test_replay_init_then_validate_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "replay"

    assert main(["replay-init", "--dataset", str(dataset), "--seed", "3", "--minutes", "60"]) == 0
    assert capsys.readouterr().out == (
        f"wrote 12 symbols × 60 rows to {dataset} (2026-01-01T00:00 … 2026-01-01T00:59 UTC, seed 3)\n"
    )
    assert main(["replay-validate", "--dataset", str(dataset)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"OK {dataset}: 12 symbols, 0 errors")


def test_replay_validate_reports_a_broken_dataset_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "replay"
    main(["replay-init", "--dataset", str(dataset), "--minutes", "10"])
    capsys.readouterr()
    shutil.rmtree(dataset / "candles")

    assert main(["replay-validate", "--dataset", str(dataset)]) == 1
    assert "missing_candles_folder" in capsys.readouterr().out


def test_replay_validate_on_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay-validate", "--dataset", str(tmp_path / "nope")]) == 1
    assert "dataset_missing" in capsys.readouterr().out


def test_summary_of_a_materialized_cycle(cycle: Cycle, capsys: pytest.CaptureFixture[str]) -> None:
    assert cycle.run("2026-01-01T00:30").success
    capsys.readouterr()  # drop Dagster's run log

    assert main(["summary", "--db", str(cycle.db), "--partition", "2026-01-01T00:30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cycle 20260101T003000Z (2026-01-01T00:30 UTC)"
    assert lines[1] == "  mode            base NORMAL → final NORMAL"
    assert lines[2] == "  market          12 candidates, 0 not tradable"
    assert lines[3].startswith("  universe        ") and len(lines[3].split(", ")) == 5
    fills = cycle.rows("SELECT count(*) FROM fills")[0][0]
    assert f"  orders          {fills} FILLED" in lines  # the seed fill model: every order fills in its cycle
    assert any(line.startswith("  fills           ") for line in lines)
    assert any(line.startswith("  ledger          equity ") for line in lines)


def test_summary_lists_open_and_ended_orders_with_reasons(
    tmp_path: Path, replay_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = Cycle(
        db=tmp_path / "limit.duckdb",
        dataset=replay_dir,
        overrides={**DEMO, "STAGE7_FILL_MODEL": "limit", "ORDER_TTL_SECONDS": "600"},
    )
    assert limit.run(first="2026-01-01T00:30", last="2026-01-01T00:50").success
    capsys.readouterr()

    assert main(["summary", "--db", str(limit.db), "--partition", "2026-01-01T00:40"]) == 0
    out = capsys.readouterr().out.splitlines()
    (orders,) = [line for line in out if line.startswith("  orders          ")]
    statuses = limit.rows(
        "SELECT status, count(*), count(*) FILTER (WHERE filled_qty > 0 AND filled_qty < qty) FROM orders"
        " WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40' GROUP BY 1 ORDER BY 1"
    )
    assert orders == "  orders          " + ", ".join(
        f"{n} {s}" + (f" ({p} filled in part)" if p else "") for s, n, p in statuses
    )
    assert "ACKED" in orders  # orders rest open (the limit model)
    expired = limit.rows(
        "SELECT side, symbol FROM orders WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40' AND status = 'EXPIRED' ORDER BY "
        "symbol, side"
    )
    assert expired, "orders placed at 00:30 expire at 00:40 (600 s) unless filled"
    assert [f"                    EXPIRED {side} {symbol}: ttl_expired" for side, symbol in expired] == [
        line for line in out if line.startswith("                    EXPIRED ")
    ]


def test_summary_without_a_book_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert (
        capsys.readouterr().err
        == f"ReportError: no book at {tmp_path / 'none.duckdb'}: materialize a cycle first (see README)\n"
    )


def test_summary_of_an_unknown_partition(cycle: Cycle, capsys: pytest.CaptureFixture[str]) -> None:
    assert cycle.run("2026-01-01T00:30").success
    capsys.readouterr()  # drop Dagster's run log

    assert main(["summary", "--db", str(cycle.db), "--partition", "2026-01-01T09:00"]) == 2
    assert capsys.readouterr().err == (
        "ReportError: no cycle trace for 2026-01-01T09:00:00+00:00: materialize that partition first\n"
    )


def test_settings_refusal_is_printed_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("STAGE7_ENABLED=true\nDRY_RUN=false\n")
    monkeypatch.delenv("DRY_RUN", raising=False)
    monkeypatch.delenv("STAGE7_ENABLED", raising=False)

    assert main(["settings", "--env-file", str(env)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("SettingsError: STAGE7_ENABLED: the Stage 7 cycle runs dry (DRY_RUN=true) or live")
    assert "Traceback" not in err


def test_the_main_module_runs_the_command_only_when_it_is_main() -> None:
    import runpy

    # the gate worker's process (multiprocessing spawn) imports the main module as __mp_main__
    runpy.run_module("btcbot_pipeline.__main__", run_name="__mp_main__")


def test_summary_and_risk_clear_of_a_locked_book_say_so_in_one_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    db = tmp_path / "book.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        codes = [main(["summary", "--db", str(db)]), main(["risk", "clear", "--reason", "r", "--db", str(db)])]
    finally:
        holder.kill()
        holder.wait()

    err = capsys.readouterr().err.splitlines()
    assert codes == [2, 2]
    assert (
        err
        == [
            f"BookLockedError: book {db} is locked by process {holder.pid} (a running cycle or backtest?): read it "
            "when that writer has finished",
        ]
        * 2
    )
