"""Unknown and unsupported setting names: which are flagged, from where, with which replacement."""

from __future__ import annotations

from pathlib import Path

from btcbot_pipeline.settings.names import (
    ORIGINAL_SETTINGS,
    UnknownSetting,
    known_setting_names,
    unknown_setting_names,
)

# Every environment setting the original system's documents name (shared/seeds: the Stage 3
# README's variable list, the Stage 4 list, the operator quickstart, the inventory's risk
# controls): each is one we read or one ORIGINAL_SETTINGS maps.
SEED_NAMES = (
    "BTCTURK_API_KEY",
    "BTCTURK_API_SECRET",
    "BTCTURK_BASE_URL",
    "KILL_SWITCH",
    "DRY_RUN",
    "LIVE_TRADING",
    "LIVE_TRADING_ACK",
    "TARGET_TRY",
    "OFFSET_BPS",
    "TTL_SECONDS",
    "MIN_ORDER_NOTIONAL_TRY",
    "STATE_DB_PATH",
    "DRY_RUN_TRY_BALANCE",
    "MAX_ORDERS_PER_CYCLE",
    "MAX_OPEN_ORDERS_PER_SYMBOL",
    "COOLDOWN_SECONDS",
    "NOTIONAL_CAP_TRY_PER_CYCLE",
    "MIN_PROFIT_BPS",
    "MAX_POSITION_TRY_PER_SYMBOL",
    "ENABLE_AUTO_KILL_SWITCH",
    "LOG_LEVEL",
    "SYMBOLS",
    "UNIVERSE_SYMBOLS",
    "UNIVERSE_AUTO_CORRECT",
    "TRY_CASH_TARGET",
    "TRY_CASH_MAX",
    "ALLOCATION_FEE_BUFFER_BPS",
    "MAX_OPEN_ORDERS",
    "MAX_POSITION_NOTIONAL_TRY",
    "MAX_DAILY_LOSS_TRY",
    "MAX_DRAWDOWN_PCT",
    "FEE_BPS_MAKER",
    "FEE_BPS_TAKER",
    "SLIPPAGE_BPS_BUFFER",
    "RULES_CACHE_TTL_SEC",
    "FILLS_POLL_LOOKBACK_MINUTES",
    "STAGE7_ENABLED",
    "STAGE7_MAX_DRAWDOWN_PCT",
    "STAGE7_MAX_DAILY_LOSS_TRY",
)


def test_every_seed_setting_is_read_or_mapped() -> None:
    known = known_setting_names()

    assert sorted(n for n in SEED_NAMES if n not in known and n not in ORIGINAL_SETTINGS) == []
    assert sorted(n for n in ORIGINAL_SETTINGS if n in known) == []  # a mapped name is never one we read
    assert sorted(r for r, _ in ORIGINAL_SETTINGS.values() if r is not None and r not in known) == []


def test_original_names_in_the_environment_name_their_replacement() -> None:
    environ = {
        "SYMBOLS": "BTCTRY",
        "RULES_CACHE_TTL_SEC": "30",
        "TTL_SECONDS": "600",
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DRY_RUN": "true",
    }

    found = unknown_setting_names(environ, None)

    assert [(u.name, u.replacement, u.original) for u in found] == [
        ("RULES_CACHE_TTL_SEC", None, True),
        ("SYMBOLS", "STAGE7_UNIVERSE_WHITELIST", True),
        ("TTL_SECONDS", "ORDER_TTL_SECONDS", True),
    ]
    assert found[1].message() == "SYMBOLS (environment) is the original system's setting, not read here"
    assert (
        found[1].fix()
        == "use STAGE7_UNIVERSE_WHITELIST instead: the universe whitelist, a JSON list or comma separated"
    )
    assert found[0].message() == (
        "RULES_CACHE_TTL_SEC (environment) is the original system's setting, not read here: not supported "
        "(exchange rules are read once per run)"
    )
    assert found[0].fix() == "remove RULES_CACHE_TTL_SEC"
    assert found[2].fix() == (
        "use ORDER_TTL_SECONDS instead: open orders expire after it; the limit fill model and live orders rest "
        "across cycles"
    )


