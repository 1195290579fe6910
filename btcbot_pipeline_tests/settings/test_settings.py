"""Tests of ``btcbot_pipeline.settings``: names, defaults, refusals, mapping, secrecy."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.domain.params import CycleParams, InvalidMetadataPolicy, ScoreWeights
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ALIASES = [info.alias for info in BotSettings.model_fields.values()]
KEY_LINE = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_KEY = "key-DO-NOT-LEAK-1234"
SECRET_VALUE = "secret-DO-NOT-LEAK-5678"
DEMO_PROFILE = {
    "STAGE7_ENABLED": "true",
    "DRY_RUN": "true",
    "KILL_SWITCH": "false",
    "LIVE_TRADING": "false",
    "DRY_RUN_TRY_BALANCE": "10000",
    "STAGE7_UNIVERSE_SIZE": "5",
    "MAX_ORDERS_PER_CYCLE": "5",
    "NOTIONAL_CAP_TRY_PER_CYCLE": "10000",
    "CYCLE_PARTITIONS_END": "2026-01-02T00:00",
}
# Everything needed to arm live trading; each combination test breaks one piece.
ARMED = {
    "DRY_RUN": False,
    "KILL_SWITCH": False,
    "LIVE_TRADING": True,
    "LIVE_TRADING_ACK": "I_UNDERSTAND",
    "BTCTURK_API_KEY": SECRET_KEY,
    "BTCTURK_API_SECRET": SECRET_VALUE,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No variable of the machine leaks in, and no stray ``.env`` in the working directory."""
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
        monkeypatch.delenv(alias.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def example_keys() -> dict[str, list[str]]:
    """Every ``KEY=value`` and ``# KEY=value`` line of ``.env.example``, by key."""
    keys: dict[str, list[str]] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = KEY_LINE.match(line)
        if match:
            keys.setdefault(match.group(1), []).append(match.group(2))
    return keys


SEED_DEFAULTS: dict[str, object] = {
    "DRY_RUN": True, "KILL_SWITCH": True, "LIVE_TRADING": False, "LIVE_TRADING_ACK": None,
    "STAGE7_ENABLED": False, "BTCTURK_API_KEY": None, "BTCTURK_API_SECRET": None,
    "BTCTURK_BASE_URL": "https://api.btcturk.com",
    "BTCTURK_GRAPH_BASE_URL": "https://graph-api.btcturk.com",
    "MARKET_DATA_SOURCE": "replay", "BTCTURK_TIMEOUT_SEC": 10.0, "BTCTURK_MAX_SYMBOLS": 30,
    "BTCTURK_CALL_DEADLINE_SEC": 20.0, "BTCTURK_CYCLE_DEADLINE_SEC": 120.0,
    "BTCTURK_MAX_BODY_BYTES": 8_388_608,  # issue 15
    "STAGE7_UNIVERSE_SIZE": 20, "STAGE7_UNIVERSE_QUOTE_CCY": "TRY",
    "STAGE7_UNIVERSE_WHITELIST": (), "STAGE7_UNIVERSE_BLACKLIST": (),
    "STAGE7_MIN_QUOTE_VOLUME_TRY": Decimal("0"), "STAGE7_MAX_SPREAD_BPS": Decimal("1000000"),
    "STAGE7_VOL_LOOKBACK": 20, "STAGE7_SCORE_WEIGHTS": None,
    "TRY_CASH_TARGET": Decimal("300"), "TRY_CASH_MAX": Decimal("600"),
    "MAX_POSITION_NOTIONAL_TRY": Decimal("5000"), "NOTIONAL_CAP_TRY_PER_CYCLE": Decimal("1000"),
    "MAX_ORDERS_PER_CYCLE": 2, "MIN_ORDER_NOTIONAL_TRY": Decimal("10"),
    "STAGE7_ORDER_OFFSET_BPS": Decimal("5"), "STAGE7_SLIPPAGE_BPS": Decimal("25"),
    "STAGE7_FEES_BPS": Decimal("20"),
    "STAGE7_RULES_FALLBACK_TICK_SIZE": Decimal("0.01"),
    "STAGE7_RULES_FALLBACK_LOT_SIZE": Decimal("0.00000001"),
    "STAGE7_RULES_FALLBACK_MIN_NOTIONAL_TRY": Decimal("10"),
    "STAGE7_RULES_SAFE_MIN_NOTIONAL_TRY": Decimal("100"),
    "STAGE7_RULES_REQUIRE_METADATA": True,
    "STAGE7_RULES_INVALID_METADATA_POLICY": InvalidMetadataPolicy.SKIP_SYMBOL,
    "STAGE7_MAX_DATA_AGE_SEC": 60, "DRY_RUN_TRY_BALANCE": Decimal("1000"),
    "STAGE7_MAX_EXCLUDED_SHARE": Decimal("0.5"), "STAGE7_MAX_DRAWDOWN_PCT": Decimal("0.25"),
    "STAGE7_MAX_DAILY_LOSS_TRY": Decimal("500"), "STAGE7_RISK_COOLDOWN_SEC": 900,
    "STATE_DB_PATH": "data/btcbot_book.duckdb", "REPLAY_DATASET_PATH": "data/replay", "BACKTEST_DIR": "data/backtests",
    "GATE_CHUNK_CYCLES": 2880, "GATE_VALIDATOR": "auto", "STAGE7_FILL_MODEL": "seed",
    "STAGE7_SIM_VOLUME_SHARE": Decimal("0.1"), "STAGE7_SIM_REJECT_RATE": Decimal("0"),
    "STAGE7_SIM_TRANSIENT_FAILURE_RATE": Decimal("0"), "STAGE7_SIM_SEED": 0, "STAGE7_RATE_LIMIT_RPS": Decimal("5"),
    "STAGE7_RATE_LIMIT_BURST": 10, "STAGE7_RETRY_MAX_ATTEMPTS": 3, "STAGE7_RETRY_BASE_DELAY_MS": 500,
    "ORDER_TTL_SECONDS": 900, "STAGE7_REPRICE_BPS": Decimal("50"),
    "CATCHUP_MAX_RUNS_PER_TICK": 12,
    "CYCLE_CRON": "*/5 * * * *", "CYCLE_PARTITIONS_START": "2026-01-01T00:00", "CYCLE_PARTITIONS_END": None,
    # not the seeds': the alerts (issue 9)
    "ALERT_WEBHOOK_URL": None, "ALERT_DRAWDOWN_PCT": Decimal("0.05"), "ALERT_DAILY_LOSS_TRY": Decimal("250"),
    "ALERT_WEBHOOK_TIMEOUT_SEC": 3.0, "ALERT_WEBHOOK_ATTEMPTS": 2,
    "ALERT_WEBHOOK_DEADLINE_SEC": 10.0, "ALERT_WEBHOOK_MAX_BODY_BYTES": 65_536,  # issue 15
    "ALERT_REJECT_SPIKE": 3,
    "STAGE7_REBALANCE_BAND_BPS": Decimal("0"),  # issue 18
    "ADAPTATION_ENABLED": False, "ADAPTATION_INTERVAL_CYCLES": 48, "ADAPTATION_LOOKBACK_CYCLES": 48,
    "ADAPTATION_CHECKPOINT_AFTER_CYCLES": 48, "ADAPTATION_GUARD_MAX_DRAWDOWN_PCT": Decimal("0.05"),
    "ADAPTATION_GUARD_MAX_FEE_BURN_BPS": Decimal("50"),
    # issue 18: the risk section, every limit off and the drawdown's mode as before; the
    # original's Stage 3/4 knobs off (its defaults were COOLDOWN_SECONDS=60, MIN_PROFIT_BPS=30,
    # ENABLE_AUTO_KILL_SWITCH=true, the last one read by no code)
    "STAGE7_DRAWDOWN_MODE": "REDUCE_RISK_ONLY",
    "STAGE7_MAX_STALE_SHARE": None, "STAGE7_STALE_SHARE_MODE": "REDUCE_RISK_ONLY",
    "STAGE7_MAX_FEE_BURN_BPS": None, "STAGE7_FEE_BURN_WINDOW_CYCLES": 288, "STAGE7_FEE_BURN_MODE": "REDUCE_RISK_ONLY",
    "STAGE7_MAX_EQUITY_VOL_BPS": None, "STAGE7_EQUITY_VOL_WINDOW_CYCLES": 48,
    "STAGE7_EQUITY_VOL_MODE": "REDUCE_RISK_ONLY",
    "STAGE7_MAX_LOSING_CYCLES": None, "STAGE7_LOSING_CYCLES_MODE": "REDUCE_RISK_ONLY",
    "COOLDOWN_SECONDS": 0, "MIN_PROFIT_BPS": None, "ENABLE_AUTO_KILL_SWITCH": False,
    # the seeds' Stage 4 (issue 17): no cap until set; the live job refuses to start without them
    "MAX_OPEN_ORDERS": None, "MAX_OPEN_ORDERS_PER_SYMBOL": None, "LIVE_CANARY_NOTIONAL_TRY": None,
    "FILLS_POLL_LOOKBACK_MINUTES": 60, "LIVE_STATE_DB_PATH": "data/btcbot_live.duckdb", "LOG_LEVEL": "INFO",
}  # fmt: skip


@pytest.mark.parametrize(("alias", "expected"), SEED_DEFAULTS.items())
def test_defaults_equal_the_seeds(alias: str, expected: object) -> None:
    settings = load_settings(env_file=None)
    assert getattr(settings, alias.lower()) == expected


def test_env_names_have_no_prefix_and_match_field_names() -> None:
    assert sorted(ALIASES) == sorted(SEED_DEFAULTS)
    assert all(alias == name.upper() for name, alias in zip(BotSettings.model_fields, ALIASES))


S7 = (
    "STAGE7_ENABLED: the Stage 7 cycle runs dry (DRY_RUN=true) or live (LIVE_TRADING=true), "
    "STAGE7_ENABLED=true with DRY_RUN=false requires LIVE_TRADING=true "
)
ACK = "LIVE_TRADING_ACK: LIVE_TRADING=true requires LIVE_TRADING_ACK=I_UNDERSTAND"


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"STAGE7_ENABLED": True, "DRY_RUN": False},
         S7 + "(was DRY_RUN=false, LIVE_TRADING=false)"),
        ({**ARMED, "DRY_RUN": True},
         "LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true (was DRY_RUN=true)"),
        ({**ARMED, "LIVE_TRADING_ACK": "yes"}, ACK + " (was 'yes')"),
        ({**ARMED, "LIVE_TRADING_ACK": None}, ACK + " (was unset)"),
        ({**ARMED, "BTCTURK_API_SECRET": ""},
         "BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both credentials "
         "(was BTCTURK_API_KEY=set, BTCTURK_API_SECRET=unset)"),
        ({"TRY_CASH_TARGET": "700"},
         "TRY_CASH_MAX: must be >= TRY_CASH_TARGET (was TRY_CASH_MAX=600, TRY_CASH_TARGET=700)"),
        ({"MIN_ORDER_NOTIONAL_TRY": "50.5", "NOTIONAL_CAP_TRY_PER_CYCLE": "50"},
         "MIN_ORDER_NOTIONAL_TRY: must be <= NOTIONAL_CAP_TRY_PER_CYCLE "
         "(was MIN_ORDER_NOTIONAL_TRY=50.5, NOTIONAL_CAP_TRY_PER_CYCLE=50)"),
    ],
)  # fmt: skip
def test_invalid_combinations_are_refused(overrides: dict[str, object], line: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(line)) as caught:
        load_settings(env_file=None, **overrides)
    assert line in caught.value.problems
    assert SECRET_KEY not in str(caught.value) and SECRET_VALUE not in str(caught.value)


