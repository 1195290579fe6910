"""BTCTurk adapter: errors → client → schemas → parse into domain objects.

Modules:

- ``errors``: the error tree and ``should_retry``.
- ``signing``: ``X-PCK`` / ``X-Stamp`` / ``X-Signature`` and :class:`Credentials`.
- ``schemas``: pydantic models of the responses (Decimal numbers, case-insensitive keys).
- ``limits``: rate limiter, circuit breaker, retry policy.
- ``client``: :class:`BtcturkPublicClient`, :class:`BtcturkReadClient` (the pipeline's
  richest type) and :class:`BtcturkTradingClient` (armed explicitly, never by the pipeline).
- ``market``: live :class:`~btcbot_pipeline.domain.market.MarketSnapshot` building.
- ``capture``: ``replay-capture``, live API → replay dataset.
- ``fake``: a fake BTCTurk server on 127.0.0.1 for tests and demos.
"""
