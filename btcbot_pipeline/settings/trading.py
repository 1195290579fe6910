"""How a cycle sizes, prices, places and simulates its orders, and the risk budget it keeps.

Each group builds its domain parameters:

- portfolio policy (seed Stage 7 PR-3): ``TRY_CASH_*``, ``MAX_*``, ``MIN_ORDER_NOTIONAL_TRY``,
  ``NOTIONAL_CAP_TRY_PER_CYCLE`` → :meth:`TradingSection.policy_params`;
- execution (seed Stage 7 PR-1, PR-4): offset, slippage and fees in bps →
  :meth:`TradingSection.execution_params`;
- the simulated OMS (seed Stage 7 oms_service): ``STAGE7_FILL_MODEL``, ``STAGE7_SIM_*``,
  rate limit, retries, ``ORDER_TTL_SECONDS``, ``STAGE7_REPRICE_BPS`` →
  :meth:`TradingSection.oms_params`;
- exchange rules fallbacks (seed Stage 7 PR-4): ``STAGE7_RULES_*`` →
  :meth:`TradingSection.rules_params`;
- the risk budget: ``STAGE7_MAX_DRAWDOWN_PCT``, ``STAGE7_MAX_DAILY_LOSS_TRY``,
  ``STAGE7_RISK_COOLDOWN_SEC`` → :meth:`TradingSection.risk_limits`;
- data freshness and dry-run capital: ``STAGE7_MAX_DATA_AGE_SEC``,
  ``STAGE7_MAX_EXCLUDED_SHARE``, ``DRY_RUN_TRY_BALANCE`` (read by
  :meth:`~btcbot_pipeline.settings.BotSettings.cycle_params` and the gates).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.domain.bounds import STEP
from btcbot_pipeline.domain.params import (
    ExecutionParams,
    InvalidMetadataPolicy,
    OmsParams,
    PolicyParams,
    RulesParams,
)
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.settings.fields import decimal_text, refuse_float, storable_money


class TradingSection(BaseModel):
    """Portfolio policy, execution, the simulated OMS, rules fallbacks, freshness and risk."""

    # --- portfolio policy (seed Stage 7 PR-3) -------------------------------------------
    try_cash_target: Decimal = Field(default=Decimal("300"), ge=0, alias="TRY_CASH_TARGET")
    try_cash_max: Decimal = Field(default=Decimal("600"), ge=0, alias="TRY_CASH_MAX")
    max_position_notional_try: Decimal = Field(default=Decimal("5000"), ge=0, alias="MAX_POSITION_NOTIONAL_TRY")
    notional_cap_try_per_cycle: Decimal = Field(default=Decimal("1000"), ge=0, alias="NOTIONAL_CAP_TRY_PER_CYCLE")
    max_orders_per_cycle: int = Field(default=2, ge=0, alias="MAX_ORDERS_PER_CYCLE")
    min_order_notional_try: Decimal = Field(default=Decimal("10"), gt=0, alias="MIN_ORDER_NOTIONAL_TRY")
    # A position within this many bps of its target weight is left alone (0: trade every drift).
    stage7_rebalance_band_bps: Decimal = Field(default=Decimal("0"), ge=0, lt=10000, alias="STAGE7_REBALANCE_BAND_BPS")

    # --- execution / simulation (seed Stage 7 PR-1, PR-4) ------------------------------
    # Below 10000 bps: an offset, slippage or fee of 100 % would make prices zero or negative.
    stage7_order_offset_bps: Decimal = Field(default=Decimal("5"), ge=0, lt=10000, alias="STAGE7_ORDER_OFFSET_BPS")
    stage7_slippage_bps: Decimal = Field(default=Decimal("25"), ge=0, lt=10000, alias="STAGE7_SLIPPAGE_BPS")
    stage7_fees_bps: Decimal = Field(default=Decimal("20"), ge=0, lt=10000, alias="STAGE7_FEES_BPS")

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
    stage7_rules_require_metadata: bool = Field(default=True, alias="STAGE7_RULES_REQUIRE_METADATA")
    stage7_rules_invalid_metadata_policy: InvalidMetadataPolicy = Field(
        default=InvalidMetadataPolicy.SKIP_SYMBOL, alias="STAGE7_RULES_INVALID_METADATA_POLICY"
    )

    # --- data freshness and dry-run capital ---------------------------------------------
    stage7_max_data_age_sec: int = Field(default=60, ge=0, alias="STAGE7_MAX_DATA_AGE_SEC")
    # Largest share of candidate symbols a cycle may exclude before the market_snapshot gate
    # stops it (a systemic fault rather than a few bad symbols).
    stage7_max_excluded_share: Decimal = Field(default=Decimal("0.5"), ge=0, le=1, alias="STAGE7_MAX_EXCLUDED_SHARE")

    # --- risk budget (seed Stage 7 risk budget) -----------------------------------------
    stage7_max_drawdown_pct: Decimal = Field(default=Decimal("0.25"), gt=0, le=1, alias="STAGE7_MAX_DRAWDOWN_PCT")
    stage7_max_daily_loss_try: Decimal = Field(default=Decimal("500"), gt=0, alias="STAGE7_MAX_DAILY_LOSS_TRY")
    stage7_risk_cooldown_sec: int = Field(default=900, ge=0, alias="STAGE7_RISK_COOLDOWN_SEC")
    dry_run_try_balance: Decimal = Field(default=Decimal("1000"), gt=0, alias="DRY_RUN_TRY_BALANCE")

    @field_validator(
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
    def _trading_refuse_float(cls, value: object) -> object:
        return refuse_float(value)

    @field_validator(
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
    def _trading_storable_money(cls, value: Decimal) -> Decimal:
        return storable_money(value)

    @field_validator("stage7_rules_fallback_tick_size", "stage7_rules_fallback_lot_size", mode="after")
    @classmethod
    def _storable_step(cls, value: Decimal) -> Decimal:
        if not STEP.contains(value):
            raise ValueError(f"must be within {STEP.text()} (a grid the book can store at 18 decimals)")
        return value

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

    # Two checks, kept apart so that BotSettings lists every problem in its usual order.
    def cash_band_problems(self) -> list[str]:
        """``TRY_CASH_MAX`` below ``TRY_CASH_TARGET``, as a problem line (or none)."""
        if self.try_cash_max < self.try_cash_target:
            return [
                "TRY_CASH_MAX: must be >= TRY_CASH_TARGET "
                f"(was TRY_CASH_MAX={decimal_text(self.try_cash_max)}, "
                f"TRY_CASH_TARGET={decimal_text(self.try_cash_target)})"
            ]
        return []

    def order_size_problems(self) -> list[str]:
        """An order minimum above the cycle's notional cap, as a problem line (or none)."""
        if self.min_order_notional_try > self.notional_cap_try_per_cycle:
            return [
                "MIN_ORDER_NOTIONAL_TRY: must be <= NOTIONAL_CAP_TRY_PER_CYCLE "
                f"(was MIN_ORDER_NOTIONAL_TRY={decimal_text(self.min_order_notional_try)}, "
                f"NOTIONAL_CAP_TRY_PER_CYCLE={decimal_text(self.notional_cap_try_per_cycle)})"
            ]
        return []

    def policy_params(self) -> PolicyParams:
        """Portfolio Policy v1's cash band, position and per-cycle limits."""
        return PolicyParams(
            try_cash_target=self.try_cash_target,
            try_cash_max=self.try_cash_max,
            max_position_notional_try=self.max_position_notional_try,
            notional_cap_try_per_cycle=self.notional_cap_try_per_cycle,
            max_orders_per_cycle=self.max_orders_per_cycle,
            min_order_notional_try=self.min_order_notional_try,
            rebalance_band_bps=self.stage7_rebalance_band_bps,
        )

    def rules_params(self) -> RulesParams:
        """The exchange rules to assume when a symbol's metadata is missing or invalid."""
        return RulesParams(
            fallback_tick_size=self.stage7_rules_fallback_tick_size,
            fallback_lot_size=self.stage7_rules_fallback_lot_size,
            fallback_min_notional_try=self.stage7_rules_fallback_min_notional_try,
            safe_min_notional_try=self.stage7_rules_safe_min_notional_try,
            require_metadata=self.stage7_rules_require_metadata,
            invalid_metadata_policy=self.stage7_rules_invalid_metadata_policy,
        )

    def execution_params(self) -> ExecutionParams:
        """The limit price offset and the simulated slippage and fees, in bps."""
        return ExecutionParams(
            order_offset_bps=self.stage7_order_offset_bps,
            slippage_bps=self.stage7_slippage_bps,
            fees_bps=self.stage7_fees_bps,
        )

    def oms_params(self) -> OmsParams:
        """The simulated OMS: fill model, seeded failures, rate limit, retries, TTL, repricing."""
        return OmsParams(
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
        )

    def risk_limits(self) -> RiskLimits:
        """The risk budget: drawdown and daily loss limits and the cooldown after a breach."""
        return RiskLimits(
            max_drawdown_pct=self.stage7_max_drawdown_pct,
            max_daily_loss_try=self.stage7_max_daily_loss_try,
            cooldown_s=self.stage7_risk_cooldown_sec,
        )