def test_all_broken_gates_are_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None, LIVE_TRADING=True)
    assert [line.split(":")[0] for line in caught.value.problems] == [
        "LIVE_TRADING", "LIVE_TRADING_ACK", "BTCTURK_API_KEY, BTCTURK_API_SECRET"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [
        {**ARMED, "KILL_SWITCH": True},  # the pilot's safe state: armed except the kill switch
        {**ARMED, "STAGE7_ENABLED": True},  # the live job runs the Stage 7 cycle
        {**ARMED, "STAGE7_ENABLED": True, "KILL_SWITCH": True},
    ],
)
def test_the_live_profile_loads_with_the_kill_switch_and_stage7(overrides: dict[str, object]) -> None:
    settings = load_settings(env_file=None, **overrides)
    assert settings.live_trading and not settings.dry_run
    assert settings.kill_switch is overrides["KILL_SWITCH"]


def test_live_orders_are_possible_only_with_every_gate_open_and_credentials() -> None:
    assert load_settings(env_file=None, **ARMED).live_orders_possible() is True
    assert load_settings(env_file=None, **{**ARMED, "KILL_SWITCH": True}).live_orders_possible() is False
    assert load_settings(env_file=None).live_orders_possible() is False
    assert load_settings(env_file=None, DRY_RUN=False, KILL_SWITCH=False).live_orders_possible() is False
    armed = load_settings(env_file=None, **ARMED)
    assert armed.gate_states() == (
        ("DRY_RUN", "false", True),
        ("KILL_SWITCH", "false", True),
        ("LIVE_TRADING", "true", True),
        ("LIVE_TRADING_ACK", "I_UNDERSTAND", True),
    )
    assert load_settings(env_file=None).gate_states() == (
        ("DRY_RUN", "true", False),
        ("KILL_SWITCH", "true", False),
        ("LIVE_TRADING", "false", False),
        ("LIVE_TRADING_ACK", "unset", False),
    )


