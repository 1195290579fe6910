"""Every UTC time text of the project, exactly (domain/utc.py): books, traces, fingerprints
and CLI output hold these strings, so each one is spelled out here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from btcbot_pipeline.domain import utc

AWARE = datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)
NAIVE = datetime(2026, 1, 1, 0, 5)
RETRY = datetime(2026, 1, 1, 0, 5, 0, 250000, tzinfo=timezone.utc)
ISTANBUL = timezone(timedelta(hours=3))


@pytest.mark.parametrize("ts", [AWARE, NAIVE])
def test_writers_format_the_wall_time_aware_or_naive(ts: datetime) -> None:
    assert utc.minute_text(ts) == "2026-01-01T00:05"
    assert utc.text(ts) == "2026-01-01T00:05:00Z"
    assert utc.cycle_id(ts) == "20260101T000500Z"
    assert utc.day_text(ts) == "2026-01-01"
    assert utc.millis_text(ts) == "2026-01-01T00:05:00.000Z"


def test_the_cycle_id_is_strftime_of_its_format() -> None:
    for ts in (AWARE, datetime(2018, 12, 31, 23, 59, 59)):
        assert utc.cycle_id(ts) == ts.strftime(utc.CYCLE_ID)
    assert utc.cycle_id(datetime(999, 1, 2, 3, 4, 5)) == "9990102T030405Z"  # the year not zero-padded


def test_exact_text_converts_to_utc_and_keeps_microseconds_only_when_there_are_any() -> None:
    assert utc.exact_text(AWARE) == "2026-01-01T00:05:00Z"
    assert utc.exact_text(RETRY) == "2026-01-01T00:05:00.250000Z"
    assert utc.exact_text(datetime(2026, 1, 1, 3, 5, tzinfo=ISTANBUL)) == "2026-01-01T00:05:00Z"
    assert utc.parse_exact("2026-01-01T00:05:00.250000Z") == RETRY
    assert utc.parse_exact("2026-01-01T00:05:00Z") == AWARE


def test_millis_text_truncates_to_three_digits() -> None:
    assert utc.millis_text(RETRY) == "2026-01-01T00:05:00.250Z"
    assert utc.millis_text(RETRY.replace(microsecond=999999)) == "2026-01-01T00:05:00.999Z"
    assert utc.millis_text(RETRY.replace(microsecond=1999)) == "2026-01-01T00:05:00.001Z"


def test_iso_is_pythons_text() -> None:
    assert utc.iso(AWARE) == "2026-01-01T00:05:00+00:00"
    assert utc.iso(NAIVE) == "2026-01-01T00:05:00"
    assert utc.iso(RETRY) == "2026-01-01T00:05:00.250000+00:00"
    assert utc.iso(AWARE, sep=" ") == "2026-01-01 00:05:00+00:00"
    assert utc.parse_iso("2026-01-01T00:05:00Z") == AWARE
    assert utc.parse_iso("2026-01-01T00:05:00+00:00") == AWARE
    assert utc.parse_iso("2026-01-01T00:05:00") == NAIVE


def test_parsers_return_aware_utc() -> None:
    assert utc.parse("2026-01-01T00:05:00Z") == AWARE and utc.parse("2026-01-01T00:05:00Z").tzinfo is timezone.utc
    assert utc.parse_minute("2026-01-01T00:05") == AWARE
    assert utc.minute_text(utc.parse_minute("2026-1-1T0:5")) == "2026-01-01T00:05"  # canonical text
    with pytest.raises(ValueError):
        utc.parse("2026-01-01T00:05")
    with pytest.raises(ValueError):
        utc.parse_minute("2026-01-01T00:05:00Z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:05:00Z", AWARE),
        ("2026-01-01T00:05:00", AWARE),
        ("2026-01-01T00:05Z", AWARE),
        ("2026-01-01T00:05", AWARE),
        ("2026-01-01", None),
        ("yesterday", None),
    ],
)
def test_a_command_line_time(text: str, expected: datetime | None) -> None:
    assert utc.parse_first(text, utc.ARGUMENT) == expected


def test_a_partition_key_of_a_cycle_or_a_backtest_day() -> None:
    assert utc.parse_first("2026-01-01T00:05", utc.PARTITION_KEY) == AWARE
    assert utc.parse_first("2018-01-10", utc.PARTITION_KEY) == datetime(2018, 1, 10, tzinfo=timezone.utc)
    assert utc.parse_first("2018-01-10T00:00:00Z", utc.PARTITION_KEY) is None


def test_the_formats() -> None:
    assert (utc.MINUTE, utc.SECOND, utc.MICRO, utc.DAY, utc.CYCLE_ID) == (
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S.%fZ",
        "%Y-%m-%d",
        "%Y%m%dT%H%M%SZ",
    )
