"""The market-data resource: one interface, a replay and a BTCTurk implementation, chosen
from ``MARKET_DATA_SOURCE`` in ``definitions.py`` (a backtest always replays)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.adapters.btcturk.account import AccountOpening
from btcbot_pipeline.definitions import build_definitions
from btcbot_pipeline.defs.backtest.assets import build_backtest
from btcbot_pipeline.defs.backtest.spec import BacktestSpec
from btcbot_pipeline.defs.cycle.resources import (
    BtcturkMarketData,
    MarketDataResource,
    ReplayMarketData,
)
from btcbot_pipeline.domain.account import DryRunOpening
from btcbot_pipeline.settings import load_settings


def test_the_interface_alone_is_no_source() -> None:
    with pytest.raises(TypeError, match="abstract"):
        MarketDataResource()  # type: ignore[abstract]


def test_settings_select_the_replay_source() -> None:
    settings = load_settings(None, REPLAY_DATASET_PATH="data/somewhere", DRY_RUN_TRY_BALANCE="1234")
    resource = build_definitions(settings, env_file=None).resources["market_data"]
    assert isinstance(resource, ReplayMarketData)
    assert (resource.source, resource.location(), resource.dataset_path) == (
        "replay",
        "data/somewhere",
        "data/somewhere",
    )
    assert resource.opening_balances(settings) == DryRunOpening(Decimal("1234"))


def test_the_live_source_opens_from_the_account() -> None:
    settings = load_settings(None, MARKET_DATA_SOURCE="btcturk", BTCTURK_BASE_URL="http://127.0.0.1:8765")
    resource = build_definitions(settings, env_file=None).resources["market_data"]
    assert isinstance(resource, BtcturkMarketData)
    assert (resource.source, resource.location()) == ("btcturk", "http://127.0.0.1:8765")
    assert resource.opening_balances(settings) == AccountOpening(settings)


def test_a_backtest_always_replays(tmp_path: Path) -> None:
    spec = BacktestSpec(
        name="b1",
        dataset=str(tmp_path / "ds"),
        start=datetime(2026, 1, 1),
        end=datetime(2026, 1, 2),
        settings={"MARKET_DATA_SOURCE": "replay"},
    )
    _, resources = build_backtest(spec, tmp_path)
    assert resources["backtest_b1_market_data"] == ReplayMarketData(dataset_path=str(tmp_path / "ds"))


def test_an_unusable_dataset_fails_once_with_its_reason(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    with pytest.raises(dg.Failure) as failed:
        ReplayMarketData(dataset_path=str(missing)).snapshots(
            [datetime(2026, 1, 1, tzinfo=timezone.utc)], vol_lookback=3, max_data_age_s=60
        )
    assert re.match(
        re.escape(f"replay dataset unusable: dataset_missing: dataset folder does not exist: {missing}"),
        failed.value.description or "",
    )
    assert failed.value.allow_retries is False