GE = "Input should be greater than or equal to"


@pytest.mark.parametrize(
    ("alias", "value", "problem"),
    [
        ("STAGE7_FEES_BPS", "abc", "Input should be a valid decimal (was 'abc')"),
        ("TRY_CASH_TARGET", "1,5", "Input should be a valid decimal (was '1,5')"),
        ("DRY_RUN_TRY_BALANCE", "nan", "Input should be a finite number (was 'nan')"),
        ("STAGE7_FEES_BPS", "10000", "Input should be less than 10000 (was '10000')"),
        ("STAGE7_SLIPPAGE_BPS", "-1", f"{GE} 0 (was '-1')"),
        ("DRY_RUN_TRY_BALANCE", "0", "Input should be greater than 0 (was '0')"),
        ("STAGE7_RULES_FALLBACK_TICK_SIZE", "0", "Input should be greater than 0"),
        ("STAGE7_UNIVERSE_SIZE", "0", f"{GE} 1 (was '0')"),
        ("STAGE7_VOL_LOOKBACK", "1", f"{GE} 2 (was '1')"),
        ("MAX_ORDERS_PER_CYCLE", "-1", f"{GE} 0 (was '-1')"),
        ("STAGE7_MAX_DATA_AGE_SEC", "-5", f"{GE} 0 (was '-5')"),
        ("DRY_RUN", "maybe", "Input should be a valid boolean"),
        ("STAGE7_UNIVERSE_QUOTE_CCY", " ", "must be a non-empty currency code"),
        ("STAGE7_RULES_INVALID_METADATA_POLICY", "Halt",
         "must be skip_symbol or observe_only_cycle (was 'Halt')"),
        ("CYCLE_CRON", "*/5 * * *", "must be a cron expression of 5 space-separated fields"),
        ("CYCLE_PARTITIONS_START", "2026-01-01", "must look like 2026-01-01T00:00"),
        ("CYCLE_CRON", "99 * * * *", "minute field '99': 99 is outside 0-59 (was '99 * * * *')"),
        ("CYCLE_CRON", "*/0 * * * *", "minute field '*/0': step '0' is not a positive number"),
        ("CYCLE_CRON", "0 5-1 * * *", "hour field '5-1': range '5-1' runs backwards"),
        ("CYCLE_CRON", "0 0 * FOO *", "month field 'FOO': 'FOO' is not a number"),
        ("BTCTURK_BASE_URL", "not a url", "must be an http(s) URL such as https://api.btcturk.com (was 'not a url')"),
        ("BTCTURK_GRAPH_BASE_URL", "ftp://graph", "must be an http(s) URL such as https://api.btcturk.com"),
        # issue 18: the risk section
        ("STAGE7_DRAWDOWN_MODE", "NORMAL", "Input should be 'REDUCE_RISK_ONLY' or 'OBSERVE_ONLY' (was 'NORMAL')"),
        ("STAGE7_FEE_BURN_MODE", "halt", "Input should be 'REDUCE_RISK_ONLY' or 'OBSERVE_ONLY' (was 'HALT')"),
        ("STAGE7_MAX_STALE_SHARE", "0", "Input should be greater than 0 (was '0')"),
        ("STAGE7_MAX_STALE_SHARE", "1.5", "Input should be less than or equal to 1 (was '1.5')"),
        ("STAGE7_MAX_FEE_BURN_BPS", "0", "Input should be greater than 0 (was '0')"),
        ("STAGE7_FEE_BURN_WINDOW_CYCLES", "0", f"{GE} 1 (was '0')"),
        ("STAGE7_MAX_EQUITY_VOL_BPS", "-3", "Input should be greater than 0 (was '-3')"),
        ("STAGE7_EQUITY_VOL_WINDOW_CYCLES", "1", f"{GE} 2 (was '1')"),
        ("STAGE7_MAX_LOSING_CYCLES", "0", f"{GE} 1 (was '0')"),
        ("COOLDOWN_SECONDS", "-1", f"{GE} 0 (was '-1')"),
        ("MIN_PROFIT_BPS", "-5", f"{GE} 0 (was '-5')"),
        ("MIN_PROFIT_BPS", "10000", "Input should be less than 10000 (was '10000')"),
        ("ENABLE_AUTO_KILL_SWITCH", "sometimes", "Input should be a valid boolean"),
    ],
)  # fmt: skip
def test_bad_values_name_the_variable(clean_env: pytest.MonkeyPatch, alias: str, value: str, problem: str) -> None:
    clean_env.setenv(alias, value)
    with pytest.raises(SettingsError, match=re.escape(f"{alias}: {problem}")):
        load_settings(env_file=None)


