"""symbol_snapshot: the fast positional builder of the sources' per-cycle loops."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.market import SymbolSnapshot, symbol_snapshot
from btcbot_pipeline.testing.builders import rules

# A distinct value for every field, so a field set from the wrong argument shows.
VALUES = (
    "BTCTRY",
    datetime(2026, 1, 1, tzinfo=timezone.utc),
    7,
    D("100.10"),
    D("100.20"),
    D("100.3"),
    D("104"),
    D("96.0"),
    D("12345.6789"),
    D("-2.5"),
    (D("99"), D("100.00")),
    rules(),
    "stale_data",
    D("95"),
    D("105"),
    D("3.5"),
)


def test_symbol_snapshot_equals_the_dataclass_built_field_by_field() -> None:
    built = symbol_snapshot(*VALUES)  # type: ignore[arg-type]
    expected = SymbolSnapshot(*VALUES)  # type: ignore[arg-type]

    assert type(built) is SymbolSnapshot
    assert built == expected
    assert hash(built.closes) == hash(expected.closes)
    for field, value in zip(fields(SymbolSnapshot), VALUES, strict=True):
        assert getattr(built, field.name) is value, field.name
    assert repr(built) == repr(expected)  # exponents too: 100.00, 96.0


def test_symbol_snapshot_is_frozen_and_replaceable() -> None:
    built = symbol_snapshot(*VALUES)  # type: ignore[arg-type]

    with pytest.raises(AttributeError):
        built.last = D("1")  # type: ignore[misc]
    assert replace(built, skip_reason=None).skip_reason is None
    assert built.skip_reason == "stale_data"
