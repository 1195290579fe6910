"""``btcbot doctor`` on a good and on a broken setup: the table, the fixes, the exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline_tests.harness import DEMO


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in DEMO.items()))
    return path


def doctor(capsys: pytest.CaptureFixture[str], env: Path, dataset: Path, db: Path) -> tuple[int, str]:
    code = main(["doctor", "--dataset", str(dataset), "--db", str(db), "--env-file", str(env)])
    return code, capsys.readouterr().out


def status(out: str, check: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith(check + " "))
    return line.split()[1]


def test_a_good_setup_passes_with_exit_0(capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path) -> None:
    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 0, out
    assert out.splitlines()[0].split() == ["CHECK", "STATUS", "DETAIL"]
    for check in ("settings/load", "settings/stage7_enabled", "dataset/replay-validate", "dataset/market_snapshot_gate", "storage/book",
                  "storage/dagster_home", "rules/BTCTRY"):
        assert status(out, check) == "PASS", check
    assert "fix:" not in out
    assert out.splitlines()[-1] == "doctor: 18 pass, 0 warn, 0 fail → PASS"
    assert not (tmp_path / "book.duckdb").exists()  # the doctor creates nothing


def test_warnings_only_exit_1(capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME")
    env.write_text(env.read_text().replace("KILL_SWITCH=false", "KILL_SWITCH=true") + "STAGE7_MAX_DAILY_LOSS_TRY=10000\n")

    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 1
    assert status(out, "settings/kill_switch") == "WARN" and status(out, "storage/dagster_home") == "WARN"
    assert status(out, "settings/risk_budget") == "WARN"  # 10000 >= the 10000 capital: can never trip
    assert "fix: export DAGSTER_HOME=$PWD/dagster_home" in out


def _broken(replay_dir: Path, tmp_path: Path) -> Path:
    ds = tmp_path / "broken"
    shutil.copytree(replay_dir, ds)
    book = ds / "orderbook" / "BTCTRY.csv"
    lines = book.read_text().splitlines()
    ts, bid, ask = lines[5].split(",")
    lines[5] = f"{ts},{ask},{bid}"  # a crossed book row
    book.write_text("\n".join(lines) + "\n")
    info = json.loads((ds / "exchangeinfo.json").read_text())
    info["data"]["symbols"] = info["data"]["symbols"][:4]  # 8 of 12 symbols without rules
    (ds / "exchangeinfo.json").write_text(json.dumps(info))
    # 7 of 12 books go silent after the first 10 minutes: stale at the later cycle times,
    # more than STAGE7_MAX_EXCLUDED_SHARE (0.5) of the candidates excluded for data faults.
    # (Symbols without rules are excluded too but do not count: exchangeinfo is optional.)
    for path in sorted((ds / "orderbook").glob("*.csv"))[5:]:
        path.write_text("\n".join(path.read_text().splitlines()[:11]) + "\n")
    return ds


def test_a_broken_dataset_fails_with_exit_2_and_fixes(capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path) -> None:
    code, out = doctor(capsys, env, _broken(replay_dir, tmp_path), tmp_path / "book.duckdb")

    assert code == 2, out
    assert status(out, "dataset/replay-validate") == "FAIL"
    assert "crossed_book" in out and "fix: run `btcbot replay-validate --dataset" in out
    gate = next(line for line in out.splitlines() if line.startswith("dataset/market_snapshot_gate"))
    assert "FAIL" in gate and "excluded_share_ok (expect_column_values_to_be_in_set, observed " in gate
    assert status(out, "rules/XRPTRY") == "WARN" and "missing: no exchange metadata for symbol" in out
    assert out.splitlines()[-1].endswith("→ FAIL")


def test_a_book_locked_by_another_writer_fails(capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "book.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        code, out = doctor(capsys, env, replay_dir, db)
    finally:
        holder.kill()
        holder.wait()

    assert code == 2
    line = next(line for line in out.splitlines() if line.startswith("storage/book"))
    assert "FAIL" in line and "lock" in line.lower()
    assert "fix: stop the process holding the book" in out


def test_invalid_settings_fail_the_settings_check(capsys: pytest.CaptureFixture[str], env: Path, replay_dir: Path, tmp_path: Path) -> None:
    env.write_text(env.read_text() + "TRY_CASH_TARGET=700\n")

    code, out = doctor(capsys, env, replay_dir, tmp_path / "book.duckdb")

    assert code == 2
    assert status(out, "settings/load") == "FAIL"
    assert "TRY_CASH_MAX: must be >= TRY_CASH_TARGET" in out