def test_float_override_is_refused_and_unknown_override_too() -> None:
    with pytest.raises(SettingsError, match=re.escape("TRY_CASH_MAX: pass a str or Decimal")):
        load_settings(env_file=None, try_cash_max=600.0)
    with pytest.raises(SettingsError, match=re.escape("STAGE7_FEE_BPS: unknown setting")):
        load_settings(env_file=None, STAGE7_FEE_BPS="20")


def test_overrides_accept_field_and_env_names_and_win(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("STAGE7_FEES_BPS", "30")
    assert load_settings(env_file=None).stage7_fees_bps == Decimal("30")
    assert load_settings(env_file=None, stage7_fees_bps="40").stage7_fees_bps == Decimal("40")
    assert load_settings(env_file=None, STAGE7_FEES_BPS="50").stage7_fees_bps == Decimal("50")


def test_env_file_is_read_below_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("STAGE7_SLIPPAGE_BPS=12.5\nSTAGE7_FEES_BPS=7\nUNRELATED=1\n")
    clean_env.setenv("STAGE7_FEES_BPS", "8")
    settings = load_settings(env_file=env_file)
    assert settings.stage7_slippage_bps == Decimal("12.5")
    assert settings.stage7_fees_bps == Decimal("8")
    # A missing file is not an error: production passes everything through the environment.
    assert load_settings(env_file=tmp_path / "absent.env").stage7_fees_bps == Decimal("8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["btc_try", "ETH-TRY", "sol/try"]', ("BTCTRY", "ETHTRY", "SOLTRY")),
        ("btc_try, ETH-TRY ,,sol/try,", ("BTCTRY", "ETHTRY", "SOLTRY")),
        ("BTCTRY,btc_try", ("BTCTRY",)),
        ("[]", ()),
        ("", ()),
    ],
)
@pytest.mark.parametrize("alias", ["STAGE7_UNIVERSE_WHITELIST", "STAGE7_UNIVERSE_BLACKLIST"])
def test_symbol_lists_accept_json_and_csv(
    clean_env: pytest.MonkeyPatch, alias: str, raw: str, expected: tuple[str, ...]
) -> None:
    clean_env.setenv(alias, raw)
    assert getattr(load_settings(env_file=None), alias.lower()) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('["BTCTRY"', "not a valid JSON list"),
        ('{"BTCTRY": 1}', "must be a JSON list or comma separated symbols"),
        ("[1]", "symbols must be strings"),
        ("BTC TRY", "'BTC TRY' is not a pair symbol such as BTCTRY (was 'BTC TRY')"),
    ],
)
def test_symbol_lists_refuse_garbage(raw: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"STAGE7_UNIVERSE_WHITELIST: {problem}")):
        load_settings(env_file=None, STAGE7_UNIVERSE_WHITELIST=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"liquidity": 0.1, "spread": 0.7, "volatility": 0.2}',
         ScoreWeights(Decimal("0.1"), Decimal("0.7"), Decimal("0.2"))),
        ('{"spread": "0.333"}', ScoreWeights(spread=Decimal("0.333"))),
        ('{"liquidity": 1, "spread": 0, "volatility": 0}',
         ScoreWeights(Decimal(1), Decimal(0), Decimal(0))),
        ("{}", ScoreWeights()),
    ],
)  # fmt: skip
def test_score_weights_parse_exactly(clean_env: pytest.MonkeyPatch, raw: str, expected: ScoreWeights) -> None:
    clean_env.setenv("STAGE7_SCORE_WEIGHTS", raw)
    weights = load_settings(env_file=None).cycle_params().universe.weights
    assert weights == expected
    assert all(type(value) is Decimal for value in (weights.liquidity, weights.spread))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"liquidity": 1, "momentum": 1}', "unknown key(s) momentum"),
        ('{"liquidity": -0.1}', "liquidity must be a finite number >= 0"),
        ('{"liquidity": 0, "spread": 0, "volatility": 0}', "weights must sum to more than 0"),
        ('{"spread": "abc"}', "spread must be a number"),
        ('{"spread": true}', "spread must be a number"),
        ("[0.5, 0.3, 0.2]", "must be a JSON object"),
        ("liquidity=1", "not valid JSON"),
    ],
)
def test_score_weights_refused(raw: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"STAGE7_SCORE_WEIGHTS: {problem}")):
        load_settings(env_file=None, STAGE7_SCORE_WEIGHTS=raw)


