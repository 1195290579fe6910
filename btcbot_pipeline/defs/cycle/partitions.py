"""One partition per trading cycle: a UTC time window keyed by its start.

Two objects describe a graph's partitions. The **calendar** is a
``TimeWindowPartitionsDefinition``: it maps keys to windows and knows which cycles have
closed by now (the schedule and the catch-up sensor ask it). What **Dagster** is given
(:func:`ui_partitions`) is the calendar itself while it is open-ended, and the calendar's
keys as a ``StaticPartitionsDefinition`` once it has an end (a replay profile's
``CYCLE_PARTITIONS_END``, a backtest's window). Why: Dagster 1.13's UI draws *Plots by
partition* from ``partitionKeyConnection(ascending: false)``, which for a time-window
definition starts at the wall clock and ignores ``end``
(``TimeWindowPartitionsDefinition.get_paginated_partition_keys``), so a finished window's
plots showed only the empty keys up to today. A static list of the same keys pages from
its real last key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

import dagster as dg
from dagster._utils.schedules import (
    cron_string_iterator,  # Dagster's own cron walker (no public API)
)

from btcbot_pipeline.domain import utc


def cycle_partitions(cron: str, start: str, end: str | None = None) -> dg.TimeWindowPartitionsDefinition:
    """Cycles on ``cron`` (``CYCLE_CRON``) from ``start`` (``CYCLE_PARTITIONS_START``), UTC.

    UTC because a local timezone's DST fall-back hour produces odd keys for sub-hourly
    crons; the key format has minutes because cycles are minutes apart.
    """
    return dg.TimeWindowPartitionsDefinition(cron_schedule=cron, start=start, end=end, fmt=utc.MINUTE, timezone="UTC")


# Past this many keys a finite calendar stays a time-window definition: every key of a
# static one travels in each snapshot of the code location (the UI slows down past ~40k
# partitions of either kind). 20,000 five-minute cycles are about 69 days.
STATIC_KEYS_LIMIT = 20_000


def ui_partitions(calendar: dg.TimeWindowPartitionsDefinition) -> dg.PartitionsDefinition:
    """The partitions Dagster sees for ``calendar``: the same keys, static once it ends."""
    if calendar.end is None:
        return calendar
    ticks = cycle_ticks(calendar.cron_schedule, calendar.start, calendar.end, limit=STATIC_KEYS_LIMIT + 1)
    if len(ticks) > STATIC_KEYS_LIMIT:
        return calendar
    return dg.StaticPartitionsDefinition([t.strftime(calendar.fmt) for t in ticks])


def closed_at(calendar: dg.TimeWindowPartitionsDefinition, tick: datetime) -> str | dg.SkipReason:
    """The key of the cycle that closed by ``tick`` (a schedule's tick), or why there is
    none: none closed yet, or the calendar ended (``CYCLE_PARTITIONS_END``) before it."""
    with dg.partition_loading_context(effective_dt=tick):
        key = calendar.get_last_partition_key()
    if key is None:
        return dg.SkipReason(f"no cycle closed by {utc.minute_text(tick)}")
    end = calendar.end
    if end is not None and calendar.time_window_for_partition_key(key).end < tick:
        return dg.SkipReason(
            f"past CYCLE_PARTITIONS_END ({utc.minute_text(end)}): no cycle closed at {utc.minute_text(tick)}"
        )
    return key


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


def cycle_ticks(cron: str, start: datetime, end: datetime, limit: int | None = None) -> list[datetime]:
    """Cycle times on ``cron`` in ``[start, end)`` (UTC): the cycles a coarse backtest
    partition holds; at most ``limit`` of them. Daily-regular crons are computed from one
    day's offsets (thousands of cycles in microseconds); others walk the cron."""
    offsets = _offsets_in_day(cron)
    out: list[datetime] = []
    if offsets is None:
        for tick in cron_string_iterator(start.timestamp(), cron, "UTC"):
            if tick >= end or (limit is not None and len(out) >= limit):
                break
            out.append(tick.astimezone(timezone.utc))
        return out
    day = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end and (limit is None or len(out) < limit):
        out += [t for t in (day + o for o in offsets) if start <= t < end]
        day += _DAY
    return out if limit is None else out[:limit]


def cycle_step_seconds(cron: str, at: datetime) -> int:
    """Seconds between the first two cycle ticks at or after ``at``: the bar a cycle sees
    of the trades since the previous cycle (one step of a regular cron such as ``*/5``)."""
    ticks = []
    for tick in cron_string_iterator(at.timestamp(), cron, "UTC"):
        ticks.append(tick)
        if len(ticks) == 2:
            break
    return int((ticks[1] - ticks[0]).total_seconds())
