"""UTC time as text: every format the project writes or reads, named once.

Books, traces, fingerprints, alerts, CLI output and error texts hold these strings, so a
function here never changes what it writes. The writers format the wall time they are
given (an aware and a naive UTC datetime print the same), except :func:`exact_text`, which
converts to UTC first; the parsers return aware UTC datetimes (:func:`parse_iso`: as the
text says).

- ``2026-01-01T00:05``: :func:`minute_text`, :func:`parse_minute` (cycle partition keys,
  the times a person reads, "... UTC")
- ``2026-01-01T00:05:00Z``: :func:`text`, :func:`parse` (gate details, alerts and their
  webhook bodies, risk reasons, health)
- ``2026-01-01T00:05:00.250000Z``: :func:`exact_text`, :func:`parse_exact` (payload
  times: microseconds only when there are any)
- ``2026-01-01T00:05:00.250Z``: :func:`millis_text` (the rows and manifest of a BTCTurk capture)
- ``20260101T000500Z``: :func:`cycle_id` (cycle ids, risk clear ids)
- ``2026-01-01``: :func:`day_text`, :data:`DAY` (risk days, backtest partition keys)
- ``2026-01-01T00:05:00+00:00``: :func:`iso`, :func:`parse_iso` (Python's ISO text:
  metadata, fingerprint inputs)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

MINUTE = "%Y-%m-%dT%H:%M"
"""A cycle partition key (Dagster's ``fmt``) and a time a person reads."""
SECOND = "%Y-%m-%dT%H:%M:%SZ"
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"
DAY = "%Y-%m-%d"
"""A backtest partition key (one day)."""
CYCLE_ID = "%Y%m%dT%H%M%SZ"
"""What :func:`cycle_id` writes (it spells the format out, faster)."""
ARGUMENT = (SECOND, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", MINUTE)
"""What a command-line time may look like, tried in this order."""
PARTITION_KEY = (MINUTE, DAY)
"""A cycle or a backtest partition key."""


def minute_text(ts: datetime) -> str:
    """``2026-01-01T00:05``."""
    return ts.strftime(MINUTE)


def text(ts: datetime) -> str:
    """``2026-01-01T00:05:00Z`` (the wall time as given, no conversion)."""
    return ts.strftime(SECOND)


def exact_text(ts: datetime) -> str:
    """``ts`` in UTC, ``2026-01-01T00:05:00Z``, or ``2026-01-01T00:05:00.250000Z`` when it
    has microseconds."""
    return ts.astimezone(timezone.utc).strftime(MICRO if ts.microsecond else SECOND)


def millis_text(ts: datetime) -> str:
    """``2026-01-01T00:05:00.250Z``: milliseconds, always three digits (truncated)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def cycle_id(ts: datetime) -> str:
    """``2026-01-01T00:30Z`` → ``20260101T003000Z`` (no colons: ids are ``:``-separated).

    The same text as ``strftime(CYCLE_ID)`` (whose ``%Y`` is not zero-padded either), at
    half its cost: this runs for every cycle of a backtest.
    """
    return f"{ts.year}{ts.month:02d}{ts.day:02d}T{ts.hour:02d}{ts.minute:02d}{ts.second:02d}Z"


def day_text(ts: datetime) -> str:
    """``2026-01-01``: the date of ``ts`` (ISO: the year always has four digits)."""
    return ts.date().isoformat()


def iso(ts: datetime, sep: str = "T") -> str:
    """Python's ISO text: ``2026-01-01T00:05:00+00:00`` for an aware time, no offset for a
    naive one, microseconds only when there are any (``sep=" "``: a space before the hour)."""
    return ts.isoformat(sep)


def parse(value: str) -> datetime:
    """``2026-01-01T00:05:00Z`` → an aware UTC datetime (``ValueError`` for other text)."""
    return datetime.strptime(value, SECOND).replace(tzinfo=timezone.utc)


def parse_exact(value: str) -> datetime:
    """The text of :func:`exact_text` back (with or without microseconds)."""
    return datetime.strptime(value, MICRO if "." in value else SECOND).replace(tzinfo=timezone.utc)


def parse_minute(value: str) -> datetime:
    """``2026-01-01T00:05`` (``2026-1-1T0:5`` too) → an aware UTC datetime."""
    return datetime.strptime(value, MINUTE).replace(tzinfo=timezone.utc)


def parse_iso(value: str) -> datetime:
    """ISO text, a trailing ``Z`` read as UTC; naive when the text has no offset."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_first(value: str, formats: Sequence[str]) -> datetime | None:
    """``value`` read as UTC by the first of ``formats`` that fits it (e.g. :data:`ARGUMENT`,
    :data:`PARTITION_KEY`), or None."""
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None