def test_cycle_params_mapping(clean_env: pytest.MonkeyPatch) -> None:
    for alias, value in {
        "STAGE7_UNIVERSE_WHITELIST": "btc_try,eth_try", "STAGE7_FEES_BPS": "12.345",
        "STAGE7_RULES_FALLBACK_LOT_SIZE": "0.0001", "DRY_RUN_TRY_BALANCE": "2500.50",
        "STAGE7_RULES_INVALID_METADATA_POLICY": "OBSERVE_ONLY_CYCLE", "KILL_SWITCH": "false",
        "TRY_CASH_MAX": "750", "STAGE7_MAX_DATA_AGE_SEC": "90",
    }.items():  # fmt: skip
        clean_env.setenv(alias, value)
    params = load_settings(env_file=None).cycle_params()
    assert isinstance(params, CycleParams)
    assert params.universe.whitelist == ("BTCTRY", "ETHTRY")
    assert params.universe.size == 20 and params.universe.quote_ccy == "TRY"
    assert params.execution.fees_bps == Decimal("12.345")
    assert params.execution.slippage_bps == Decimal("25")
    assert params.rules.fallback_lot_size == Decimal("0.0001")
    assert params.rules.invalid_metadata_policy is InvalidMetadataPolicy.OBSERVE_ONLY_CYCLE
    assert params.policy.try_cash_max == Decimal("750")
    assert params.policy.max_orders_per_cycle == 2
    assert params.start_capital_try == Decimal("2500.50")
    assert params.max_data_age_s == 90
    assert params.kill_switch is False
    assert params.as_dict()["start_capital_try"] == "2500.50"


