"""Parameter adaptation (issue 18; the seeds' Stage 7 adaptation): ``ADAPTATION_*``.

Off by default (``ADAPTATION_ENABLED=false``: today's results exactly); on, every
``ADAPTATION_INTERVAL_CYCLES`` the cycle's adaptable parameters (universe size, order
offset, per-cycle notional cap, rebalance band) move within the bounds of
:class:`~btcbot_pipeline.domain.adaptation.AdaptationParams`, with versions, checkpoints
and a rollback when a guard rail is breached. A backtest turns it on with
``--set ADAPTATION_ENABLED=true``. :meth:`AdaptationSection.adaptation_params` builds the
domain's parameters.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.domain.adaptation import AdaptationParams
from btcbot_pipeline.settings.fields import refuse_float


class AdaptationSection(BaseModel):
    """Whether parameters adapt, how often, over what window, and the guard rails."""

    adaptation_enabled: bool = Field(default=False, alias="ADAPTATION_ENABLED")
    adaptation_interval_cycles: int = Field(default=48, ge=1, le=100_000, alias="ADAPTATION_INTERVAL_CYCLES")
    adaptation_lookback_cycles: int = Field(default=48, ge=1, le=100_000, alias="ADAPTATION_LOOKBACK_CYCLES")
    adaptation_checkpoint_after_cycles: int = Field(
        default=48, ge=1, le=100_000, alias="ADAPTATION_CHECKPOINT_AFTER_CYCLES"
    )
    # Drawdown since the checkpoint (a fraction) / fee burn of the window (bps of equity)
    # at which a new version is rolled back to the checkpoint.
    adaptation_guard_max_drawdown_pct: Decimal = Field(
        default=Decimal("0.05"), gt=0, le=1, alias="ADAPTATION_GUARD_MAX_DRAWDOWN_PCT"
    )
    adaptation_guard_max_fee_burn_bps: Decimal = Field(
        default=Decimal("50"), gt=0, alias="ADAPTATION_GUARD_MAX_FEE_BURN_BPS"
    )

    @field_validator("adaptation_guard_max_drawdown_pct", "adaptation_guard_max_fee_burn_bps", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        return refuse_float(value)

    def adaptation_params(self) -> AdaptationParams:
        """The domain's adaptation parameters (bounds and rule thresholds at their documented defaults)."""
        return AdaptationParams(
            enabled=self.adaptation_enabled,
            interval_cycles=self.adaptation_interval_cycles,
            lookback_cycles=self.adaptation_lookback_cycles,
            checkpoint_after_cycles=self.adaptation_checkpoint_after_cycles,
            guard_max_drawdown_pct=self.adaptation_guard_max_drawdown_pct,
            guard_max_fee_burn_bps=self.adaptation_guard_max_fee_burn_bps,
        )
