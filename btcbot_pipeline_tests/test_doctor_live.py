"""``btcbot doctor`` on a live-armed configuration: the arm state and the caps it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.doctor import FAIL, PASS, WARN, Check, run_doctor
from btcbot_pipeline.testing.cycle_harness import DEMO
from btcbot_pipeline.testing.env_isolation import clear_bot_environment

PROFILE = {
    **DEMO,
    "STAGE7_ENABLED": "false",
    "DRY_RUN": "false",
    "KILL_SWITCH": "false",
    "LIVE_TRADING": "true",
    "LIVE_TRADING_ACK": "I_UNDERSTAND",
    "BTCTURK_API_KEY": "key-for-tests",
    "BTCTURK_API_SECRET": "c2VjcmV0LWZvci10ZXN0cw==",
}
CAPS = {"MAX_OPEN_ORDERS": "4", "MAX_OPEN_ORDERS_PER_SYMBOL": "1", "LIVE_CANARY_NOTIONAL_TRY": "250"}
ARMED = Check(
    "settings",
    "live_armed",
    WARN,
    "live trading is armed (DRY_RUN=false, KILL_SWITCH=false, LIVE_TRADING=true, LIVE_TRADING_ACK=I_UNDERSTAND): "
    "the live job may place and cancel real orders",
    "run `btcbot preflight --profile live` before starting the live job; KILL_SWITCH=true freezes it",
)
STAGE7_OFF = Check(
    "settings", "stage7_enabled", FAIL, "STAGE7_ENABLED=false: every cycle refuses to run", "set STAGE7_ENABLED=true"
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_bot_environment(monkeypatch)


def settings_rows(overrides: dict[str, str], tmp_path: Path, replay_dir: Path) -> list[Check]:
    checks = run_doctor(str(replay_dir), str(tmp_path / "book.duckdb"), None, overrides, environ={})
    return [c for c in checks if c.area == "settings" and c.name != "names"]


def test_an_armed_configuration_without_caps_is_warned(tmp_path: Path, replay_dir: Path) -> None:
    rows = settings_rows(PROFILE, tmp_path, replay_dir)

    assert rows == [
        Check("settings", "load", PASS, "settings load; gate combinations coherent"),
        STAGE7_OFF,  # the live job runs the same Stage 7 cycle: no "with DRY_RUN=true" advice
        ARMED,
        Check(
            "settings",
            "live_caps",
            WARN,
            "live profile without MAX_OPEN_ORDERS (bounds the orders resting at once), MAX_OPEN_ORDERS_PER_SYMBOL "
            "(bounds the orders resting per symbol), LIVE_CANARY_NOTIONAL_TRY (bounds the TRY notional one live "
            "cycle submits)",
            "set MAX_OPEN_ORDERS, MAX_OPEN_ORDERS_PER_SYMBOL, LIVE_CANARY_NOTIONAL_TRY to small values before a "
            "live run",
        ),
    ]


def test_one_missing_cap_is_named_alone(tmp_path: Path, replay_dir: Path) -> None:
    overrides = {**PROFILE, **CAPS}
    del overrides["LIVE_CANARY_NOTIONAL_TRY"]

    caps = next(c for c in settings_rows(overrides, tmp_path, replay_dir) if c.name == "live_caps")

    assert caps == Check(
        "settings",
        "live_caps",
        WARN,
        "live profile without LIVE_CANARY_NOTIONAL_TRY (bounds the TRY notional one live cycle submits)",
        "set LIVE_CANARY_NOTIONAL_TRY to small values before a live run",
    )


def test_an_armed_configuration_with_caps_shows_them(tmp_path: Path, replay_dir: Path) -> None:
    rows = settings_rows({**PROFILE, **CAPS}, tmp_path, replay_dir)

    assert rows[2:] == [
        ARMED,
        Check(
            "settings",
            "live_caps",
            PASS,
            "MAX_OPEN_ORDERS=4, MAX_OPEN_ORDERS_PER_SYMBOL=1, LIVE_CANARY_NOTIONAL_TRY=250",
        ),
    ]


def test_the_pilots_safe_state_is_not_armed(tmp_path: Path, replay_dir: Path) -> None:
    # live profile, kill switch on (.env.pilot.example): cycles run and record, no order moves
    rows = settings_rows({**PROFILE, **CAPS, "STAGE7_ENABLED": "true", "KILL_SWITCH": "true"}, tmp_path, replay_dir)

    assert rows[1:] == [
        Check(
            "settings",
            "stage7_enabled",
            PASS,
            "STAGE7_ENABLED=true, DRY_RUN=false, LIVE_TRADING=true (the live profile)",
        ),
        Check(
            "settings",
            "live_armed",
            PASS,
            "live profile with KILL_SWITCH=true: live cycles run and record but place and cancel no order",
        ),
        Check(
            "settings",
            "live_caps",
            PASS,
            "MAX_OPEN_ORDERS=4, MAX_OPEN_ORDERS_PER_SYMBOL=1, LIVE_CANARY_NOTIONAL_TRY=250",
        ),
        Check(
            "settings",
            "kill_switch",
            WARN,
            "KILL_SWITCH=true: cycles run and record plan, trace and accounting; no order is placed or cancelled; "
            "resting orders stay",
            "set KILL_SWITCH=false to let cycles place and cancel orders",
        ),
    ]


def test_a_dry_run_configuration_has_no_live_rows(tmp_path: Path, replay_dir: Path) -> None:
    rows = settings_rows(DEMO, tmp_path, replay_dir)

    assert [c.name for c in rows] == ["load", "stage7_enabled"]
    assert rows[1].detail == "STAGE7_ENABLED=true, DRY_RUN=true"
