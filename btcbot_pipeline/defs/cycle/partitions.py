"""One partition per trading cycle: a UTC time window keyed by its start."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

import dagster as dg
from dagster._utils.schedules import (
    cron_string_iterator,  # Dagster's own cron walker (no public API)
)

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


_DAY = timedelta(days=1)


@lru_cache(maxsize=16)
def _offsets_in_day(cron: str) -> tuple[timedelta, ...] | None:
    """Tick offsets from midnight UTC if ``cron`` ticks the same way every day (day of
    month, month and weekday fields all ``*``), else ``None``."""
    fields = cron.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
        return None
    day = datetime(2000, 1, 1, tzinfo=timezone.utc)
    offsets = []
    for tick in cron_string_iterator(day.timestamp(), cron, "UTC"):
        if tick >= day + _DAY:
            break
        offsets.append(tick - day)
    return tuple(offsets)


def cycle_ticks(cron: str, start: datetime, end: datetime) -> list[datetime]:
    """Cycle times on ``cron`` in ``[start, end)`` (UTC): the cycles a coarse backtest
    partition holds. Daily-regular crons are computed from one day's offsets (thousands
    of cycles in microseconds); others walk the cron."""
    offsets = _offsets_in_day(cron)
    if offsets is None:
        out = []
        for tick in cron_string_iterator(start.timestamp(), cron, "UTC"):
            if tick >= end:
                break
            out.append(tick.astimezone(timezone.utc))
        return out
    out = []
    day = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        out += [t for t in (day + o for o in offsets) if start <= t < end]
        day += _DAY
    return out


def cycle_step_seconds(cron: str, at: datetime) -> int:
    """Seconds between the first two cycle ticks at or after ``at``: the bar a cycle sees
    of the trades since the previous cycle (one step of a regular cron such as ``*/5``)."""
    ticks = []
    for tick in cron_string_iterator(at.timestamp(), cron, "UTC"):
        ticks.append(tick)
        if len(ticks) == 2:
            break
    return int((ticks[1] - ticks[0]).total_seconds())
