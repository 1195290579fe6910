"""A catch-up sensor: one dry-run cycle run per closed cycle since its cursor.

The schedule runs the cycle that just closed; if the daemon was down, the schedule does
not go back. This sensor does: each tick it requests every closed cycle after its cursor
(at most ``MAX_PER_TICK``, oldest first, so the self-dependent ledger sees them in order;
``max_concurrent_runs: 1`` in dagster.yaml runs them one at a time). Run keys make a
re-request of the same cycle a no-op. Use either the schedule or this sensor, not both.
"""

from __future__ import annotations

import dagster as dg

MAX_PER_TICK = 12


def build_catchup_sensor(job: dg.UnresolvedAssetJobDefinition, partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="cycle_catchup_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a dry-run cycle for every closed cycle since the cursor, oldest first.",
    )
    def cycle_catchup_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        last = partitions_def.get_last_partition_key()
        if last is None or last == context.cursor:
            return dg.SkipReason("no new closed cycle")
        if context.cursor is None:
            keys = [last]
        else:
            # Range APIs only: enumerating every key of a large partition set is O(n).
            keys = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(context.cursor, last))[1:]
        batch = keys[:MAX_PER_TICK]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"cycle-{key}", partition_key=key, tags={"btcbot/mode": "dry_run"}) for key in batch],
            cursor=batch[-1],
        )

    return cycle_catchup_sensor
