"""The closes a sweep hands out: one candle on, the tuple slides by one and keeps the
objects already handed out (the universe's volatility memo reuses returns only for those)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.domain.market import finalize_snapshot
from btcbot_pipeline.testing.replay_builders import BOOK_HEADER, CANDLES_HEADER, utc, write_dataset


def _minutes(tmp_path: Path, n: int = 12) -> ReplayDataset:
    rows = [f"2026-01-01T00:{m:02d}:00Z,{100 + m},{110 + m},{90 + m},{101 + m}.{m % 3}0,{m + 1}" for m in range(n)]
    books = [f"2026-01-01T00:{m:02d}:00Z,{100 + m},{102 + m}" for m in range(n)]
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": "\n".join([CANDLES_HEADER, *rows]) + "\n"},
        orderbook={"BTCTRY": "\n".join([BOOK_HEADER, *books]) + "\n"},
    )
    return ReplayDataset.load(root)


def test_closes_slide_one_candle_at_a_time_and_keep_their_objects(tmp_path: Path) -> None:
    dataset = _minutes(tmp_path)
    times = [utc("2026-01-01T00:00:30Z") + timedelta(minutes=k) for k in range(12)]

    closes = [s.symbols[0].closes for s in dataset.snapshots(times, vol_lookback=3, max_data_age_s=60)]

    # Growing while fewer than four candles exist, then sliding.
    assert [len(c) for c in closes] == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    for before, after in zip(closes, closes[1:]):
        shared = before[1:] if len(before) == 4 else before
        assert all(a is b for a, b in zip(after, shared))
    # The exponents as written: 101.00, 102.10, 103.20, 104.00, ...
    assert [str(c[-1]) for c in closes[:4]] == ["101.00", "102.10", "103.20", "104.00"]
    fresh = [
        finalize_snapshot(dataset.snapshot_at(t, vol_lookback=3, max_data_age_s=60), max_data_age_s=60) for t in times
    ]
    assert [tuple(map(str, c)) for c in closes] == [tuple(map(str, s.symbols[0].closes)) for s in fresh]


def test_a_second_sweep_continues_from_the_closes_of_the_first(tmp_path: Path) -> None:
    dataset = _minutes(tmp_path)
    first = [utc("2026-01-01T00:00:30Z") + timedelta(minutes=k) for k in range(6)]
    second = [utc("2026-01-01T00:06:30Z") + timedelta(minutes=k) for k in range(3)]

    last = dataset.snapshots(first, vol_lookback=3)[-1].symbols[0].closes
    nxt = dataset.snapshots(second, vol_lookback=3)[0].symbols[0].closes

    assert all(a is b for a, b in zip(nxt, last[1:]))
    assert [str(c) for c in nxt] == ["104.00", "105.10", "106.20", "107.00"]
    # Back in time: built afresh, the same values.
    again = dataset.snapshots(first[:1], vol_lookback=3)[0].symbols[0].closes
    assert [str(c) for c in again] == ["101.00"]


def test_a_longer_lookback_after_a_shorter_one_gets_all_its_closes(tmp_path: Path) -> None:
    # The closes kept from a lookback of 2 are fewer than the next sweep's lookback of 6
    # needs: the next candle's closes are read afresh, not the three kept plus one.
    dataset = _minutes(tmp_path)
    first = [utc("2026-01-01T00:00:30Z") + timedelta(minutes=k) for k in range(8)]
    following = [utc("2026-01-01T00:08:30Z") + timedelta(minutes=k) for k in range(3)]

    dataset.snapshots(first, vol_lookback=2)
    longer = [s.symbols[0].closes for s in dataset.snapshots(following, vol_lookback=6)]
    shorter = [s.symbols[0].closes for s in dataset.snapshots(following, vol_lookback=0)]

    assert [len(c) for c in longer] == [7, 7, 7]
    assert [str(c) for c in longer[0]] == ["103.20", "104.00", "105.10", "106.20", "107.00", "108.10", "109.20"]
    assert [[str(c) for c in closes] for closes in shorter] == [["109.20"], ["110.00"], ["111.10"]]
    for ranged, t in zip(longer, following):
        fresh = dataset.snapshot_at(t, vol_lookback=6).symbols[0].closes
        assert [str(c) for c in ranged] == [str(c) for c in fresh]
