"""Alerts (``btcbot_pipeline.alerting``): the webhook and the thresholds, ``ALERT_*``.

Thresholds and their defaults: ``ALERT_DRAWDOWN_PCT`` 0.05 (a fraction of the peak),
``ALERT_DAILY_LOSS_TRY`` 250 (TRY since the start of the UTC day), ``ALERT_REJECT_SPIKE``
3 (exchange rejects in one cycle). The other rules need no threshold.

:meth:`AlertSection.alert_thresholds` builds the domain's
:class:`~btcbot_pipeline.domain.alerts.AlertThresholds`. The webhook URL is a secret: a
webhook URL often carries its token.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from btcbot_pipeline.domain.alerts import AlertThresholds
from btcbot_pipeline.settings.fields import blank_is_unset, refuse_float

SECRET_NAMES = frozenset({"ALERT_WEBHOOK_URL"})


class AlertSection(BaseModel):
    """Where alerts are posted, how each POST is bounded, and when a loss or a run of
    rejects is an alert."""

    # Unset: alerts are only recorded.
    alert_webhook_url: SecretStr | None = Field(default=None, alias="ALERT_WEBHOOK_URL")
    # Alert thresholds, set below the risk budget's limits to hear of a loss before it trips
    # them: a drawdown from the peak (a fraction, like STAGE7_MAX_DRAWDOWN_PCT) and a loss
    # since the start of the UTC day in TRY.
    alert_drawdown_pct: Decimal = Field(default=Decimal("0.05"), gt=0, le=1, alias="ALERT_DRAWDOWN_PCT")
    alert_daily_loss_try: Decimal = Field(
        default=Decimal("250"), gt=0, le=Decimal("1e15"), alias="ALERT_DAILY_LOSS_TRY"
    )
    # Orders the exchange rejects in one cycle (not the bot's own refusals: caps, closed
    # gates) that raise a reject_spike alert.
    alert_reject_spike: int = Field(default=3, ge=1, le=10_000, alias="ALERT_REJECT_SPIKE")
    alert_webhook_timeout_sec: float = Field(default=3.0, gt=0, le=60, alias="ALERT_WEBHOOK_TIMEOUT_SEC")
    # One POST ends at this deadline (connect to the response's last byte), whatever the
    # receiver's pace; its response is read up to this size (a receiver answers "ok").
    alert_webhook_deadline_sec: float = Field(default=10.0, gt=0, le=120, alias="ALERT_WEBHOOK_DEADLINE_SEC")
    alert_webhook_max_body_bytes: int = Field(
        default=65_536, ge=1024, le=16 * 1024 * 1024, alias="ALERT_WEBHOOK_MAX_BODY_BYTES"
    )
    # POSTs per alert and cycle at most (a failed alert is tried again at the next cycle).
    alert_webhook_attempts: int = Field(default=2, ge=1, le=10, alias="ALERT_WEBHOOK_ATTEMPTS")

    @field_validator("alert_webhook_url", mode="before")
    @classmethod
    def _webhook_blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("alert_drawdown_pct", "alert_daily_loss_try", mode="before")
    @classmethod
    def _alert_threshold(cls, value: object) -> object:
        return refuse_float(value)

    @field_validator("alert_webhook_url", mode="after")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://hooks.example.com/T0/B0/XXXX")
        return SecretStr(value.get_secret_value().strip())

    def alert_thresholds(self) -> AlertThresholds:
        """The drawdown, daily loss and exchange rejects per cycle at which the alert rules fire."""
        return AlertThresholds(self.alert_drawdown_pct, self.alert_daily_loss_try, self.alert_reject_spike)
