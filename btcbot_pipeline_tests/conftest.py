"""Shared fixtures: a small synthetic replay dataset and a cycle runner on a temp book."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.importer import import_freqtrade_ohlcv
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline_tests.harness import DEMO, START, Cycle

# The fake BTCTurk server fixtures (fake_btcturk, fake_cycle_market, public_client, read_client).
pytest_plugins = ["btcbot_pipeline_tests.btcbot_fake_btcturk"]


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "dataset"
    init_replay_dataset(path, seed=7, start=START, minutes=180)
    return path


# Real candles (../shared beside the repository, as on CI and on every workstation).
REAL_CANDLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-5m-2018"


@pytest.fixture(scope="session")
def real_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 10 real Binance pairs of 2018 as a TRY replay dataset (2018-01-10T05:00 … 01-30T04:55)."""
    path = tmp_path_factory.mktemp("real") / "dataset"
    import_freqtrade_ohlcv(REAL_CANDLES, path, quote="TRY", rate="100000")
    return path


@pytest.fixture
def cycle(tmp_path: Path, replay_dir: Path) -> Cycle:
    return Cycle(db=tmp_path / "book.duckdb", dataset=replay_dir, overrides=dict(DEMO))


