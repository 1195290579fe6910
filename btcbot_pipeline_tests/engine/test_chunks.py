"""How a run's partitions are grouped into chunks (gated and committed together) and batches,
and when a chunk's gate suites are handed over."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import duckdb

from btcbot_pipeline.engine import BATCH_CYCLES, Partition, _ChunkFrames, batch_cycles, batches, chunks
from btcbot_pipeline.quality.rules import CHAIN_SUITE, SUITES, Frame, GateParams, GateResult, Suite
from btcbot_pipeline.storage.book import Book, Window

T0 = datetime(2018, 1, 10, tzinfo=timezone.utc)


def _partitions(*sizes: int) -> list[Partition]:
    out, start = [], T0
    for n, size in enumerate(sizes):
        times = tuple(start + timedelta(minutes=5 * k) for k in range(size))
        end = start + timedelta(minutes=5 * size)
        out.append(Partition(f"p{n}", Window(start, end), times))
        start = end
    return out


def _sizes(groups: list[tuple[Partition, ...]]) -> list[list[int]]:
    return [[len(p.times) for p in group] for group in groups]


def test_a_20_day_backtest_from_0500_is_three_even_chunks_not_a_60_cycle_tail() -> None:
    parts = _partitions(228, *[288] * 19, 60)

    groups = chunks(parts, 2880)

    assert [sum(g) for g in _sizes(groups)] == [1956, 2016, 1788]
    assert [p for g in groups for p in g] == parts  # every partition once, in order


def test_chunks_are_as_few_as_filling_makes_and_never_above_the_limit() -> None:
    assert _sizes(chunks(_partitions(1, 1, 1, 1, 1), 2)) == [[1, 1], [1, 1], [1]]
    assert _sizes(chunks(_partitions(288, 288, 288), 2880)) == [[288, 288, 288]]
    assert _sizes(chunks(_partitions(3, 3, 3, 3), 9)) == [[3, 3], [3, 3]]  # not 9 + 3


def test_a_partition_larger_than_the_limit_is_a_chunk_alone() -> None:
    assert _sizes(chunks(_partitions(10, 1, 1, 10, 1), 3)) == [[10], [1, 1], [10], [1]]


def test_batches_fill_up_to_their_limit() -> None:
    assert _sizes(batches(_partitions(3, 3, 3, 3), 9)) == [[3, 3, 3], [3]]


def test_a_wider_market_is_computed_in_fewer_cycles_a_batch() -> None:
    # about 11,520 symbol-cycles a batch, never more cycles than the default
    assert [batch_cycles(w) for w in (None, 0, 1, 10, 11, 100, 300, 20_000)] == [
        BATCH_CYCLES,
        BATCH_CYCLES,
        BATCH_CYCLES,
        1152,
        1047,
        115,
        38,
        1,
    ]
    # 100 symbols over 20 days from 05:00: one day partition a batch (each above 115 cycles)
    assert _sizes(batches(_partitions(228, 288, 288), batch_cycles(100))) == [[228], [288], [288]]


class _Gates:
    """Records when each suite is handed over."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def frame(self, suite: Suite, frame: Frame) -> Frame:
        return frame

    def submit(self, suite: Suite, frames: list[Frame]) -> Callable[[], tuple[GateResult, Frame]]:
        self.submitted.append(suite.name)
        return lambda: (GateResult(suite), Frame({}, 0))


def test_a_chunks_suites_are_handed_over_with_its_last_batch_and_the_chain_at_its_close(tmp_path: Path) -> None:
    gates = _Gates()
    frames = _ChunkFrames(gates, GateParams(), 2)

    frames.add(None)
    assert gates.submitted == []
    frames.add(None)  # the last batch: its write and the chunk's close are still to come
    assert gates.submitted == [name for name in SUITES if name != CHAIN_SUITE.name]

    with duckdb.connect(str(tmp_path / "book.duckdb")) as con:
        book = Book(con)
        book.ensure_schema()
        verdicts = frames.verdicts(book, Window(T0, T0 + timedelta(minutes=10)))

    assert gates.submitted[-1] == CHAIN_SUITE.name
    assert [verdict()[0].suite.name for verdict in verdicts] == list(SUITES)
