"""The four gates and the Stage 7 switch: ``DRY_RUN``, ``KILL_SWITCH``, ``LIVE_TRADING``,
``LIVE_TRADING_ACK`` and ``STAGE7_ENABLED`` (triple-gate semantics, seed README stage 3).

The combinations the original system refused (seed project report §5) are refused here:
:meth:`SafetySection.gate_problems` lists them. ``LIVE_TRADING=true`` with
``KILL_SWITCH=true`` is allowed: it is the live pilot's safe state (``.env.pilot.example``),
in which live cycles run and record but place and cancel nothing. Whether live trading also
has its credentials is a question across sections, asked by
:class:`~btcbot_pipeline.settings.BotSettings`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.settings.fields import blank_is_unset, flag

LIVE_TRADING_ACK_PHRASE = "I_UNDERSTAND"


class SafetySection(BaseModel):
    """The gates. Dry-run cycles are simulated whatever they say; a live order is possible
    only through the live job, with every gate open at the moment of the action (see
    :meth:`live_orders_possible`)."""

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
        """One ``VARIABLE: problem (was ...)`` line per refused gate combination.

        Allowed on purpose: ``LIVE_TRADING=true`` with ``KILL_SWITCH=true`` (the pilot's safe
        state: armed except the kill switch) and ``STAGE7_ENABLED=true`` with the live profile
        (the live job runs the same Stage 7 cycle)."""
        problems: list[str] = []
        if self.stage7_enabled and not self.dry_run and not self.live_trading:
            problems.append(
                "STAGE7_ENABLED: the Stage 7 cycle runs dry (DRY_RUN=true) or live (LIVE_TRADING=true), "
                "STAGE7_ENABLED=true with DRY_RUN=false requires LIVE_TRADING=true "
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
        return problems

    def gate_states(self) -> tuple[tuple[str, str, bool], ...]:
        """Each gate as ``(NAME, value as text, open)``, in the order DRY_RUN, KILL_SWITCH,
        LIVE_TRADING, LIVE_TRADING_ACK. A gate is open when its value allows a live order:
        ``DRY_RUN=false``, ``KILL_SWITCH=false``, ``LIVE_TRADING=true``,
        ``LIVE_TRADING_ACK=I_UNDERSTAND``."""
        ack = "unset" if self.live_trading_ack is None else self.live_trading_ack
        return (
            ("DRY_RUN", flag(self.dry_run), not self.dry_run),
            ("KILL_SWITCH", flag(self.kill_switch), not self.kill_switch),
            ("LIVE_TRADING", flag(self.live_trading), self.live_trading),
            ("LIVE_TRADING_ACK", ack, self.live_trading_ack == LIVE_TRADING_ACK_PHRASE),
        )

    def live_orders_possible(self) -> bool:
        """Whether these settings let the live job place or cancel a real order.

        Only the live job can (the dry-run cycle never builds a trading client), and it
        checks the gates again at the moment of each action, so this is the answer for
        settings read now: all four gates open (``DRY_RUN=false``, ``KILL_SWITCH=false``,
        ``LIVE_TRADING=true``, ``LIVE_TRADING_ACK=I_UNDERSTAND``) and both credentials set.

        Returns:
            ``True`` only then; ``False`` for every other configuration, the pilot's safe
            state (kill switch on) included.
        """
        # The credentials are another section's; BotSettings has both.
        credentials_set = getattr(self, "credentials_set", None)
        gates_open = all(is_open for _name, _value, is_open in self.gate_states())
        return gates_open and callable(credentials_set) and bool(credentials_set())
