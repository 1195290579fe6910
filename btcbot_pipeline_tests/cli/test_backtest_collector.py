"""``btcbot backtest`` collects garbage rarely while it runs, and leaves the collector as it found it."""

from __future__ import annotations

import gc

import pytest

from btcbot_pipeline.cli.backtest import _collecting_rarely


def test_setup_is_not_collected_the_run_rarely_and_the_settings_come_back() -> None:
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())

    with _collecting_rarely() as loaded:
        assert not gc.isenabled()  # loading and checking
        loaded()
        assert gc.isenabled()
        assert gc.get_threshold()[0] == 200_000
        assert gc.get_freeze_count() > 0  # what was loaded is not walked again

    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_refused_backtest_restores_the_collector_too() -> None:
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())

    with pytest.raises(RuntimeError, match="dataset refused"):
        with _collecting_rarely():
            raise RuntimeError("dataset refused")

    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before
