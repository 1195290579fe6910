"""The bot's settings, read once from the environment and an optional ``.env`` file.

:class:`BotSettings` keeps the seeds' variable names (``DRY_RUN``, ``KILL_SWITCH``,
``STAGE7_*``, ...) exactly, without a prefix: they are the users' interface. Every money or
bps value is a ``Decimal`` whose bounds are declared on the field, and the gate combinations
that the original system refused (seed project report §5) are refused here too, at load time.
A bad configuration stops the process before any cycle runs, because a cycle run with a
half-understood configuration is worse than no cycle at all.

Other code calls :func:`load_settings`, then :meth:`BotSettings.cycle_params` to get the plain
domain parameters; the domain never reads settings itself.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from btcbot_pipeline.domain.bounds import MAX_MONEY_TRY, STEP
from btcbot_pipeline.domain.oms import OmsParams
from btcbot_pipeline.domain.params import (
    CycleParams,
    ExecutionParams,
    InvalidMetadataPolicy,
    PolicyParams,
    RulesParams,
    ScoreWeights,
    UniverseParams,
)
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.universe import canonical_symbol, is_pair_name

__all__ = ["BotSettings", "SettingsError", "load_settings", "canonical_symbol"]

LIVE_TRADING_ACK_PHRASE = "I_UNDERSTAND"
SECRET_MASK = "**********"
PARTITION_START_FORMAT = "%Y-%m-%dT%H:%M"

_SECRET_ALIASES = frozenset({"BTCTURK_API_KEY", "BTCTURK_API_SECRET", "ALERT_WEBHOOK_URL"})
_SCORE_WEIGHT_KEYS = ("liquidity", "spread", "volatility")


class SettingsError(Exception):
    """The configuration cannot be used; the message says which variable and why.

    The message has one line per problem, ``VARIABLE: problem (was <value>)``. Secret values
    are never part of it.

    Attributes:
        problems: the message's lines, one per problem.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def _decimal_text(value: Decimal) -> str:
    # Fixed-point text: str(Decimal("0.00000001")) would print "1E-8" in logs.
    return format(value, "f")


def _flag(value: bool) -> str:
    return "true" if value else "false"


# Cron fields: name, lowest and highest value (day of week: 0 and 7 are both Sunday).
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_CRON_NAMES = {
    **{m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)},
    **{d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))},
}


def _cron_field_problem(text: str, low: int, high: int) -> str | None:
    """Why one cron field is not valid for its range, or ``None`` (``*``, ``a``, ``a-b``,
    each with an optional ``/step``, comma separated; month and weekday names too)."""
    for part in text.split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"step {step!r} is not a positive number"
        if span == "*":
            continue
        ends = span.split("-")
        if len(ends) > 2 or not all(ends):
            return f"{part!r} is not a value, a range or *"
        values = []
        for end in ends:
            value = _CRON_NAMES.get(end.upper()) if not end.isdigit() else int(end)
            if value is None:
                return f"{end!r} is not a number"
            if not low <= value <= high:
                return f"{value} is outside {low}-{high}"
            values.append(value)
        if len(values) == 2 and values[0] > values[1]:
            return f"range {span!r} runs backwards"
    return None