def test_secrets_never_shown(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BTCTURK_API_KEY", SECRET_KEY)
    clean_env.setenv("BTCTURK_API_SECRET", SECRET_VALUE)
    settings = load_settings(env_file=None)
    assert settings.btcturk_api_secret is not None
    assert settings.btcturk_api_secret.get_secret_value() == SECRET_VALUE
    summary = settings.safe_summary()
    assert summary["BTCTURK_API_KEY"] == summary["BTCTURK_API_SECRET"] == "**********"
    # A refused load: neither the message nor the chained pydantic error shows them.
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None, LIVE_TRADING=True, BTCTURK_API_SECRET=12345)
    masked = "BTCTURK_API_SECRET: Input should be a valid string (was **********)"
    assert masked in caught.value.problems
    for text in (repr(settings), str(settings), str(summary), str(caught.value),
                 str(caught.value.__cause__)):  # fmt: skip
        assert SECRET_KEY not in text and SECRET_VALUE not in text and "12345" not in text


def test_safe_summary_lists_every_setting_as_text() -> None:
    summary = load_settings(env_file=None, STAGE7_SCORE_WEIGHTS='{"spread": 0.3}').safe_summary()
    assert list(summary) == ALIASES
    assert all(isinstance(value, str) for value in summary.values())
    assert (summary["BTCTURK_API_KEY"], summary["DRY_RUN"]) == ("unset", "true")
    assert summary["STAGE7_RULES_FALLBACK_LOT_SIZE"] == "0.00000001"  # never "1E-8"
    assert summary["STAGE7_UNIVERSE_WHITELIST"] == "[]"
    assert summary["STAGE7_SCORE_WEIGHTS"] == ('{"liquidity": "0.50", "spread": "0.3", "volatility": "0.20"}')


