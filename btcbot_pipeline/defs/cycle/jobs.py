"""The cycle job and the schedule that runs it every closed cycle (dry-run)."""

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


def cycle_schedule(job: dg.UnresolvedAssetJobDefinition = cycle_job) -> dg.ScheduleDefinition:
    """At each cron tick, run the cycle that just closed. Stopped until a user starts it
    (``dagster schedule start cycle_job_schedule`` or the UI toggle): a schedule that
    trades on its own should be switched on deliberately."""
    return dg.build_schedule_from_partitioned_job(job, default_status=dg.DefaultScheduleStatus.STOPPED)
