"""Books shared by the reporting tests: built once per session from the shared dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline_tests.reporting.books import make_book, tiny_book


@pytest.fixture(scope="session")
def books(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> Path:
    """``base`` (12 cycles), ``same`` (rebuilt alike), ``slip40`` (STAGE7_SLIPPAGE_BPS=40)
    and ``short`` (the first 10 cycles of ``base``), as backtest books of one folder."""
    folder = tmp_path_factory.mktemp("backtests")
    make_book(folder / "base.duckdb", replay_dir, cycles=12)
    make_book(folder / "same.duckdb", replay_dir, cycles=12)
    make_book(folder / "slip40.duckdb", replay_dir, cycles=12, overrides={"STAGE7_SLIPPAGE_BPS": "40"})
    make_book(folder / "short.duckdb", replay_dir, cycles=10)
    return folder


@pytest.fixture
def backtest_dir(books: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """BACKTEST_DIR pointing at :func:`books`, run from an empty folder (no stray ``.env``)."""
    monkeypatch.setenv("BACKTEST_DIR", str(books))
    monkeypatch.chdir(tmp_path)
    return books


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_book(tmp_path / "tiny.duckdb")
