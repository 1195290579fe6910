"""The risk budget through the assets: a losing book slows itself down, decisions persist
and feed the next window, and ``btcbot risk clear`` lands in the next cycle's trace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text

# Seed-7 demo book: equity 10000 → 9956.50 (00:00), 9926.71, 9899.24 (00:10: -100.76 today),
# 9893.50 (00:15: drawdown 1.065 % from the 10000 peak), ...
# (A drawdown trips OBSERVE_ONLY here, the option that freezes the book: the default,
# REDUCE_RISK_ONLY, has its own fold tests in domain/test_cycle_risk_reduces.py.)
LIMITS = {
    "STAGE7_MAX_DAILY_LOSS_TRY": "100",
    "STAGE7_MAX_DRAWDOWN_PCT": "0.0105",
    "STAGE7_RISK_COOLDOWN_SEC": "600",
    "STAGE7_DRAWDOWN_MODE": "OBSERVE_ONLY",
}


@pytest.fixture(scope="module")
def risky_book(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> Path:
    """The book after cycles 00:00..00:30 under tight limits (run once, copied per test)."""
    cycle = Cycle(db=tmp_path_factory.mktemp("risky") / "book.duckdb", dataset=replay_dir, overrides={**DEMO, **LIMITS})
    result = cycle.run(first="2026-01-01T00:00", last="2026-01-01T00:30")
    assert result.success, failure_text(result)
    return cycle.db


@pytest.fixture
def risky(risky_book: Path, tmp_path: Path, replay_dir: Path) -> Cycle:
    db = tmp_path / "book.duckdb"
    shutil.copy(risky_book, db)
    return Cycle(db=db, dataset=replay_dir, overrides={**DEMO, **LIMITS})


def test_a_drawdown_and_a_daily_loss_give_the_mode_sequence(risky: Cycle) -> None:
    rows = risky.rows(
        "SELECT strftime(p.cycle_ts, '%H:%M'), p.base_mode, r.mode, r.reasons_json, strftime(r.cooldown_until, "
        "'%H:%M') FROM portfolio_plan p JOIN risk_decisions r USING (cycle_ts) ORDER BY 1"
    )
    assert [(t, base, nxt, json.loads(reasons), until) for t, base, nxt, reasons, until in rows] == [
        ("00:00", "NORMAL", "NORMAL", [], None),
        ("00:05", "NORMAL", "NORMAL", [], None),
        ("00:10", "NORMAL", "REDUCE_RISK_ONLY", ["daily_loss_limit:breached"], "00:20"),
        (
            "00:15",
            "REDUCE_RISK_ONLY",
            "OBSERVE_ONLY",
            ["daily_loss_limit:breached", "drawdown_limit:breached"],
            "00:25",
        ),
        ("00:20", "OBSERVE_ONLY", "OBSERVE_ONLY", ["daily_loss_limit:breached", "drawdown_limit:breached"], "00:30"),
        ("00:25", "OBSERVE_ONLY", "OBSERVE_ONLY", ["daily_loss_limit:breached", "drawdown_limit:breached"], "00:35"),
        # 00:30 recovers to 9911.74 (-88.26 today, drawdown 0.88 %): both limits in cooldown
        (
            "00:30",
            "OBSERVE_ONLY",
            "OBSERVE_ONLY",
            [
                "daily_loss_limit:cooldown_until:2026-01-01T00:35:00Z",
                "drawdown_limit:cooldown_until:2026-01-01T00:35:00Z",
            ],
            "00:35",
        ),
    ]
    # the final mode is never looser than the base mode, and no BUY is planned while reducing
    assert risky.rows(
        "SELECT count(*) FROM portfolio_plan p JOIN plan_actions a USING (cycle_ts) "
        "WHERE p.base_mode <> 'NORMAL' AND a.side = 'BUY' AND a.status = 'PLANNED'"
    ) == [(0,)]
    modes = json.loads(
        risky.rows("SELECT mode_json FROM cycle_trace WHERE cycle_ts = TIMESTAMP '2026-01-01 00:20'")[0][0]
    )
    assert modes["base_mode"] == "OBSERVE_ONLY" and "risk:drawdown_limit:breached" in modes["reasons"]


def test_the_next_window_starts_from_the_last_decision(risky: Cycle) -> None:
    result = risky.run("2026-01-01T00:35")

    assert result.success, failure_text(result)
    assert risky.rows("SELECT base_mode FROM portfolio_plan WHERE cycle_ts = TIMESTAMP '2026-01-01 00:35'") == [
        ("OBSERVE_ONLY",)
    ]


def test_risk_clear_lands_in_the_next_cycle_and_is_applied_once(
    risky: Cycle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["risk", "clear", "--reason", "losses reviewed", "--operator", "ops", "--db", str(risky.db)]) == 0
    clear_id = risky.rows("SELECT clear_id FROM risk_clears")[0][0]
    assert f"recorded {clear_id} by ops" in capsys.readouterr().out

    assert risky.run("2026-01-01T00:35").success
    mode = json.loads(
        risky.rows("SELECT mode_json FROM cycle_trace WHERE cycle_ts = TIMESTAMP '2026-01-01 00:35'")[0][0]
    )
    assert mode["base_mode"] == "NORMAL"
    assert mode["reasons"] == [f"risk_cleared:{clear_id}:losses reviewed"]
    assert risky.rows("SELECT cleared_by FROM risk_decisions WHERE cycle_ts = TIMESTAMP '2026-01-01 00:35'") == [
        (clear_id,)
    ]

    assert risky.run("2026-01-01T00:40").success  # applied once: the 00:35 decision holds it
    assert risky.rows("SELECT cleared_by FROM risk_decisions WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40'") == [
        (None,)
    ]
    assert main(["summary", "--partition", "2026-01-01T00:35", "--db", str(risky.db)]) == 0
    assert f"risk_cleared:{clear_id}:losses reviewed" in capsys.readouterr().out


def test_risk_clear_needs_a_reason(risky: Cycle, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "clear", "--reason", " ", "--db", str(risky.db)]) == 2
    assert "ReportError: risk clear needs a non-empty --reason" in capsys.readouterr().err
