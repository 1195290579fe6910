"""The four gates and the Stage 7 switch: ``DRY_RUN``, ``KILL_SWITCH``, ``LIVE_TRADING``,
``LIVE_TRADING_ACK`` and ``STAGE7_ENABLED`` (triple-gate semantics, seed README stage 3).

The combinations the original system refused (seed project report §5) are refused here:
:meth:`SafetySection.gate_problems` lists them. Whether live trading also has its
credentials is a question across sections, asked by
:class:`~btcbot_pipeline.settings.BotSettings`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.settings.fields import blank_is_unset, flag

LIVE_TRADING_ACK_PHRASE = "I_UNDERSTAND"


class SafetySection(BaseModel):
    """The gates. Every cycle of this pipeline is simulated whatever they say (see
    :meth:`live_orders_possible`); they are validated so that a configuration means what it
    meant to the original system."""

    dry_run: bool = Field(default=True, alias="DRY_RUN")
    kill_switch: bool = Field(default=True, alias="KILL_SWITCH")
    live_trading: bool = Field(default=False, alias="LIVE_TRADING")
    live_trading_ack: str | None = Field(default=None, alias="LIVE_TRADING_ACK")
    stage7_enabled: bool = Field(default=False, alias="STAGE7_ENABLED")

    @field_validator("live_trading_ack", mode="before")
    @classmethod
    def _ack_blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    def gate_problems(self) -> list[str]:
        """One ``VARIABLE: problem (was ...)`` line per refused gate combination."""
        problems: list[str] = []
        if self.stage7_enabled and (not self.dry_run or self.live_trading):
            problems.append(
                "STAGE7_ENABLED: Stage 7 is dry-run only, STAGE7_ENABLED=true requires "
                "DRY_RUN=true and LIVE_TRADING=false "
                f"(was DRY_RUN={flag(self.dry_run)}, LIVE_TRADING={flag(self.live_trading)})"
            )
        if self.live_trading:
            if self.dry_run:
                problems.append(
                    "LIVE_TRADING: LIVE_TRADING=true cannot be combined with DRY_RUN=true (was DRY_RUN=true)"
                )
            if self.live_trading_ack != LIVE_TRADING_ACK_PHRASE:
                seen = "unset" if self.live_trading_ack is None else repr(self.live_trading_ack)
                problems.append(
                    "LIVE_TRADING_ACK: LIVE_TRADING=true requires "
                    f"LIVE_TRADING_ACK={LIVE_TRADING_ACK_PHRASE} (was {seen})"
                )
            if self.kill_switch:
                problems.append("KILL_SWITCH: LIVE_TRADING=true requires KILL_SWITCH=false (was KILL_SWITCH=true)")
        return problems

    def live_orders_possible(self) -> bool:
        """Whether a cycle of this pipeline can place a real order: never.

        The gates are validated so that a configuration means what the original system
        meant, but this pipeline's cycle path has no exchange-writing code at all: its
        adapters only read public market data, and every fill is simulated into the local
        book. So even a fully armed configuration (``DRY_RUN=false``, ``KILL_SWITCH=false``,
        ``LIVE_TRADING=true``, ``LIVE_TRADING_ACK=I_UNDERSTAND``, credentials set) cannot
        submit or cancel anything. Callers may log this value next to the gates to make that
        explicit.

        Returns:
            Always ``False``.
        """
        return False
