"""BTCTurk: credentials, where market data comes from, and the bounds of every call.

``BTCTURK_TIMEOUT_SEC`` bounds each read, not a call: a server sending a byte a second never
trips it. A call (connect to the last byte) ends at ``BTCTURK_CALL_DEADLINE_SEC``, one
cycle's reads of the live source at ``BTCTURK_CYCLE_DEADLINE_SEC`` (keep it below
``CYCLE_CRON``'s interval), and a body over ``BTCTURK_MAX_BODY_BYTES`` (far above
exchangeinfo, the largest reply) is refused without being read whole or parsed.
:meth:`ExchangeSection.client_config` turns them into the client's
:class:`~btcbot_pipeline.adapters.btcturk.client.ClientConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from btcbot_pipeline.settings.fields import blank_is_unset

if TYPE_CHECKING:
    from btcbot_pipeline.adapters.btcturk.client import ClientConfig

# Never shown in an error line, whatever the value (ALERT_WEBHOOK_URL is the third secret).
SECRET_NAMES = frozenset({"BTCTURK_API_KEY", "BTCTURK_API_SECRET"})


class ExchangeSection(BaseModel):
    """The exchange's credentials (secrets), base URLs, market data source and call bounds."""

    btcturk_api_key: SecretStr | None = Field(default=None, alias="BTCTURK_API_KEY")
    btcturk_api_secret: SecretStr | None = Field(default=None, alias="BTCTURK_API_SECRET")
    btcturk_base_url: str = Field(default="https://api.btcturk.com", alias="BTCTURK_BASE_URL")
    btcturk_graph_base_url: str = Field(default="https://graph-api.btcturk.com", alias="BTCTURK_GRAPH_BASE_URL")
    # Where market_snapshot reads: "replay" (REPLAY_DATASET_PATH) or "btcturk" (live public API).
    market_data_source: Literal["replay", "btcturk"] = Field(default="replay", alias="MARKET_DATA_SOURCE")
    btcturk_timeout_sec: float = Field(default=10.0, gt=0, le=120, alias="BTCTURK_TIMEOUT_SEC")
    btcturk_call_deadline_sec: float = Field(default=20.0, gt=0, le=600, alias="BTCTURK_CALL_DEADLINE_SEC")
    btcturk_cycle_deadline_sec: float = Field(default=120.0, gt=0, le=3600, alias="BTCTURK_CYCLE_DEADLINE_SEC")
    btcturk_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=65_536, le=256 * 1024 * 1024, alias="BTCTURK_MAX_BODY_BYTES"
    )
    # Live source without a universe whitelist: the largest quote-currency pairs by volume.
    btcturk_max_symbols: int = Field(default=30, ge=1, le=200, alias="BTCTURK_MAX_SYMBOLS")

    @field_validator("btcturk_api_key", "btcturk_api_secret", mode="before")
    @classmethod
    def _credential_blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("btcturk_base_url", "btcturk_graph_base_url", mode="after")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://api.btcturk.com")
        return value.strip().rstrip("/")

    def credentials_set(self) -> bool:
        """Whether both ``BTCTURK_API_KEY`` and ``BTCTURK_API_SECRET`` are set."""
        return self.btcturk_api_key is not None and self.btcturk_api_secret is not None

    def client_config(self) -> ClientConfig:
        """The BTCTurk client's base URLs, read timeout, call deadline and body cap.

        Retry and breaker keep the client's defaults: no setting names them.
        """
        # Imported here: the client module brings httpx, which settings alone do not need.
        from btcbot_pipeline.adapters.btcturk.client import ClientConfig

        return ClientConfig(
            base_url=self.btcturk_base_url,
            graph_base_url=self.btcturk_graph_base_url,
            timeout_s=self.btcturk_timeout_sec,
            call_deadline_s=self.btcturk_call_deadline_sec,
            max_body_bytes=self.btcturk_max_body_bytes,
        )
