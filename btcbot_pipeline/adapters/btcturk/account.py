"""Account balances for the book's opening state: private ``users/balances``, read-only.

:class:`AccountOpening` is the BTCTurk venue's :data:`~btcbot_pipeline.domain.account.OpeningBalances`,
what the engine calls when the book has no ledger yet (the ``btcturk`` market-data
resource hands it over). It builds only a :class:`BtcturkReadClient` (no write methods
exist on it), never raises, and says why it fell back to ``DRY_RUN_TRY_BALANCE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pydantic import SecretStr

from btcbot_pipeline.adapters.btcturk.client import BtcturkReadClient, ClientConfig
from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
from btcbot_pipeline.adapters.btcturk.signing import Credentials, CredentialsError
from btcbot_pipeline.domain.account import (
    MISSING_PRIVATE_DATA,
    Opening,
    opening_from_balances,
    opening_from_dry_run,
)
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.settings import BotSettings


def fetch_balances(credentials: Credentials, config: ClientConfig) -> dict[str, Decimal]:
    """Total balance by asset (upper case) from ``/api/v1/users/balances``."""
    with BtcturkReadClient(credentials, config) as client:
        rows = client.balances()
    return {b.asset.upper(): b.balance for b in rows if b.balance is not None}


def opening_for_book(
    *,
    snapshot: MarketSnapshot,
    api_key: SecretStr | None,
    api_secret: SecretStr | None,
    config: ClientConfig,
    start_capital_try: Decimal,
    quote_ccy: str = "TRY",
) -> Opening:
    """Balances from the exchange when the snapshot is live and credentials are set;
    otherwise ``DRY_RUN_TRY_BALANCE`` with the reason."""
    if snapshot.source != "btcturk":
        return opening_from_dry_run(start_capital_try, None)
    if api_key is None or api_secret is None:
        return opening_from_dry_run(start_capital_try, MISSING_PRIVATE_DATA)
    try:
        balances = fetch_balances(Credentials(api_key, api_secret), config)
    except (BtcturkError, CredentialsError) as exc:
        return opening_from_dry_run(start_capital_try, f"private_data_unavailable:{type(exc).__name__}")
    return opening_from_balances(balances, snapshot.marks(), quote_ccy=quote_ccy)


def client_config(settings: BotSettings) -> ClientConfig:
    """The client's URLs, timeout, deadline and body cap from ``settings``."""
    return ClientConfig(
        base_url=settings.btcturk_base_url,
        graph_base_url=settings.btcturk_graph_base_url,
        timeout_s=settings.btcturk_timeout_sec,
        call_deadline_s=settings.btcturk_call_deadline_sec,
        max_body_bytes=settings.btcturk_max_body_bytes,
    )


def opening_for_settings(settings: BotSettings, snapshot: MarketSnapshot) -> Opening:
    """:func:`opening_for_book` with credentials, URLs and capital from ``settings``."""
    return opening_for_book(
        snapshot=snapshot,
        api_key=settings.btcturk_api_key,
        api_secret=settings.btcturk_api_secret,
        config=client_config(settings),
        start_capital_try=settings.dry_run_try_balance,
        quote_ccy=settings.stage7_universe_quote_ccy,
    )


@dataclass(frozen=True)
class AccountOpening:
    """:data:`~btcbot_pipeline.domain.account.OpeningBalances` from the BTCTurk account
    (:func:`opening_for_settings`)."""

    settings: BotSettings

    def __call__(self, snapshot: MarketSnapshot) -> Opening:
        return opening_for_settings(self.settings, snapshot)