def test_the_live_settings_are_read_not_flagged() -> None:
    # issue 17: the caps, the fills lookback and the log level are settings now
    environ = {
        "MAX_OPEN_ORDERS": "3",
        "MAX_OPEN_ORDERS_PER_SYMBOL": "1",
        "FILLS_POLL_LOOKBACK_MINUTES": "60",
        "LOG_LEVEL": "DEBUG",
        "LIVE_CANARY_NOTIONAL_TRY": "500",
        "LIVE_STATE_DB_PATH": "data/live.duckdb",
    }

    assert unknown_setting_names(environ, None) == []
    assert set(environ) <= known_setting_names()
    assert not set(environ) & set(ORIGINAL_SETTINGS)


def test_the_stage3_and_stage4_knobs_are_read_not_flagged() -> None:
    # issue 18: the original's order cooldown, profit threshold and auto kill switch are settings now
    environ = {"COOLDOWN_SECONDS": "60", "MIN_PROFIT_BPS": "30", "ENABLE_AUTO_KILL_SWITCH": "true"}

    assert unknown_setting_names(environ, None) == []
    assert set(environ) <= known_setting_names()
    assert not set(environ) & set(ORIGINAL_SETTINGS)


def test_a_live_name_with_a_typo_is_flagged() -> None:
    found = unknown_setting_names({"LIVE_STATE_DB": "x"}, None)

    assert [(u.name, u.replacement) for u in found] == [("LIVE_STATE_DB", "LIVE_STATE_DB_PATH")]


def test_other_programs_variables_are_not_flagged() -> None:
    environ = {
        "PATH": "/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DAGSTER_HOME": "/x",
        "PYTHONPATH": ".",
        "MAX_JOBS": "4",
        "STATE_DIRECTORY": "/var/lib/x",
        "CI": "true",
    }

    assert unknown_setting_names(environ, None) == []


def test_our_prefixes_and_near_misses_in_the_environment_are_flagged() -> None:
    environ = {"STAGE7_UNIVERSE_SIZ": "3", "KILL_SWICH": "false", "BTCTURK_KEY": "x", "REPLAY_DIR": "data"}

    found = unknown_setting_names(environ, None)

    assert [(u.name, u.replacement) for u in found] == [
        ("BTCTURK_KEY", "BTCTURK_API_KEY"),
        ("KILL_SWICH", "KILL_SWITCH"),
        ("REPLAY_DIR", None),
        ("STAGE7_UNIVERSE_SIZ", "STAGE7_UNIVERSE_SIZE"),
    ]
    assert found[1].fix() == "did you mean KILL_SWITCH? (otherwise remove it)"
    assert found[0].message() == "BTCTURK_KEY (environment) is not a setting of this bot; it is ignored"


def test_every_unknown_name_of_the_env_file_but_dagsters_is_flagged_in_file_order(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "DRY_RUN=true\nFOO=1\nstage7_universe_sise=3\n# SYMBOLS=commented\n"
        "TTL_SECONDS=600\nMAX_OPEN_ORDERS=2\nkill_switch=false\nDAGSTER_HOME=/x\n"
    )

    found = unknown_setting_names({}, env)

    assert found == [
        UnknownSetting("FOO", str(env), None, "", original=False),
        UnknownSetting("stage7_universe_sise", str(env), "STAGE7_UNIVERSE_SIZE", "", original=False),
        UnknownSetting(
            "TTL_SECONDS",
            str(env),
            "ORDER_TTL_SECONDS",
            "open orders expire after it; the limit fill model and live orders rest across cycles",
            original=True,
        ),
    ]


def test_a_name_in_both_is_reported_once_for_the_environment(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SYMBOLS=BTCTRY\n")

    found = unknown_setting_names({"SYMBOLS": "ETHTRY"}, env)

    assert [(u.name, u.where) for u in found] == [("SYMBOLS", "environment")]


def test_no_env_file_is_not_an_error(tmp_path: Path) -> None:
    assert unknown_setting_names({}, tmp_path / "missing.env") == []
