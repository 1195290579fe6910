"""Fixtures of the command tests: the fake BTCTurk serving the pilot profile's pairs."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket
from btcbot_pipeline_tests.cli.pilot import PILOT_PAIRS


@pytest.fixture
def exchange() -> Iterator[FakeBtcturk]:
    """The demo market with the pilot's five pairs listed (numbers made up, rules as BTCTurk's)."""
    market = FakeMarket.demo()
    for symbol in PILOT_PAIRS:
        market.set_symbol(
            symbol,
            ts_ms=0,
            bid=Decimal("100"),
            ask=Decimal("101"),
            last=Decimal("100.5"),
            high=Decimal("102"),
            low=Decimal("99"),
            volume=Decimal("50000"),
        )
    with FakeBtcturk(market) as fake:
        yield fake
