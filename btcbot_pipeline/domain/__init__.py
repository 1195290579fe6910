"""Pure, typed, Decimal logic of the seven cycle stages.

Nothing in this package imports Dagster, DuckDB, httpx, Great Expectations or reads the
environment; ``btcbot_pipeline_tests/domain/test_purity.py`` fails if it does.

Modules, in cycle order: ``market`` (snapshot types) → ``universe`` → ``plan`` →
``intents`` → ``fills`` → ``ledger`` → ``trace``; ``cycle`` folds them over a window of
cycles. ``money``, ``modes``, ``rules`` and ``params`` are shared helpers.
"""
