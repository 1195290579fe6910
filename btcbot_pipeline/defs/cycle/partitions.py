"""One partition per trading cycle: a UTC time window keyed by its start."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

CYCLE_KEY_FORMAT = "%Y-%m-%dT%H:%M"


def cycle_partitions(cron: str, start: str, end: str | None = None) -> dg.TimeWindowPartitionsDefinition:
    """Cycles on ``cron`` (``CYCLE_CRON``) from ``start`` (``CYCLE_PARTITIONS_START``), UTC.

    UTC because a local timezone's DST fall-back hour produces odd keys for sub-hourly
    crons; the key format has minutes because cycles are minutes apart.
    """
    return dg.TimeWindowPartitionsDefinition(cron_schedule=cron, start=start, end=end, fmt=CYCLE_KEY_FORMAT, timezone="UTC")


def cycle_times(partitions_def: dg.TimeWindowPartitionsDefinition, keys: list[str]) -> list[datetime]:
    """Cycle time of each key: its window's start (a window ends at the next cron tick,
    which can be far away for crons with gaps, so the start is the stable choice)."""
    return [partitions_def.time_window_for_partition_key(key).start for key in keys]
