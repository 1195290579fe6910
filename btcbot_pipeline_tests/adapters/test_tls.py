"""Every outbound client shares one TLS context, with verification on."""

from __future__ import annotations

import ssl

from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient
from btcbot_pipeline.adapters.tls import shared_tls
from btcbot_pipeline.adapters.webhook import WebhookPoster


def test_clients_share_one_verifying_tls_context() -> None:
    context = shared_tls()
    assert context is shared_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with BtcturkPublicClient() as exchange, WebhookPoster("https://hooks.invalid/x") as hook:
        pools = [exchange._http.client._transport._pool, hook._client._transport._pool]  # noqa: SLF001 - the wiring itself
    assert all(pool._ssl_context is context for pool in pools)