def test_blank_credentials_and_ack_mean_unset(clean_env: pytest.MonkeyPatch) -> None:
    for alias in ("BTCTURK_API_KEY", "BTCTURK_API_SECRET", "LIVE_TRADING_ACK"):
        clean_env.setenv(alias, "  ")
    settings = load_settings(env_file=None)
    assert settings.btcturk_api_key is None and settings.btcturk_api_secret is None
    assert settings.live_trading_ack is None


def test_env_example_loads_the_demo_profile() -> None:
    settings = load_settings(env_file=ENV_EXAMPLE)
    summary = settings.safe_summary()
    assert {alias: summary[alias] for alias in DEMO_PROFILE} == DEMO_PROFILE
    defaults = load_settings(env_file=None)
    for name in BotSettings.model_fields:
        if name.upper() not in DEMO_PROFILE:
            assert getattr(settings, name) == getattr(defaults, name), name


def test_env_example_documents_every_setting_once_uncommented() -> None:
    keys = example_keys()
    assert set(ALIASES) <= set(keys)
    set_lines = [
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if KEY_LINE.match(line) and not line.lstrip().startswith("#")
    ]
    # dotenv keeps the last duplicate, which would silently undo the demo profile.
    assert len(set_lines) == len(set(set_lines))
    assert not {"BTCTURK_API_KEY", "BTCTURK_API_SECRET"} & set(set_lines)


def test_env_example_score_weights_sample_is_valid() -> None:
    (sample,) = example_keys()["STAGE7_SCORE_WEIGHTS"]
    weights = load_settings(env_file=None, STAGE7_SCORE_WEIGHTS=sample).cycle_params()
    assert weights.universe.weights == ScoreWeights()


def test_partitions_end_must_follow_start() -> None:
    with pytest.raises(
        SettingsError,
        match=re.escape(
            "CYCLE_PARTITIONS_END: must be after CYCLE_PARTITIONS_START "
            "(was CYCLE_PARTITIONS_END=2025-12-31T00:00, CYCLE_PARTITIONS_START=2026-01-01T00:00)"
        ),
    ):
        load_settings(env_file=None, CYCLE_PARTITIONS_END="2025-12-31T00:00")


def test_partition_times_are_read_as_times_not_text() -> None:
    settings = load_settings(env_file=None, CYCLE_PARTITIONS_START="2026-1-2T0:0", CYCLE_CRON="*/5 * * * MON-FRI")
    assert (settings.cycle_partitions_start, settings.cycle_cron) == ("2026-01-02T00:00", "*/5 * * * MON-FRI")
    with pytest.raises(
        SettingsError,
        match=re.escape(
            "CYCLE_PARTITIONS_END: must be after CYCLE_PARTITIONS_START "
            "(was CYCLE_PARTITIONS_END=2026-01-01T12:00, CYCLE_PARTITIONS_START=2026-01-02T00:00)"
        ),
    ):
        load_settings(env_file=None, CYCLE_PARTITIONS_START="2026-1-2T0:0", CYCLE_PARTITIONS_END="2026-01-01T12:00")
