"""Shared fixtures: a small synthetic replay dataset, a cycle runner on a temp book, and the fake
BTCTurk (recorded payloads, or the two-pair cycle market) with fast clients on it.

The helpers behind them are the test kit, ``btcbot_pipeline/testing/``; only what needs pytest is here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient, BtcturkReadClient
from btcbot_pipeline.adapters.replay.importer import import_freqtrade_ohlcv
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.testing.cycle_harness import DEMO, START, Cycle
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk
from btcbot_pipeline.testing.fake_btcturk_setup import FAKE_CREDENTIALS, cycle_market, fast_config


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


# The fake BTCTurk of the test kit (btcbot_pipeline/testing/fake_btcturk.py).


@pytest.fixture
def fake_btcturk() -> Iterator[FakeBtcturk]:
    """The fake exchange serving the recorded payloads, on an ephemeral 127.0.0.1 port."""
    with FakeBtcturk() as fake:
        yield fake


@pytest.fixture
def fake_cycle_market() -> Iterator[FakeBtcturk]:
    """The fake exchange serving ``fake_btcturk_setup.PAIRS`` around its ``CYCLE``."""
    with FakeBtcturk(cycle_market()) as fake:
        yield fake


@pytest.fixture
def public_client(fake_btcturk: FakeBtcturk) -> Iterator[BtcturkPublicClient]:
    with BtcturkPublicClient(fast_config(fake_btcturk.url)) as client:
        yield client


@pytest.fixture
def read_client(fake_btcturk: FakeBtcturk) -> Iterator[BtcturkReadClient]:
    with BtcturkReadClient(FAKE_CREDENTIALS, fast_config(fake_btcturk.url)) as client:
        yield client


@pytest.fixture(scope="session")
def persistent() -> Iterator[dg.DagsterInstance]:
    """A persistent instance (a schedule's test context needs one), alive for the whole
    session: Dagster keeps a process-wide reference to it once used (its defs-state
    storage, read by every later Definitions load: one disposed early breaks later tests)."""
    with dg.instance_for_test() as instance:
        yield instance
