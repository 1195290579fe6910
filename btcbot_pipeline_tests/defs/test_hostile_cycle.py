"""Hostile data end to end: a range run loses no cycle to one bad symbol; a refused setting
through Dagster's CLI is one clear line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text


def _set_cell(path: Path, line: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_a_range_run_with_hostile_symbols_commits_every_cycle_and_trades_the_others(
    cycle: Cycle, tmp_path: Path
) -> None:
    data = tmp_path / "dataset"
    shutil.copytree(cycle.dataset, data)
    _set_cell(data / "orderbook" / "ETHTRY.csv", 20, "best_bid", "1e25")  # the numbers, one symbol each
    _set_cell(data / "ticker" / "XRPTRY.csv", 20, "quote_volume", "1e25")
    _set_cell(data / "candles" / "SOLTRY.csv", 20, "close", "1e30")
    for kind in ("candles", "orderbook"):
        shutil.copy(data / kind / "ADATRY.csv", data / kind / "ADA TRY.csv")
    cycle.dataset = data

    result = cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:45")

    assert result.success, failure_text(result)
    assert cycle.rows("SELECT count(*), count(DISTINCT cycle_ts) FROM ledger_metrics") == [(4, 4)]
    assert cycle.rows("SELECT count(*) FROM market_snapshot") == [(4 * 13,)]  # 12 pairs + 'ADA TRY', once per cycle
    assert cycle.rows(
        "SELECT DISTINCT symbol, skip_reason FROM market_snapshot WHERE NOT tradable ORDER BY symbol"
    ) == [
        ("ADA TRY", "invalid_data:invalid_symbol_name"),
        ("ETHTRY", "invalid_data:out_of_range:best_bid"),
        ("SOLTRY", "invalid_data:out_of_range:close"),
        ("XRPTRY", "invalid_data:out_of_range:quote_volume"),
    ]
    assert cycle.rows(
        "SELECT count(*) FROM order_intents WHERE symbol IN ('ETHTRY', 'SOLTRY', 'XRPTRY', 'ADA TRY')"
    ) == [(0,)]
    assert cycle.rows("SELECT count(*) > 0 FROM fills") == [(True,)]


def test_a_refused_setting_through_dagster_materialize_is_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CYCLE_CRON": "99 * * * *", "PYTHONWARNINGS": "ignore"}
    dagster = Path(sys.executable).with_name("dagster")

    done = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "btcbot_pipeline.definitions",
            "--select",
            "*",
            "--partition",
            "2026-01-01T00:30",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    lines = [
        line for line in done.stderr.splitlines() if "SupersessionWarning" not in line and "return callback" not in line
    ]
    assert lines == [
        "Error: refused settings:",
        "CYCLE_CRON: minute field '99': 99 is outside 0-59 (was '99 * * * *')",
    ]
    assert "Traceback" not in done.stdout + done.stderr
