"""Pure, typed, Decimal logic of the seven cycle stages.

Nothing in this package imports Dagster, DuckDB, httpx, Great Expectations or reads the
environment; ``btcbot_pipeline_tests/domain/test_purity.py`` fails if it does.

Modules, in cycle order: ``market`` (snapshot types) → ``universe`` → ``plan`` →
``intents`` → ``fills`` / ``oms`` (the simulated order management system, a package) →
``ledger`` → ``trace``; ``cycle`` folds them over a window of cycles, ``risk`` carries the
risk budget between cycles and ``alerts`` reads committed cycles. Shared below them:
``vocabulary`` (sides, risk modes, pair names), ``money`` (Decimal helpers), ``bounds``
(the range of every number), ``exchange_rules`` (the exchange's per-pair tick, lot and
minimum notional as the intents use them), ``params`` (every stage's parameters),
``payloads`` (JSON views) and ``utc`` (every UTC time text the project writes or reads).

Imports point one way: ``vocabulary``, ``money``, ``bounds`` and ``utc`` import no other
domain module, ``params`` only those, and no import circle exists even through imports inside
functions or under ``TYPE_CHECKING``
(``btcbot_pipeline_tests/domain/test_import_graph.py``).
"""
