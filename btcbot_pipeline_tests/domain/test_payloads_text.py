"""The payload codec's fast text for Decimals and times writes what the plain formatters write."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.payloads import _ts, decimal_text


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_decimal_text_is_the_fixed_point_text(value: D) -> None:
    assert decimal_text(value) == format(value, "f")


def test_decimal_text_of_the_scientific_corners() -> None:
    cases = {"1E+2": "100", "0E-8": "0.00000000", "1.2E-7": "0.00000012", "-1E-7": "-0.0000001"}
    assert {k: decimal_text(D(k)) for k in cases} == cases
    assert [decimal_text(D(k)) for k in ("NaN", "sNaN", "-Infinity", "-0", "0.000001")] == [
        "NaN",
        "sNaN",
        "-Infinity",
        "-0",
        "0.000001",
    ]


@given(st.datetimes(timezones=st.just(timezone.utc)))
def test_utc_times_are_written_as_exact_text_writes_them(value: datetime) -> None:
    assert _ts(value) == utc.exact_text(value)


def test_other_clocks_and_none() -> None:
    istanbul = datetime(2026, 1, 1, 3, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=3)))
    assert _ts(istanbul) == "2026-01-01T00:30:00.250000Z"
    assert _ts(datetime(5, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "5-01-02T03:04:05Z"  # as strftime's %Y
    assert _ts(None) is None