class BotSettings(BaseSettings):
    """Every setting of the pipeline, named exactly as the seeds' environment variables.

    Instances are validated as a whole: field bounds first, then the gate and policy
    combinations. Build one with :func:`load_settings` rather than directly, so that problems
    arrive as a readable :class:`SettingsError`.
    """

    model_config = SettingsConfigDict(
        env_prefix="",
        env_file=None,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        # The ValidationError may be chained into tracebacks; its text must never show the
        # raw input, which includes the API secret. load_settings takes each value from
        # ValidationError.errors() and masks the secret ones.
        hide_input_in_errors=True,
        validate_default=True,
    )

    # --- gates (triple-gate semantics, seed README stage 3) --------------------------------
    dry_run: bool = Field(default=True, alias="DRY_RUN")
    kill_switch: bool = Field(default=True, alias="KILL_SWITCH")
    live_trading: bool = Field(default=False, alias="LIVE_TRADING")
    live_trading_ack: str | None = Field(default=None, alias="LIVE_TRADING_ACK")
    stage7_enabled: bool = Field(default=False, alias="STAGE7_ENABLED")

    # --- exchange -----------------------------------------------------------------------
    btcturk_api_key: SecretStr | None = Field(default=None, alias="BTCTURK_API_KEY")
    btcturk_api_secret: SecretStr | None = Field(default=None, alias="BTCTURK_API_SECRET")
    btcturk_base_url: str = Field(default="https://api.btcturk.com", alias="BTCTURK_BASE_URL")
    btcturk_graph_base_url: str = Field(
        default="https://graph-api.btcturk.com", alias="BTCTURK_GRAPH_BASE_URL"
    )
    # Where market_snapshot reads: "replay" (REPLAY_DATASET_PATH) or "btcturk" (live public API).
    market_data_source: Literal["replay", "btcturk"] = Field(default="replay", alias="MARKET_DATA_SOURCE")
    btcturk_timeout_sec: float = Field(default=10.0, gt=0, le=120, alias="BTCTURK_TIMEOUT_SEC")
    # BTCTURK_TIMEOUT_SEC bounds each read, not a call: a server sending a byte a second
    # never trips it. A call (connect to the last byte) ends at the call deadline, one
    # cycle's reads of the live source at the cycle deadline (keep it below CYCLE_CRON's
    # interval), and a body over the cap (far above exchangeinfo, the largest reply) is
    # refused without being read whole or parsed.
    btcturk_call_deadline_sec: float = Field(default=20.0, gt=0, le=600, alias="BTCTURK_CALL_DEADLINE_SEC")
    btcturk_cycle_deadline_sec: float = Field(default=120.0, gt=0, le=3600, alias="BTCTURK_CYCLE_DEADLINE_SEC")
    btcturk_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=65_536, le=256 * 1024 * 1024, alias="BTCTURK_MAX_BODY_BYTES")
    # Live source without a universe whitelist: the largest quote-currency pairs by volume.
    btcturk_max_symbols: int = Field(default=30, ge=1, le=200, alias="BTCTURK_MAX_SYMBOLS")

    # --- universe (seed Stage 7 PR-2) ---------------------------------------------------
    stage7_universe_size: int = Field(default=20, ge=1, alias="STAGE7_UNIVERSE_SIZE")
    stage7_universe_quote_ccy: str = Field(default="TRY", alias="STAGE7_UNIVERSE_QUOTE_CCY")
    # NoDecode: the list is parsed by our validator, which accepts CSV as well as JSON.
    stage7_universe_whitelist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="STAGE7_UNIVERSE_WHITELIST"
    )
    stage7_universe_blacklist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="STAGE7_UNIVERSE_BLACKLIST"
    )
    stage7_min_quote_volume_try: Decimal = Field(
        default=Decimal("0"), ge=0, alias="STAGE7_MIN_QUOTE_VOLUME_TRY"
    )
    stage7_max_spread_bps: Decimal = Field(
        default=Decimal("1000000"), ge=0, alias="STAGE7_MAX_SPREAD_BPS"
    )
    # Volatility needs at least two closes to have one return.
    stage7_vol_lookback: int = Field(default=20, ge=2, alias="STAGE7_VOL_LOOKBACK")
    # NoDecode: pydantic-settings would json.loads numbers into floats; we parse as Decimal.
    stage7_score_weights: Annotated[dict[str, Decimal] | None, NoDecode] = Field(
        default=None, alias="STAGE7_SCORE_WEIGHTS"
    )

    # --- portfolio policy (seed Stage 7 PR-3) -------------------------------------------
    try_cash_target: Decimal = Field(default=Decimal("300"), ge=0, alias="TRY_CASH_TARGET")
    try_cash_max: Decimal = Field(default=Decimal("600"), ge=0, alias="TRY_CASH_MAX")
    max_position_notional_try: Decimal = Field(
        default=Decimal("5000"), ge=0, alias="MAX_POSITION_NOTIONAL_TRY"
    )
    notional_cap_try_per_cycle: Decimal = Field(
        default=Decimal("1000"), ge=0, alias="NOTIONAL_CAP_TRY_PER_CYCLE"
    )
    max_orders_per_cycle: int = Field(default=2, ge=0, alias="MAX_ORDERS_PER_CYCLE")
    min_order_notional_try: Decimal = Field(
        default=Decimal("10"), gt=0, alias="MIN_ORDER_NOTIONAL_TRY"
    )

    # --- execution / simulation (seed Stage 7 PR-1, PR-4) ------------------------------
    # Below 10000 bps: an offset, slippage or fee of 100 % would make prices zero or negative.
    stage7_order_offset_bps: Decimal = Field(
        default=Decimal("5"), ge=0, lt=10000, alias="STAGE7_ORDER_OFFSET_BPS"
    )
    stage7_slippage_bps: Decimal = Field(
        default=Decimal("25"), ge=0, lt=10000, alias="STAGE7_SLIPPAGE_BPS"
    )
    stage7_fees_bps: Decimal = Field(
        default=Decimal("20"), ge=0, lt=10000, alias="STAGE7_FEES_BPS"
    )

    # --- the simulated OMS (seed Stage 7 oms_service) ------------------------------------
    # `seed`: every accepted order fills in full at mark ± slippage in its own cycle (the
    # seed system's behaviour, reproduces earlier results); `limit`: a BUY fills only when
    # the market trades at or below its limit (SELL: at or above), at most
    # STAGE7_SIM_VOLUME_SHARE of each bar's volume, so orders rest and fill over cycles.
    stage7_fill_model: Literal["seed", "limit"] = Field(default="seed", alias="STAGE7_FILL_MODEL")
    stage7_sim_volume_share: Decimal = Field(default=Decimal("0.1"), gt=0, le=1, alias="STAGE7_SIM_VOLUME_SHARE")
    # Seeded, deterministic exchange rejects and transient submit failures (shares of submissions).
    stage7_sim_reject_rate: Decimal = Field(default=Decimal("0"), ge=0, le=1, alias="STAGE7_SIM_REJECT_RATE")
    stage7_sim_transient_failure_rate: Decimal = Field(
        default=Decimal("0"), ge=0, le=1, alias="STAGE7_SIM_TRANSIENT_FAILURE_RATE"
    )
    stage7_sim_seed: int = Field(default=0, ge=0, le=2**31 - 1, alias="STAGE7_SIM_SEED")
    # Token bucket in cycle time: submissions per second and the burst; a throttled order waits.
    stage7_rate_limit_rps: Decimal = Field(default=Decimal("5"), gt=0, le=1000, alias="STAGE7_RATE_LIMIT_RPS")
    stage7_rate_limit_burst: int = Field(default=10, ge=1, le=10_000, alias="STAGE7_RATE_LIMIT_BURST")
    # Submission attempts in all (the first included) and the first backoff, doubled each retry.
    stage7_retry_max_attempts: int = Field(default=3, ge=1, le=20, alias="STAGE7_RETRY_MAX_ATTEMPTS")
    stage7_retry_base_delay_ms: int = Field(default=500, ge=0, le=86_400_000, alias="STAGE7_RETRY_BASE_DELAY_MS")
    # An order still open this long after it was placed expires.
    order_ttl_seconds: int = Field(default=900, ge=1, le=30 * 86_400, alias="ORDER_TTL_SECONDS")
    # An open order whose limit is this far from where the cycle would place it now (the
    # mark ∓ STAGE7_ORDER_OFFSET_BPS) is replaced: cancelled and ordered again, new id.
    stage7_reprice_bps: Decimal = Field(default=Decimal("50"), ge=0, lt=10000, alias="STAGE7_REPRICE_BPS")

    # --- exchange rules fallbacks (seed Stage 7 PR-4) -----------------------------------
    # Tick and lot must be > 0: quantising to a step of zero is undefined.
    stage7_rules_fallback_tick_size: Decimal = Field(
        default=Decimal("0.01"), gt=0, alias="STAGE7_RULES_FALLBACK_TICK_SIZE"
    )
    stage7_rules_fallback_lot_size: Decimal = Field(
        default=Decimal("0.00000001"), gt=0, alias="STAGE7_RULES_FALLBACK_LOT_SIZE"
    )
    stage7_rules_fallback_min_notional_try: Decimal = Field(
        default=Decimal("10"), ge=0, alias="STAGE7_RULES_FALLBACK_MIN_NOTIONAL_TRY"
    )
    stage7_rules_safe_min_notional_try: Decimal = Field(
        default=Decimal("100"), ge=0, alias="STAGE7_RULES_SAFE_MIN_NOTIONAL_TRY"
    )
    stage7_rules_require_metadata: bool = Field(
        default=True, alias="STAGE7_RULES_REQUIRE_METADATA"
    )
    stage7_rules_invalid_metadata_policy: InvalidMetadataPolicy = Field(
        default=InvalidMetadataPolicy.SKIP_SYMBOL, alias="STAGE7_RULES_INVALID_METADATA_POLICY"
    )

    # --- data freshness and dry-run capital ---------------------------------------------
    stage7_max_data_age_sec: int = Field(default=60, ge=0, alias="STAGE7_MAX_DATA_AGE_SEC")
    # Largest share of candidate symbols a cycle may exclude before the market_snapshot gate
    # stops it (a systemic fault rather than a few bad symbols).
    stage7_max_excluded_share: Decimal = Field(
        default=Decimal("0.5"), ge=0, le=1, alias="STAGE7_MAX_EXCLUDED_SHARE"
    )

    # --- risk budget (seed Stage 7 risk budget) -----------------------------------------
    stage7_max_drawdown_pct: Decimal = Field(
        default=Decimal("0.25"), gt=0, le=1, alias="STAGE7_MAX_DRAWDOWN_PCT"
    )
    stage7_max_daily_loss_try: Decimal = Field(
        default=Decimal("500"), gt=0, alias="STAGE7_MAX_DAILY_LOSS_TRY"
    )
    stage7_risk_cooldown_sec: int = Field(default=900, ge=0, alias="STAGE7_RISK_COOLDOWN_SEC")
    dry_run_try_balance: Decimal = Field(
        default=Decimal("1000"), gt=0, alias="DRY_RUN_TRY_BALANCE"
    )

    # --- alerts (btcbot_pipeline.alerts) ------------------------------------------------
    # A secret: a webhook URL often carries its token. Unset: alerts are only recorded.
    alert_webhook_url: SecretStr | None = Field(default=None, alias="ALERT_WEBHOOK_URL")
    # Alert thresholds, set below the risk budget's limits to hear of a loss before it trips
    # them: a drawdown from the peak (a fraction, like STAGE7_MAX_DRAWDOWN_PCT) and a loss
    # since the start of the UTC day in TRY.
    alert_drawdown_pct: Decimal = Field(default=Decimal("0.05"), gt=0, le=1, alias="ALERT_DRAWDOWN_PCT")
    alert_daily_loss_try: Decimal = Field(default=Decimal("250"), gt=0, le=Decimal("1e15"), alias="ALERT_DAILY_LOSS_TRY")
    alert_webhook_timeout_sec: float = Field(default=3.0, gt=0, le=60, alias="ALERT_WEBHOOK_TIMEOUT_SEC")
    # One POST ends at this deadline (connect to the response's last byte), whatever the
    # receiver's pace; its response is read up to this size (a receiver answers "ok").
    alert_webhook_deadline_sec: float = Field(default=10.0, gt=0, le=120, alias="ALERT_WEBHOOK_DEADLINE_SEC")
    alert_webhook_max_body_bytes: int = Field(default=65_536, ge=1024, le=16 * 1024 * 1024, alias="ALERT_WEBHOOK_MAX_BODY_BYTES")
    # POSTs per alert and cycle at most (a failed alert is tried again at the next cycle).
    alert_webhook_attempts: int = Field(default=2, ge=1, le=10, alias="ALERT_WEBHOOK_ATTEMPTS")

    # --- storage / data -----------------------------------------------------------------
    state_db_path: str = Field(default="data/btcbot_book.duckdb", alias="STATE_DB_PATH")
    replay_dataset_path: str = Field(default="data/replay", alias="REPLAY_DATASET_PATH")
    # One book per backtest: BACKTEST_DIR/<name>.duckdb (never the dry-run book).
    backtest_dir: str = Field(default="data/backtests", alias="BACKTEST_DIR")
    # Cycles validated by the gates and committed together (a run's chunk): Great
    # Expectations costs ~60 ms per suite run whatever the size, so larger chunks are
    # faster; a failing gate discards its whole chunk. Default: 30 days of 5-minute cycles.
    gate_chunk_cycles: int = Field(default=8640, ge=1, le=100_000, alias="GATE_CHUNK_CYCLES")
    # Who evaluates the gate suites: `auto` (Great Expectations for runs of 12 cycles or
    # more; a shorter run, e.g. one scheduled cycle, in pure Python with GE's verdicts and
    # without GE's ~3 s import), `great_expectations` or `exact` always.
    gate_validator: Literal["auto", "great_expectations", "exact"] = Field(default="auto", alias="GATE_VALIDATOR")

    # --- partitions ---------------------------------------------------------------------
    cycle_cron: str = Field(default="*/5 * * * *", alias="CYCLE_CRON")
    cycle_partitions_start: str = Field(
        default="2026-01-01T00:00", alias="CYCLE_PARTITIONS_START"
    )
    # Optional last window end: keeps a replay's partition set to the dataset's span
    # (Dagster's UI slows past ~100k partitions: 347 days of five-minute cycles).
    cycle_partitions_end: str | None = Field(default=None, alias="CYCLE_PARTITIONS_END")
    # Most cycles the catch-up sensor requests per tick (oldest first; the rest next tick).
    catchup_max_runs_per_tick: int = Field(default=12, ge=1, le=1000, alias="CATCHUP_MAX_RUNS_PER_TICK")

    # --- field validators ---------------------------------------------------------------

    @field_validator(
        "live_trading_ack", "btcturk_api_key", "btcturk_api_secret", "alert_webhook_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # A ".env" line "BTCTURK_API_KEY=" means "not configured", not "an empty key";
        # otherwise an empty secret would satisfy the live-credentials check.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator(
        "stage7_min_quote_volume_try",
        "stage7_max_spread_bps",
        "try_cash_target",
        "try_cash_max",
        "max_position_notional_try",
        "notional_cap_try_per_cycle",
        "min_order_notional_try",
        "stage7_order_offset_bps",
        "stage7_slippage_bps",
        "stage7_fees_bps",
        "stage7_sim_volume_share",
        "stage7_sim_reject_rate",
        "stage7_sim_transient_failure_rate",
        "stage7_rate_limit_rps",
        "stage7_reprice_bps",
        "stage7_rules_fallback_tick_size",
        "stage7_rules_fallback_lot_size",
        "stage7_rules_fallback_min_notional_try",
        "stage7_rules_safe_min_notional_try",
        "dry_run_try_balance",
        "stage7_max_excluded_share",
        "stage7_max_drawdown_pct",
        "stage7_max_daily_loss_try",
        mode="before",
    )
    @classmethod
    def _refuse_float(cls, value: object) -> object:
        # Environment values are text; only a Python override can pass a float, and a float
        # such as 0.1 is already inexact. Make the caller say what it means.
        if isinstance(value, float):
            raise ValueError("pass a str or Decimal, not a float")
        return value

    @field_validator(
        "stage7_min_quote_volume_try",
        "try_cash_target",
        "try_cash_max",
        "max_position_notional_try",
        "notional_cap_try_per_cycle",
        "min_order_notional_try",
        "stage7_rules_fallback_min_notional_try",
        "stage7_rules_safe_min_notional_try",
        "dry_run_try_balance",
        "stage7_max_daily_loss_try",
        mode="after",
    )
    @classmethod
    def _storable_money(cls, value: Decimal) -> Decimal:
        # The book stores amounts as DECIMAL(38, 18); domain/bounds.py keeps every money
        # setting five digits below its limit, so gains and sums still fit.
        if value > MAX_MONEY_TRY:
            raise ValueError(
                f"must be at most {_decimal_text(MAX_MONEY_TRY)} TRY (1e15, the bound the book can store "
                "with room for gains, see domain/bounds.py)"
            )
        return value

    @field_validator("stage7_rules_fallback_tick_size", "stage7_rules_fallback_lot_size", mode="after")
    @classmethod
    def _storable_step(cls, value: Decimal) -> Decimal:
        if not STEP.contains(value):
            raise ValueError(f"must be within {STEP.text()} (a grid the book can store at 18 decimals)")
        return value

    @field_validator("stage7_universe_quote_ccy", mode="after")
    @classmethod
    def _quote_ccy(cls, value: str) -> str:
        normalised = value.strip().upper()
        if not normalised.isalnum():
            raise ValueError("must be a non-empty currency code such as TRY")
        return normalised

    @field_validator("stage7_universe_whitelist", "stage7_universe_blacklist", mode="before")
    @classmethod
    def _symbol_list(cls, value: object) -> tuple[str, ...]:
        items: list[object]
        if value is None:
            return ()
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return ()
            if text.startswith("{"):
                raise ValueError("must be a JSON list or comma separated symbols, not an object")
            if text.startswith("["):
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a valid JSON list ({exc.msg})") from exc
                if not isinstance(parsed, list):
                    raise ValueError("JSON value must be a list of symbols")
                items = parsed
            else:
                items = list(text.split(","))
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise ValueError("must be a JSON list or comma separated symbols")
        symbols: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"symbols must be strings, got {item!r}")
            symbol = canonical_symbol(item)
            if not symbol:
                continue  # tolerate "BTCTRY,,ETHTRY" and a trailing comma
            if not is_pair_name(symbol):
                # One rule (domain/universe.is_pair_name): ASCII letters and digits only.
                raise ValueError(f"{item!r} is not a pair symbol such as BTCTRY")
            if symbol not in symbols:
                symbols.append(symbol)
        return tuple(symbols)

    @field_validator("stage7_score_weights", mode="before")
    @classmethod
    def _score_weights(cls, value: object) -> dict[str, Decimal] | None:
        if value is None:
            return None
        parsed: object = value
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                # parse_float=Decimal: "0.3" stays exactly 0.3, never 0.299999...
                parsed = json.loads(value, parse_float=Decimal, parse_int=Decimal)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg})") from exc
        if not isinstance(parsed, dict):
            raise ValueError('must be a JSON object like {"liquidity": 0.5, "spread": 0.3}')
        unknown = sorted(str(key) for key in parsed if key not in _SCORE_WEIGHT_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_SCORE_WEIGHT_KEYS)}"
            )
        # Keys left out keep their default weight, as in the original system.
        defaults = ScoreWeights()
        weights: dict[str, Decimal] = {}
        for key in _SCORE_WEIGHT_KEYS:
            raw = parsed.get(key, getattr(defaults, key))
            if isinstance(raw, bool | float) or raw is None:
                raise ValueError(f"{key} must be a number, got {raw!r}")
            try:
                weight = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
            except InvalidOperation as exc:
                raise ValueError(f"{key} must be a number, got {raw!r}") from exc
            if not weight.is_finite() or weight < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {raw}")
            weights[key] = weight
        if sum(weights.values(), Decimal(0)) <= 0:
            raise ValueError("weights must sum to more than 0")
        return weights

    @field_validator("stage7_rules_invalid_metadata_policy", mode="before")
    @classmethod
    def _metadata_policy(cls, value: object) -> object:
        # Parsed here, not by pydantic's enum check, so that the error shows the raw value.
        if isinstance(value, str):
            try:
                return InvalidMetadataPolicy(value.strip().lower())
            except ValueError:
                allowed = " or ".join(policy.value for policy in InvalidMetadataPolicy)
                raise ValueError(f"must be {allowed}") from None
        return value

    @field_validator("cycle_cron", mode="after")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                "must be a cron expression of 5 space-separated fields "
                "(minute hour day-of-month month day-of-week)"
            )
        for text, (name, low, high) in zip(fields, _CRON_FIELDS):
            problem = _cron_field_problem(text, low, high)
            if problem:
                raise ValueError(f"{name} field {text!r}: {problem}")
        return " ".join(fields)

    @field_validator("cycle_partitions_start", "cycle_partitions_end", mode="after")
    @classmethod
    def _partition_start(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip()
        try:
            parsed = datetime.strptime(text, PARTITION_START_FORMAT)
        except ValueError as exc:
            raise ValueError("must look like 2026-01-01T00:00 (format %Y-%m-%dT%H:%M)") from exc
        # Canonical text ("2026-1-1T0:0" → "2026-01-01T00:00"): keys and comparisons are textual.
        return parsed.strftime(PARTITION_START_FORMAT)

    @field_validator("alert_drawdown_pct", "alert_daily_loss_try", mode="before")
    @classmethod
    def _alert_threshold(cls, value: object) -> object:
        if isinstance(value, float):  # as _refuse_float: a float is already inexact
            raise ValueError("pass a str or Decimal, not a float")
        return value

    @field_validator("alert_webhook_url", mode="after")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://hooks.example.com/T0/B0/XXXX")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("btcturk_base_url", "btcturk_graph_base_url", mode="after")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://api.btcturk.com")
        return value.strip().rstrip("/")

    # --- combinations (seed project report §5) ------------------------------------------

    @model_validator(mode="after")
    def _combinations(self) -> BotSettings:
        problems = self._combination_problems()
        if problems:
            # A custom error keeps the lines as written (no "Value error, " prefix).
            raise PydanticCustomError(
                "settings_combination", "{problems}", {"problems": "\n".join(problems)}
            )
        return self

    def _combination_problems(self) -> list[str]:
        problems: list[str] = []
        if self.stage7_enabled and (not self.dry_run or self.live_trading):
            problems.append(
                "STAGE7_ENABLED: Stage 7 is dry-run only, STAGE7_ENABLED=true requires "
                "DRY_RUN=true and LIVE_TRADING=false "
                f"(was DRY_RUN={_flag(self.dry_run)}, LIVE_TRADING={_flag(self.live_trading)})"
            )
        if self.live_trading:
            if self.dry_run:
                problems.append(
                    "LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true "
                    "(was DRY_RUN=true)"
                )
            if self.live_trading_ack != LIVE_TRADING_ACK_PHRASE:
                seen = "unset" if self.live_trading_ack is None else repr(self.live_trading_ack)
                problems.append(
                    "LIVE_TRADING_ACK: LIVE_TRADING=true requires "
                    f"LIVE_TRADING_ACK={LIVE_TRADING_ACK_PHRASE} (was {seen})"
                )
            if self.kill_switch:
                problems.append(
                    "KILL_SWITCH: LIVE_TRADING=true requires KILL_SWITCH=false "
                    "(was KILL_SWITCH=true)"
                )
            if self.btcturk_api_key is None or self.btcturk_api_secret is None:
                # Say only whether each is set: the values are secrets.
                problems.append(
                    "BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both "
                    "credentials (was BTCTURK_API_KEY="
                    f"{'set' if self.btcturk_api_key is not None else 'unset'}, "
                    "BTCTURK_API_SECRET="
                    f"{'set' if self.btcturk_api_secret is not None else 'unset'})"
                )
        if self.try_cash_max < self.try_cash_target:
            problems.append(
                "TRY_CASH_MAX: must be >= TRY_CASH_TARGET "
                f"(was TRY_CASH_MAX={_decimal_text(self.try_cash_max)}, "
                f"TRY_CASH_TARGET={_decimal_text(self.try_cash_target)})"
            )
        if self.cycle_partitions_end is not None and self.cycle_partitions_end <= self.cycle_partitions_start:
            problems.append(
                "CYCLE_PARTITIONS_END: must be after CYCLE_PARTITIONS_START "
                f"(was CYCLE_PARTITIONS_END={self.cycle_partitions_end}, "
                f"CYCLE_PARTITIONS_START={self.cycle_partitions_start})"
            )
        if self.min_order_notional_try > self.notional_cap_try_per_cycle:
            problems.append(
                "MIN_ORDER_NOTIONAL_TRY: must be <= NOTIONAL_CAP_TRY_PER_CYCLE "
                f"(was MIN_ORDER_NOTIONAL_TRY={_decimal_text(self.min_order_notional_try)}, "
                f"NOTIONAL_CAP_TRY_PER_CYCLE={_decimal_text(self.notional_cap_try_per_cycle)})"
            )
        return problems

    # --- public API ---------------------------------------------------------------------

    def cycle_params(self) -> CycleParams:
        """The domain's parameters for one cycle, built from these settings.

        ``base_mode`` keeps its default: it comes from the persisted risk mode, not from
        settings.

        Returns:
            A frozen :class:`~btcbot_pipeline.domain.params.CycleParams`.
        """
        weights = (
            ScoreWeights(**self.stage7_score_weights)
            if self.stage7_score_weights is not None
            else ScoreWeights()
        )
        return CycleParams(
            universe=UniverseParams(
                size=self.stage7_universe_size,
                quote_ccy=self.stage7_universe_quote_ccy,
                whitelist=tuple(self.stage7_universe_whitelist),
                blacklist=tuple(self.stage7_universe_blacklist),
                min_quote_volume_try=self.stage7_min_quote_volume_try,
                max_spread_bps=self.stage7_max_spread_bps,
                vol_lookback=self.stage7_vol_lookback,
                weights=weights,
            ),
            policy=PolicyParams(
                try_cash_target=self.try_cash_target,
                try_cash_max=self.try_cash_max,
                max_position_notional_try=self.max_position_notional_try,
                notional_cap_try_per_cycle=self.notional_cap_try_per_cycle,
                max_orders_per_cycle=self.max_orders_per_cycle,
                min_order_notional_try=self.min_order_notional_try,
            ),
            rules=RulesParams(
                fallback_tick_size=self.stage7_rules_fallback_tick_size,
                fallback_lot_size=self.stage7_rules_fallback_lot_size,
                fallback_min_notional_try=self.stage7_rules_fallback_min_notional_try,
                safe_min_notional_try=self.stage7_rules_safe_min_notional_try,
                require_metadata=self.stage7_rules_require_metadata,
                invalid_metadata_policy=self.stage7_rules_invalid_metadata_policy,
            ),
            execution=ExecutionParams(
                order_offset_bps=self.stage7_order_offset_bps,
                slippage_bps=self.stage7_slippage_bps,
                fees_bps=self.stage7_fees_bps,
            ),
            oms=OmsParams(
                fill_model=self.stage7_fill_model,
                volume_share=self.stage7_sim_volume_share,
                reject_rate=self.stage7_sim_reject_rate,
                transient_failure_rate=self.stage7_sim_transient_failure_rate,
                seed=self.stage7_sim_seed,
                rate_limit_rps=self.stage7_rate_limit_rps,
                rate_limit_burst=self.stage7_rate_limit_burst,
                retry_max_attempts=self.stage7_retry_max_attempts,
                retry_base_delay_ms=self.stage7_retry_base_delay_ms,
                order_ttl_s=self.order_ttl_seconds,
                reprice_bps=self.stage7_reprice_bps,
                slippage_bps=self.stage7_slippage_bps,
                fees_bps=self.stage7_fees_bps,
            ),
            start_capital_try=self.dry_run_try_balance,
            max_data_age_s=self.stage7_max_data_age_sec,
            kill_switch=self.kill_switch,
            risk=RiskLimits(
                max_drawdown_pct=self.stage7_max_drawdown_pct,
                max_daily_loss_try=self.stage7_max_daily_loss_try,
                cooldown_s=self.stage7_risk_cooldown_sec,
            ),
        )

    def safe_summary(self) -> dict[str, str]:
        """Every setting by its environment name, as text, with secrets masked.

        Meant for logs and Dagster metadata: secrets show as ``**********`` when set and
        ``unset`` otherwise; any other unset optional value shows as ``unset``.

        Returns:
            ``{"DRY_RUN": "true", "STAGE7_FEES_BPS": "20", ...}`` in declaration order.
        """
        summary: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            alias = info.alias or name.upper()
            summary[alias] = _summary_text(getattr(self, name))
        return summary

    def live_orders_possible(self) -> bool:
        """Whether a cycle of this pipeline can place a real order: never.

        The gates above are validated so that a configuration means what the original
        system meant, but this pipeline's cycle path has no exchange-writing code at all:
        its adapters only read public market data, and every fill is simulated into the
        local book. So even a fully armed configuration (``DRY_RUN=false``,
        ``KILL_SWITCH=false``, ``LIVE_TRADING=true``, ``LIVE_TRADING_ACK=I_UNDERSTAND``,
        credentials set) cannot submit or cancel anything. Callers may log this value
        next to the gates to make that explicit.

        Returns:
            Always ``False``.
        """
        return False


def _summary_text(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return SECRET_MASK
    if isinstance(value, bool):
        return _flag(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, InvalidMetadataPolicy):
        return value.value
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps({key: _summary_text(item) for key, item in value.items()})
    return str(value)


def _alias_by_name() -> dict[str, str]:
    return {
        name: info.alias or name.upper() for name, info in BotSettings.model_fields.items()
    }


def _problem_lines(error: ValidationError) -> list[str]:
    """One ``VARIABLE: problem (was <value>)`` line per pydantic error; secrets masked."""
    aliases = _alias_by_name()
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc", ())
        message = str(item.get("msg", "invalid value"))
        if not loc:
            # Model-level (combination) errors are already formatted, one per line.
            lines.extend(message.splitlines())
            continue
        head = str(loc[0])
        variable = aliases.get(head, head)
        # Our field validators raise ValueError; pydantic prefixes their text.
        message = message.removeprefix("Value error, ")
        if variable in _SECRET_ALIASES:
            shown = SECRET_MASK
        else:
            raw = item.get("input")
            shown = repr(raw) if isinstance(raw, str) else str(raw)
        lines.append(f"{variable}: {message} (was {shown})")
    return lines


def load_settings(
    env_file: str | os.PathLike[str] | None = ".env", **overrides: Any
) -> BotSettings:
    """Read and validate the settings once, failing fast with a readable error.

    Precedence, highest first: ``overrides``, process environment, ``env_file``, defaults.

    Args:
        env_file: a dotenv file to read if it exists (a missing file is not an error);
            ``None`` reads the environment only.
        **overrides: values that win over everything else, keyed by field name
            (``dry_run``) or environment name (``DRY_RUN``). Tests and the CLI use these.

    Returns:
        The validated settings.

    Raises:
        SettingsError: a value or a combination is refused, or an override names no
            setting. Each line names the environment variable and the value seen, except
            secrets.
    """
    aliases = _alias_by_name()
    known = set(aliases.values())
    by_alias: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in overrides.items():
        if key in aliases:
            by_alias[aliases[key]] = value
        elif key.upper() in known:
            by_alias[key.upper()] = value
        else:
            unknown.append(key)
    if unknown:
        # extra="ignore" suits a shared .env file, but a mistyped override is a bug.
        raise SettingsError([f"{key}: unknown setting (was an override)" for key in unknown])
    try:
        return BotSettings(_env_file=env_file, **by_alias)
    except ValidationError as exc:
        lines = _problem_lines(exc)
        # Chained for the traceback; hide_input_in_errors keeps secrets out of its text.
        raise SettingsError(lines) from exc
