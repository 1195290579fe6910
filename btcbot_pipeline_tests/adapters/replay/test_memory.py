"""A loaded replay dataset keeps its numbers as text (issue 16): exact, compact, and the
closes handed to consecutive snapshots are the very same objects."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from operator import is_
from pathlib import Path

from btcbot_pipeline.adapters.replay import validate
from btcbot_pipeline.adapters.replay.columns import DecimalColumn
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.testing.replay_builders import (
    BOOK_HEADER,
    CANDLES_HEADER,
    utc,
    write_dataset,
)


def test_a_column_gives_back_each_value_with_its_exponent() -> None:
    values = [Decimal("5.30"), Decimal("1E+2"), None, Decimal("-0.000"), Decimal("123456789012345678901234567890.5")]
    column = DecimalColumn.of(values)

    assert [repr(v) for v in column] == [repr(v) for v in values]
    assert [repr(column[i]) for i in range(-5, 5)] == [repr(v) for v in values * 2]
    assert column[1:4] == values[1:4] and len(column) == 5
    assert DecimalColumn(["5.30", " 1E+2", ""]) == DecimalColumn.of(values[:3])  # the same decimals
    assert DecimalColumn(["5.3"]) != DecimalColumn(["5.30"])  # equal values, other exponents


def test_a_csv_cell_is_read_exactly_as_written(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": f"{CANDLES_HEADER}\n2026-01-01T00:00:00Z,100.0,110.00,90,105.000,2.50\n"},
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,104.10,1.06E+2\n"},
    )
    snap = ReplayDataset.load(root).snapshot_at(utc("2026-01-01T00:00:00Z")).symbols[0]

    assert (repr(snap.best_bid), repr(snap.best_ask), repr(snap.last), repr(snap.high_24h)) == (
        "Decimal('104.10')",
        "Decimal('106')",
        "Decimal('105.000')",
        "Decimal('110.00')",
    )
    assert repr(snap.closes) == "(Decimal('105.000'),)"


def test_a_loaded_dataset_holds_no_decimal_object_per_cell(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    init_replay_dataset(root, minutes=2000, symbols=["BTCTRY", "ETHTRY"])
    cells = 2 * 2000 * (5 + 2 + 5)  # candles, book, ticker numbers of both symbols
    validate.forget_reads()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        dataset = ReplayDataset.load(root)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # As Decimal objects in tuples it was ~150 bytes a cell (derived columns included).
    assert held / cells < 40, f"{held} bytes for {cells} cells"
    assert dataset.snapshot_at(dataset.end).symbols[0].skip_reason is None


def test_consecutive_snapshots_hand_out_the_same_close_objects(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    init_replay_dataset(root, minutes=300, symbols=["BTCTRY"])
    dataset = ReplayDataset.load(root)
    times = [dataset.start + timedelta(minutes=m) for m in range(30, 120)]
    # Two calls, as a backtest asks chunk by chunk: the closes carry over the boundary too.
    snaps = dataset.snapshots(times[:45], vol_lookback=20) + dataset.snapshots(times[45:], vol_lookback=20)
    closes = [s.symbols[0].closes for s in snaps]

    assert all(len(c) == 21 for c in closes)
    for earlier, later in zip(closes, closes[1:]):
        assert all(map(is_, earlier[1:], later[:-1]))
    again = dataset.snapshots(times[-1:], vol_lookback=20)[0].symbols[0].closes
    assert again is closes[-1]  # asked twice for the same candle: the same tuple
