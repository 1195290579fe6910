""":class:`BotSettings`: every section in one ``BaseSettings``, validated as a whole.

The sections declare their fields, field rules and domain parameters; this class adds what
spans sections: how the environment and ``.env`` are read (``model_config``), the checks
that combine sections, :meth:`BotSettings.cycle_params` and :meth:`BotSettings.safe_summary`.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from btcbot_pipeline.domain.params import CycleParams, OmsParams
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.settings.adaptation import AdaptationSection
from btcbot_pipeline.settings.alerts import AlertSection
from btcbot_pipeline.settings.data import DataSection
from btcbot_pipeline.settings.exchange import ExchangeSection
from btcbot_pipeline.settings.fields import summary_text
from btcbot_pipeline.settings.live import LiveSection
from btcbot_pipeline.settings.risk import RiskSection
from btcbot_pipeline.settings.safety import SafetySection
from btcbot_pipeline.settings.schedule import ScheduleSection
from btcbot_pipeline.settings.trading import TradingSection
from btcbot_pipeline.settings.universe import UniverseSection


# pydantic collects fields from the last base first, so the sections are listed backwards:
# the fields (and safe_summary) run DRY_RUN … CATCHUP_MAX_RUNS_PER_TICK as they always did
# (the risk section's after the trading section's, whose risk budget it extends), then the
# live section's.
class BotSettings(
    AdaptationSection,
    LiveSection,
    ScheduleSection,
    DataSection,
    AlertSection,
    RiskSection,
    TradingSection,
    UniverseSection,
    ExchangeSection,
    SafetySection,
    BaseSettings,
):
    """Every setting of the pipeline, named exactly as the seeds' environment variables.

    Instances are validated as a whole: field bounds first, then the gate and policy
    combinations. Build one with :func:`~btcbot_pipeline.settings.load_settings` rather than
    directly, so that problems arrive as a readable
    :class:`~btcbot_pipeline.settings.SettingsError`.
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

    # --- combinations (seed project report §5) ------------------------------------------

    @model_validator(mode="after")
    def _combinations(self) -> BotSettings:
        problems = self._combination_problems()
        if problems:
            # A custom error keeps the lines as written (no "Value error, " prefix).
            raise PydanticCustomError("settings_combination", "{problems}", {"problems": "\n".join(problems)})
        return self

    def _combination_problems(self) -> list[str]:
        return [
            *self.gate_problems(),
            *self._credential_problems(),
            *self.cash_band_problems(),
            *self.span_problems(),
            *self.order_size_problems(),
        ]

    def _credential_problems(self) -> list[str]:
        if not self.live_trading or self.credentials_set():
            return []
        # Say only whether each is set: the values are secrets.
        return [
            "BTCTURK_API_KEY, BTCTURK_API_SECRET: LIVE_TRADING=true requires both "
            "credentials (was BTCTURK_API_KEY="
            f"{'set' if self.btcturk_api_key is not None else 'unset'}, "
            "BTCTURK_API_SECRET="
            f"{'set' if self.btcturk_api_secret is not None else 'unset'})"
        ]

    # --- public API ---------------------------------------------------------------------

    def oms_params(self) -> OmsParams:
        """The OMS: the trading section's, with the live section's caps on open orders
        (``MAX_OPEN_ORDERS``, ``MAX_OPEN_ORDERS_PER_SYMBOL``; they bound both venues)."""
        return replace(
            TradingSection.oms_params(self),
            max_open_orders=self.max_open_orders,
            max_open_orders_per_symbol=self.max_open_orders_per_symbol,
        )

    def risk_limits(self) -> RiskLimits:
        """The risk budget: the trading section's drawdown, daily loss and cooldown, with the
        risk section's later limits, their modes and the Stage 3/4 knobs."""
        return self.risk_limits_from(TradingSection.risk_limits(self))

    def cycle_params(self) -> CycleParams:
        """The domain's parameters for one cycle, built from these settings.

        ``base_mode`` keeps its default: it comes from the persisted risk mode, not from
        settings.

        Returns:
            A frozen :class:`~btcbot_pipeline.domain.params.CycleParams`.
        """
        return CycleParams(
            universe=self.universe_params(),
            policy=self.policy_params(),
            rules=self.rules_params(),
            execution=self.execution_params(),
            oms=self.oms_params(),
            start_capital_try=self.dry_run_try_balance,
            max_data_age_s=self.stage7_max_data_age_sec,
            kill_switch=self.kill_switch,
            risk=self.risk_limits(),
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
            summary[alias] = summary_text(getattr(self, name))
        return summary
