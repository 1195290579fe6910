"""The replay reader's bars: the candles since the previous cycle, for the limit fill model."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset

T = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)


def _candles(replay_dir: Path, symbol: str) -> list[dict[str, str]]:
    with open(replay_dir / "candles" / f"{symbol}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_each_symbol_gets_the_bar_of_its_candles_since_the_previous_cycle(replay_dir: Path) -> None:
    dataset = ReplayDataset.load(replay_dir)
    (with_bars,) = dataset.snapshots([T], vol_lookback=20, bar_seconds=300)
    (plain,) = dataset.snapshots([T], vol_lookback=20)
    single = dataset.snapshot_at(T, vol_lookback=20, bar_seconds=300)

    for snap, base in zip(with_bars.symbols, plain.symbols):
        rows = [
            r
            for r in _candles(replay_dir, snap.symbol)
            if T - timedelta(minutes=5) < datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) <= T
        ]
        assert len(rows) == 5  # one-minute candles: 00:26 … 00:30
        assert (snap.bar_low, snap.bar_high, snap.bar_volume) == (
            min(Decimal(r["low"]) for r in rows),
            max(Decimal(r["high"]) for r in rows),
            sum((Decimal(r["volume"]) for r in rows), Decimal(0)),
        )
        assert (base.bar_low, base.bar_high, base.bar_volume) == (None, None, None)  # only when asked
    assert [(s.bar_low, s.bar_high, s.bar_volume) for s in single.symbols] == [
        (s.bar_low, s.bar_high, s.bar_volume) for s in with_bars.symbols
    ]
