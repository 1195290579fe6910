"""Live execution (the seeds' Stage 4): caps on resting orders, the canary cap, fill
polling, the live book and the log level.

``MAX_OPEN_ORDERS`` / ``MAX_OPEN_ORDERS_PER_SYMBOL`` bound the orders resting at once in
both venues (the simulation's limit model and BTCTurk); unset, the simulation keeps no
cap (so books recorded before the caps existed replay the same) and the live job refuses
to start (``btcbot preflight`` names them). ``LIVE_CANARY_NOTIONAL_TRY`` bounds the TRY
notional one live cycle may submit. ``FILLS_POLL_LOOKBACK_MINUTES`` is how far behind its
per-symbol cursor a live cycle reads user trades again (late trades are found, known ones
skipped by id). ``LIVE_STATE_DB_PATH`` is the live book, never the dry-run or a backtest's.
``LOG_LEVEL`` sets the ``btcbot`` loggers' level (Dagster's own run log is configured in
``dagster.yaml``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.settings.fields import blank_is_unset

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LiveSection(BaseModel):
    """Caps, the canary cap, fill polling, the live book, the log level."""

    max_open_orders: int | None = Field(default=None, ge=0, le=10_000, alias="MAX_OPEN_ORDERS")
    max_open_orders_per_symbol: int | None = Field(default=None, ge=0, le=1_000, alias="MAX_OPEN_ORDERS_PER_SYMBOL")
    live_canary_notional_try: Decimal | None = Field(default=None, gt=0, alias="LIVE_CANARY_NOTIONAL_TRY")
    fills_poll_lookback_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, alias="FILLS_POLL_LOOKBACK_MINUTES")
    live_state_db_path: str = Field(default="data/btcbot_live.duckdb", alias="LIVE_STATE_DB_PATH")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(default="INFO", alias="LOG_LEVEL")

    @field_validator("max_open_orders", "max_open_orders_per_symbol", "live_canary_notional_try", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value
