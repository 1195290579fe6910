"""The settings' sections (issue 16): each owns a run of variables, builds its own domain
parameters, and BotSettings is their sum with the variables in their usual order."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.btcturk.client import ClientConfig
from btcbot_pipeline.domain.alerts import AlertThresholds
from btcbot_pipeline.domain.params import CycleParams, InvalidMetadataPolicy, OmsParams
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.settings import BotSettings, load_settings
from btcbot_pipeline.settings.adaptation import AdaptationSection
from btcbot_pipeline.settings.alerts import AlertSection
from btcbot_pipeline.settings.data import DataSection
from btcbot_pipeline.settings.exchange import ExchangeSection
from btcbot_pipeline.settings.live import LiveSection
from btcbot_pipeline.settings.risk import RiskSection
from btcbot_pipeline.settings.safety import SafetySection
from btcbot_pipeline.settings.schedule import ScheduleSection
from btcbot_pipeline.settings.trading import TradingSection
from btcbot_pipeline.settings.universe import UniverseSection
from btcbot_pipeline.testing.env_isolation import clear_bot_environment

# In the order their variables appear in BotSettings (and in `btcbot config`).
SECTIONS = (
    SafetySection, ExchangeSection, UniverseSection, TradingSection, RiskSection, AlertSection, DataSection,
    ScheduleSection, LiveSection, AdaptationSection,
)  # fmt: skip
SETTINGS_DIR = Path(__file__).resolve().parents[2] / "btcbot_pipeline" / "settings"
SECTION_MODULES = (
    "safety", "exchange", "universe", "trading", "risk", "alerts", "data", "schedule", "live", "adaptation",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_bot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_sections_hold_every_variable_once_in_order() -> None:
    from_sections = [name for section in SECTIONS for name in section.model_fields]
    assert from_sections == list(BotSettings.model_fields)


def test_first_and_last_variable_of_each_section() -> None:
    ends = [(next(iter(s.model_fields.values())).alias, list(s.model_fields.values())[-1].alias) for s in SECTIONS]
    assert ends == [
        ("DRY_RUN", "STAGE7_ENABLED"),
        ("BTCTURK_API_KEY", "BTCTURK_MAX_SYMBOLS"),
        ("STAGE7_UNIVERSE_SIZE", "STAGE7_SCORE_WEIGHTS"),
        ("TRY_CASH_TARGET", "DRY_RUN_TRY_BALANCE"),
        ("STAGE7_DRAWDOWN_MODE", "ENABLE_AUTO_KILL_SWITCH"),
        ("ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_ATTEMPTS"),
        ("STATE_DB_PATH", "GATE_VALIDATOR"),
        ("CYCLE_CRON", "CATCHUP_MAX_RUNS_PER_TICK"),
        ("MAX_OPEN_ORDERS", "LOG_LEVEL"),
        ("ADAPTATION_ENABLED", "ADAPTATION_GUARD_MAX_FEE_BURN_BPS"),
    ]


@pytest.mark.parametrize("module", SECTION_MODULES)
def test_a_section_imports_no_other_section(module: str) -> None:
    # Sections meet only in bot.py; a section reaching into another would hide a cross check.
    tree = ast.parse((SETTINGS_DIR / f"{module}.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    others = {f"btcbot_pipeline.settings.{other}" for other in SECTION_MODULES if other != module}
    assert imported & others == set()


def test_cycle_params_is_the_sections_params_together() -> None:
    settings = load_settings(None, STAGE7_UNIVERSE_WHITELIST="btc_try", STAGE7_FEES_BPS="7.5", KILL_SWITCH="false")
    params = settings.cycle_params()

    assert params == CycleParams(
        universe=settings.universe_params(),
        policy=settings.policy_params(),
        rules=settings.rules_params(),
        execution=settings.execution_params(),
        oms=settings.oms_params(),
        start_capital_try=Decimal("1000"),
        max_data_age_s=60,
        kill_switch=False,
        risk=settings.risk_limits(),
    )
    assert params.universe.whitelist == ("BTCTRY",)
    assert params.execution.fees_bps == params.oms.fees_bps == Decimal("7.5")


def test_trading_section_builds_oms_rules_and_risk() -> None:
    settings = load_settings(
        None, STAGE7_FILL_MODEL="limit", ORDER_TTL_SECONDS="60",
        STAGE7_RULES_INVALID_METADATA_POLICY="observe_only_cycle",
        STAGE7_MAX_DRAWDOWN_PCT="0.1", STAGE7_MAX_DAILY_LOSS_TRY="75", STAGE7_RISK_COOLDOWN_SEC="30",
    )  # fmt: skip

    oms = settings.oms_params()
    assert isinstance(oms, OmsParams)
    assert (oms.fill_model, oms.order_ttl_s, oms.slippage_bps) == ("limit", 60, Decimal("25"))
    assert settings.rules_params().invalid_metadata_policy is InvalidMetadataPolicy.OBSERVE_ONLY_CYCLE
    assert settings.risk_limits() == RiskLimits(
        max_drawdown_pct=Decimal("0.1"), max_daily_loss_try=Decimal("75"), cooldown_s=30,
        drawdown_mode=Mode.REDUCE_RISK_ONLY,  # STAGE7_DRAWDOWN_MODE's default
    )  # fmt: skip


def test_risk_section_extends_the_trading_sections_risk_budget() -> None:
    settings = load_settings(
        None, STAGE7_MAX_DRAWDOWN_PCT="0.1", STAGE7_DRAWDOWN_MODE="reduce_risk_only",
        STAGE7_MAX_STALE_SHARE="0.4", STAGE7_STALE_SHARE_MODE="OBSERVE_ONLY",
        STAGE7_MAX_FEE_BURN_BPS="25", STAGE7_FEE_BURN_WINDOW_CYCLES="12",
        STAGE7_MAX_EQUITY_VOL_BPS="80", STAGE7_EQUITY_VOL_WINDOW_CYCLES="24", STAGE7_EQUITY_VOL_MODE=" observe_only ",
        STAGE7_MAX_LOSING_CYCLES="6", COOLDOWN_SECONDS="60", MIN_PROFIT_BPS="30", ENABLE_AUTO_KILL_SWITCH="true",
    )  # fmt: skip

    assert settings.risk_limits() == RiskLimits(
        max_drawdown_pct=Decimal("0.1"), drawdown_mode=Mode.REDUCE_RISK_ONLY,
        max_stale_share=Decimal("0.4"), stale_share_mode=Mode.OBSERVE_ONLY,
        max_fee_burn_bps=Decimal("25"), fee_burn_window=12,
        max_equity_vol_bps=Decimal("80"), equity_vol_window=24, equity_vol_mode=Mode.OBSERVE_ONLY,
        max_losing_cycles=6, order_cooldown_s=60, min_profit_bps=Decimal("30"), auto_kill_switch=True,
    )  # fmt: skip
    assert settings.cycle_params().risk == settings.risk_limits()
    # unset, the risk section changes nothing but the drawdown's mode (its default: exits only)
    assert load_settings(None).risk_limits() == RiskLimits(drawdown_mode=Mode.REDUCE_RISK_ONLY)


def test_exchange_section_builds_the_client_config() -> None:
    settings = load_settings(
        None, BTCTURK_BASE_URL="http://127.0.0.1:8080/", BTCTURK_TIMEOUT_SEC="4",
        BTCTURK_CALL_DEADLINE_SEC="9", BTCTURK_MAX_BODY_BYTES="65536",
    )  # fmt: skip

    assert settings.client_config() == ClientConfig(
        base_url="http://127.0.0.1:8080",  # trailing slash dropped by the URL rule
        graph_base_url="https://graph-api.btcturk.com",
        timeout_s=4.0,
        call_deadline_s=9.0,
        max_body_bytes=65_536,
    )


def test_default_client_config_is_the_clients_default() -> None:
    assert load_settings(None).client_config() == ClientConfig()


def test_alert_section_builds_the_thresholds() -> None:
    settings = load_settings(None, ALERT_DRAWDOWN_PCT="0.02", ALERT_DAILY_LOSS_TRY="99.5")

    assert settings.alert_thresholds() == AlertThresholds(Decimal("0.02"), Decimal("99.5"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, False),
        ({"BTCTURK_API_KEY": "k"}, False),
        ({"BTCTURK_API_KEY": "k", "BTCTURK_API_SECRET": " "}, False),  # blank is unset
        ({"BTCTURK_API_KEY": "k", "BTCTURK_API_SECRET": "s"}, True),
    ],
)
def test_credentials_set(overrides: dict[str, str], expected: bool) -> None:
    assert load_settings(None, **overrides).credentials_set() is expected


def test_every_combination_problem_in_one_error_keeps_its_order() -> None:
    from btcbot_pipeline.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        load_settings(
            None, STAGE7_ENABLED="true", DRY_RUN="false", LIVE_TRADING="true", TRY_CASH_MAX="1",
            CYCLE_PARTITIONS_END="2025-01-01T00:00", MIN_ORDER_NOTIONAL_TRY="5000",
        )  # fmt: skip
    # (STAGE7_ENABLED=true and KILL_SWITCH=true are allowed with LIVE_TRADING=true: the live profile.)
    # Safety's gates, then the credentials (across sections), then trading's cash band,
    # the schedule's span and trading's order size: the order of the single class before.
    assert [line.split(":")[0] for line in caught.value.problems] == [
        "LIVE_TRADING_ACK", "BTCTURK_API_KEY, BTCTURK_API_SECRET",
        "TRY_CASH_MAX", "CYCLE_PARTITIONS_END", "MIN_ORDER_NOTIONAL_TRY",
    ]  # fmt: skip
