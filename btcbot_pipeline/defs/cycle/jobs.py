"""The cycle job (dry-run); its schedule and catch-up sensor are in :mod:`.sensors`.

The job's tags name its book (``btcbot/book``, :mod:`btcbot_pipeline.defs.run_tags`): the
definitions build it with :func:`build_cycle_job` from ``STATE_DB_PATH`` as they load it.
The book is in the job's ``tags``, not only its ``run_tags``: ``dagster job launch`` and
``dagster job backfill`` tag their runs with the job's ``tags`` alone (Dagster 1.13), and a
run without the book would escape the instance's one-run-per-book limit.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.defs.run_tags import book_tags

CYCLE_ASSETS = dg.AssetSelection.groups("cycle")
CYCLE_TAGS = {"btcbot/mode": "dry_run"}  # also every run's tags: the schedule and sensor find runs by them


def build_cycle_job(book: str | Path | None) -> dg.UnresolvedAssetJobDefinition:
    """``cycle_job`` whose runs carry ``btcbot/mode=dry_run`` and, given a ``book``, its
    ``btcbot/book`` tag."""
    return dg.define_asset_job(
        "cycle_job",
        selection=CYCLE_ASSETS,
        executor_def=dg.in_process_executor,
        description="One dry-run cycle: snapshot → universe → plan → intents → fills → ledger → trace. "
        "Each run carries the ledger of the cycle before it; a gate failure stops it without a retry.",
        tags={**CYCLE_TAGS, **(book_tags(book) if book is not None else {})},
        owners=OWNERS,
    )


# Without a book: for code and tests that need the job's shape only (the sensors' unit
# tests). Definitions that launch runs use build_cycle_job(settings.state_db_path).
cycle_job = build_cycle_job(None)
