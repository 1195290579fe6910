"""How a run's partitions are grouped into chunks (gated and committed together) and batches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from btcbot_pipeline.engine import Partition, batches, chunks
from btcbot_pipeline.storage.book import Window

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
