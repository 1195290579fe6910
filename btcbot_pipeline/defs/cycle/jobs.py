"""The cycle job (dry-run); its schedule and catch-up sensor are in :mod:`.sensors`."""

from __future__ import annotations

import dagster as dg

CYCLE_ASSETS = dg.AssetSelection.groups("cycle")

cycle_job = dg.define_asset_job(
    "cycle_job",
    selection=CYCLE_ASSETS,
    executor_def=dg.in_process_executor,
    description="One dry-run cycle: snapshot → universe → plan → intents → fills → ledger → trace.",
    tags={"btcbot/mode": "dry_run"},
)
