"""Property (Hypothesis): arbitrary files of one pair never stop the cycle; the pair is excluded
with its reason and the good pairs trade (see ``hostile_data``).

The suite runs a few dozen derandomized examples (a few seconds); the benchmark mode,
``python scripts/fuzz_replay.py --examples 10000``, runs the same property at scale.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings

from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.testing.hostile_data import (
    check_dataset,
    fuzz_settings,
    hostile_dataset,
    write_dataset,
)

CFG = fuzz_settings()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=hostile_dataset())
def test_one_hostile_pair_never_stops_the_cycle_and_the_others_trade(spec: dict, tmp_path: Path) -> None:
    with duckdb.connect(":memory:") as con:
        Book(con).ensure_schema()
        write_dataset(tmp_path / "dataset", spec)
        check_dataset(tmp_path / "dataset", spec, CFG, con)
