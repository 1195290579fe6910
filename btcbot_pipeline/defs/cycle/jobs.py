"""The cycle job (dry-run); its schedule and catch-up sensor are in :mod:`.sensors`."""

from __future__ import annotations

import dagster as dg

from btcbot_pipeline.defs.cycle.owners import OWNERS

CYCLE_ASSETS = dg.AssetSelection.groups("cycle")

cycle_job = dg.define_asset_job(
    "cycle_job",
    selection=CYCLE_ASSETS,
    executor_def=dg.in_process_executor,
    description="One dry-run cycle: snapshot → universe → plan → intents → fills → ledger → trace. "
    "Each run carries the ledger of the cycle before it; a gate failure stops it without a retry.",
    tags={"btcbot/mode": "dry_run"},  # also every run's tags: the schedule and sensor find runs by them
    owners=OWNERS,
)
