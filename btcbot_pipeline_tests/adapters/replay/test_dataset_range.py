"""ReplayDataset.snapshots: a range of cycles in one sweep equals snapshot_at cycle by cycle.

The dataset below has a candle gap (BTCTRY 00:02), a book gap (BTCTRY 00:02-00:03), a
book that stops early (ADATRY, stale from 00:02:31 with a 90 s limit), a symbol with a bad
row (ETHTRY, low 0) and a bar a day later, so 24 h windows that lose bars and empty
windows are both met.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.testing.replay_builders import (
    BOOK_HEADER,
    CANDLES_HEADER,
    utc,
    write_dataset,
)

LOOKBACK = 2  # three closes per snapshot
MAX_AGE = 90

# Out of order, repeated, before the first row, in the gaps, a day later, two days later.
TIMES = [
    utc(t)
    for t in (
        "2026-01-01T00:04:00Z",
        "2026-01-01T00:00:00Z",
        "2025-12-31T23:59:00Z",
        "2026-01-01T00:03:30Z",
        "2026-01-01T00:03:30Z",
        "2026-01-01T00:02:10Z",
        "2026-01-02T00:03:00Z",
        "2026-01-03T01:00:00Z",
    )
]


def _dataset(tmp_path: Path) -> ReplayDataset:
    root = write_dataset(
        tmp_path,
        candles={
            "BTCTRY": f"""\
                {CANDLES_HEADER}
                2026-01-01T00:00:00Z,100,110,90,105,2
                2026-01-01T00:01:00Z,105,106,100,101,3
                2026-01-01T00:03:00Z,101,104,99,103,1
                2026-01-01T00:04:00Z,103,108,102,107,1
                2026-01-02T00:02:00Z,107,109,104,108,2
                """,
            "ADATRY": f"""\
                {CANDLES_HEADER}
                2026-01-01T00:00:00Z,10,11,9,10.5,100
                2026-01-01T00:04:00Z,10.5,10.6,10.1,10.2,50
                """,
            "ETHTRY": f"""\
                {CANDLES_HEADER}
                2026-01-01T00:00:00Z,50,55,45,52,1
                2026-01-01T00:01:00Z,52,53,0,51,1
                """,
        },
        orderbook={
            "BTCTRY": f"""\
                {BOOK_HEADER}
                2026-01-01T00:00:00Z,104,106
                2026-01-01T00:01:00Z,100,102
                2026-01-01T00:04:00Z,106,108
                2026-01-02T00:02:00Z,107,109
                """,
            "ADATRY": f"""\
                {BOOK_HEADER}
                2026-01-01T00:00:00Z,10.4,10.6
                2026-01-01T00:01:00Z,10.3,10.5
                """,
            "ETHTRY": f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,51,53\n",
        },
    )
    return ReplayDataset.load(root)


def _one_by_one(dataset: ReplayDataset) -> list[MarketSnapshot]:
    return [
        finalize_snapshot(dataset.snapshot_at(t, vol_lookback=LOOKBACK, max_data_age_s=MAX_AGE), max_data_age_s=MAX_AGE)
        for t in TIMES
    ]


def test_range_equals_snapshot_at_cycle_by_cycle(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)

    ranged = dataset.snapshots(TIMES, vol_lookback=LOOKBACK, max_data_age_s=MAX_AGE)

    assert ranged == _one_by_one(dataset)
    assert [m.cycle_ts for m in ranged] == TIMES  # the order asked for, not time order


# (cycle, symbol) → skip reason, staleness s, last, 24 h high, low, quote volume, change %, closes
EXPECTED = [
    # 00:04: BTCTRY's 00:04 book and bar; ADATRY's book is from 00:01, 180 s old.
    (0, "ADATRY", "stale_data", 180, "10.2", "11", "9", "1560.0", "2.0", ("10.5", "10.2")),
    (0, "BTCTRY", None, 0, "107", "110", "90", "723", "7", ("101", "103", "107")),
    (0, "ETHTRY", "invalid_data:non_positive_price", None, None, None, None, None, None, ()),
    (1, "BTCTRY", None, 0, "105", "110", "90", "210", "5", ("105",)),
    (2, "BTCTRY", "no_data", None, None, None, None, None, None, ()),  # before the first row
    # 00:03:30: the newest book is 00:01's, 150 s old, although a 00:03 bar exists.
    (3, "BTCTRY", "stale_data", 150, "103", "110", "90", "616", "3", ("105", "101", "103")),
    (4, "BTCTRY", "stale_data", 150, "103", "110", "90", "616", "3", ("105", "101", "103")),
    (5, "BTCTRY", None, 70, "101", "110", "90", "513", "1", ("105", "101")),  # in the bar gap
    # A day later the 00:00-00:03 bars left the window: 00:04 and next day's 00:02 remain.
    (6, "BTCTRY", None, 60, "108", "109", "102", "323", "4.854368932038834951456310680", ("103", "107", "108")),
    (
        6,
        "ADATRY",
        "stale_data",
        86_520,
        "10.2",
        "10.6",
        "10.1",
        "510.0",
        "-2.857142857142857142857142857",
        ("10.5", "10.2"),
    ),
    # Two days later no bar is in the window: last close kept, no high/low/change, volume 0.
    (7, "BTCTRY", "stale_data", 89_880, "108", None, None, "0", None, ("103", "107", "108")),
]


@pytest.mark.parametrize("row", EXPECTED, ids=[f"{TIMES[r[0]].isoformat()[:19]}-{r[1]}-{r[0]}" for r in EXPECTED])
def test_range_snapshot_values(tmp_path: Path, row: tuple[object, ...]) -> None:
    index, symbol, reason, staleness, last, high, low, volume, change, closes = row
    dataset = _dataset(tmp_path)

    snap = dataset.snapshots(TIMES, vol_lookback=LOOKBACK, max_data_age_s=MAX_AGE)[index].by_symbol()[symbol]  # type: ignore[index]

    def dec(text: object) -> Decimal | None:
        return None if text is None else Decimal(str(text))

    assert (snap.skip_reason, snap.staleness_s) == (reason, staleness)
    assert (snap.last, snap.high_24h, snap.low_24h) == (dec(last), dec(high), dec(low))
    assert (snap.quote_volume_try, snap.daily_change_pct) == (dec(volume), dec(change))
    assert snap.closes == tuple(Decimal(c) for c in closes)  # type: ignore[attr-defined]


def test_range_of_no_cycles_is_empty(tmp_path: Path) -> None:
    assert _dataset(tmp_path).snapshots([]) == []


def test_range_refuses_a_naive_cycle_time(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path)

    with pytest.raises(ValueError, match="cycle_ts must be timezone-aware UTC"):
        dataset.snapshots([TIMES[0], TIMES[0].replace(tzinfo=None)])


def test_range_refuses_a_negative_lookback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vol_lookback must be >= 0, was -1"):
        _dataset(tmp_path).snapshots(TIMES, vol_lookback=-1)


def test_range_over_a_minute_dataset_equals_snapshot_at(tmp_path: Path) -> None:
    # Forty minutes of bars and books every minute, cycles every 4 minutes at :30 s.
    rows = [f"2026-01-01T00:{m:02d}:00Z,{100 + m},{110 + m},{90 + m},{101 + m},{m + 1}" for m in range(40)]
    books = [f"2026-01-01T00:{m:02d}:00Z,{100 + m},{102 + m}" for m in range(40) if m not in (11, 12, 13)]
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": "\n".join([CANDLES_HEADER, *rows]) + "\n"},
        orderbook={"BTCTRY": "\n".join([BOOK_HEADER, *books]) + "\n"},
    )
    dataset = ReplayDataset.load(root)
    times = [utc("2026-01-01T00:00:30Z") + timedelta(minutes=4 * k) for k in range(10)]

    ranged = dataset.snapshots(times, vol_lookback=5, max_data_age_s=60)

    assert ranged == [
        finalize_snapshot(dataset.snapshot_at(t, vol_lookback=5, max_data_age_s=60), max_data_age_s=60) for t in times
    ]
    # 00:12:30: the book gap 00:11-00:13 leaves the 00:10 book, 150 s old.
    assert ranged[3].symbols[0].staleness_s == 150
    assert ranged[3].symbols[0].skip_reason == "stale_data"
