"""A dataset validated and then loaded in one process is read once (``btcbot backtest``, doctor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay import validate
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The display paths of the files parsed, in order."""
    seen: list[str] = []
    real = validate.read_series_file

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(kwargs["display_path"])
        return real(*args, **kwargs)

    validate.forget_reads()
    monkeypatch.setattr(validate, "read_series_file", counting)
    yield seen
    validate.forget_reads()


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    init_replay_dataset(root, minutes=30, symbols=["BTCTRY", "ETHTRY"])
    return root


def test_load_after_validation_reads_no_file_again(tmp_path: Path, reads: list[str]) -> None:
    root = _dataset(tmp_path)
    assert validate_replay_dataset(root).ok
    assert len(reads) == 6  # candles, orderbook, ticker × 2 symbols
    data = ReplayDataset.load(root)
    assert len(reads) == 6
    fresh = ReplayDataset.load(root)  # the load forgot the kept files: read again, same data
    assert len(reads) == 12
    assert data.snapshots([data.end]) == fresh.snapshots([data.end])


def test_a_file_changed_after_validation_is_read_again(tmp_path: Path, reads: list[str]) -> None:
    root = _dataset(tmp_path)
    validate_replay_dataset(root)
    book = root / "orderbook" / "BTCTRY.csv"
    lines = book.read_text().splitlines(keepends=True)
    book.write_text("".join(lines[:-1]))  # one row fewer
    data = ReplayDataset.load(root)
    assert reads[6:] == ["orderbook/BTCTRY.csv"]
    btc = data.snapshot_at(data.end).symbols[0]
    assert btc.symbol == "BTCTRY" and btc.data_ts is not None and btc.data_ts < data.end  # its last book row is gone


def test_validation_always_reads(tmp_path: Path, reads: list[str]) -> None:
    root = _dataset(tmp_path)
    validate_replay_dataset(root)
    validate_replay_dataset(root)
    assert len(reads) == 12


def test_another_dataset_is_not_taken_for_the_validated_one(tmp_path: Path, reads: list[str]) -> None:
    root = _dataset(tmp_path)
    other = tmp_path / "other"
    init_replay_dataset(other, minutes=30, symbols=["BTCTRY", "ETHTRY"], seed=7)
    validate_replay_dataset(root)
    loaded = ReplayDataset.load(other)
    assert len(reads) == 12
    assert loaded.snapshots([loaded.end]) == ReplayDataset.load(other).snapshots([loaded.end])
