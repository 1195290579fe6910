"""The risk budget's later limits and the original's Stage 3/4 order knobs (issue 18).

``STAGE7_MAX_DRAWDOWN_PCT``, ``STAGE7_MAX_DAILY_LOSS_TRY`` and ``STAGE7_RISK_COOLDOWN_SEC``
stay in the trading section; this one adds (every one but the drawdown mode at a default
that changes nothing):

- ``STAGE7_DRAWDOWN_MODE``: the mode a drawdown breach trips (``REDUCE_RISK_ONLY``, the
  default: a losing book can still exit, as the original risk service let it;
  ``OBSERVE_ONLY``: nothing is ordered, the behaviour before issue 18);
- a limit per further input, unset (off) by default, each with the mode it trips
  (``REDUCE_RISK_ONLY`` by default): ``STAGE7_MAX_STALE_SHARE``, ``STAGE7_MAX_FEE_BURN_BPS``
  over ``STAGE7_FEE_BURN_WINDOW_CYCLES``, ``STAGE7_MAX_EQUITY_VOL_BPS`` over
  ``STAGE7_EQUITY_VOL_WINDOW_CYCLES``, ``STAGE7_MAX_LOSING_CYCLES``;
- the original system's ``COOLDOWN_SECONDS`` (0: off), ``MIN_PROFIT_BPS`` (unset: off) and
  ``ENABLE_AUTO_KILL_SWITCH`` (false).

:meth:`RiskSection.risk_limits_from` adds them to the trading section's
:class:`~btcbot_pipeline.domain.risk.RiskLimits`; what each does is said in
:mod:`~btcbot_pipeline.domain.risk` and :mod:`~btcbot_pipeline.domain.knobs`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.settings.fields import blank_is_unset, refuse_float

RiskMode = Literal["REDUCE_RISK_ONLY", "OBSERVE_ONLY"]
_REDUCE: RiskMode = "REDUCE_RISK_ONLY"
_MODES = (
    "stage7_drawdown_mode",
    "stage7_stale_share_mode",
    "stage7_fee_burn_mode",
    "stage7_equity_vol_mode",
    "stage7_losing_cycles_mode",
)
_WINDOW = {"ge": 1, "le": 10_000}  # cycles (10 000 five-minute cycles: five weeks)


class RiskSection(BaseModel):
    """The drawdown's mode, four more risk inputs with their modes, the Stage 3/4 knobs."""

    stage7_drawdown_mode: RiskMode = Field(default="REDUCE_RISK_ONLY", alias="STAGE7_DRAWDOWN_MODE")
    # Share (0..1] of the cycle's candidate symbols excluded as stale that trips the limit.
    stage7_max_stale_share: Decimal | None = Field(default=None, gt=0, le=1, alias="STAGE7_MAX_STALE_SHARE")
    stage7_stale_share_mode: RiskMode = Field(default=_REDUCE, alias="STAGE7_STALE_SHARE_MODE")
    # Fees paid over the last N cycles, in bps of equity.
    stage7_max_fee_burn_bps: Decimal | None = Field(default=None, gt=0, le=10000, alias="STAGE7_MAX_FEE_BURN_BPS")
    stage7_fee_burn_window_cycles: int = Field(default=288, **_WINDOW, alias="STAGE7_FEE_BURN_WINDOW_CYCLES")
    stage7_fee_burn_mode: RiskMode = Field(default=_REDUCE, alias="STAGE7_FEE_BURN_MODE")
    # Standard deviation of the per-cycle equity returns over the last N cycles, in bps.
    stage7_max_equity_vol_bps: Decimal | None = Field(default=None, gt=0, le=10000, alias="STAGE7_MAX_EQUITY_VOL_BPS")
    stage7_equity_vol_window_cycles: int = Field(default=48, ge=2, le=10_000, alias="STAGE7_EQUITY_VOL_WINDOW_CYCLES")
    stage7_equity_vol_mode: RiskMode = Field(default=_REDUCE, alias="STAGE7_EQUITY_VOL_MODE")
    # Cycles in a row whose closing equity fell.
    stage7_max_losing_cycles: int | None = Field(default=None, **_WINDOW, alias="STAGE7_MAX_LOSING_CYCLES")
    stage7_losing_cycles_mode: RiskMode = Field(default=_REDUCE, alias="STAGE7_LOSING_CYCLES_MODE")
    # The original system's Stage 3/4 knobs.
    cooldown_seconds: int = Field(default=0, ge=0, le=7 * 86_400, alias="COOLDOWN_SECONDS")
    min_profit_bps: Decimal | None = Field(default=None, ge=0, lt=10000, alias="MIN_PROFIT_BPS")
    enable_auto_kill_switch: bool = Field(default=False, alias="ENABLE_AUTO_KILL_SWITCH")

    @field_validator(
        "stage7_max_stale_share",
        "stage7_max_fee_burn_bps",
        "stage7_max_equity_vol_bps",
        "stage7_max_losing_cycles",
        "min_profit_bps",
        mode="before",
    )
    @classmethod
    def _risk_optional(cls, value: object) -> object:
        return refuse_float(blank_is_unset(value))

    @field_validator(*_MODES, mode="before")
    @classmethod
    def _risk_mode(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    def risk_limits_from(self, base: RiskLimits) -> RiskLimits:
        """``base`` (the trading section's drawdown, daily loss and cooldown) with this
        section's limits, modes and knobs."""
        return replace(
            base,
            drawdown_mode=Mode(self.stage7_drawdown_mode),
            max_stale_share=self.stage7_max_stale_share,
            stale_share_mode=Mode(self.stage7_stale_share_mode),
            max_fee_burn_bps=self.stage7_max_fee_burn_bps,
            fee_burn_window=self.stage7_fee_burn_window_cycles,
            fee_burn_mode=Mode(self.stage7_fee_burn_mode),
            max_equity_vol_bps=self.stage7_max_equity_vol_bps,
            equity_vol_window=self.stage7_equity_vol_window_cycles,
            equity_vol_mode=Mode(self.stage7_equity_vol_mode),
            max_losing_cycles=self.stage7_max_losing_cycles,
            losing_cycles_mode=Mode(self.stage7_losing_cycles_mode),
            order_cooldown_s=self.cooldown_seconds,
            min_profit_bps=self.min_profit_bps,
            auto_kill_switch=self.enable_auto_kill_switch,
        )
