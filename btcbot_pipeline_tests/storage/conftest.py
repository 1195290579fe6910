"""Fixtures of the storage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle


@pytest.fixture(scope="module")
def clean_book(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> Path:
    """A book as one run left it: 24 cycles, 00:00 … 01:55 (copy it before writing on it)."""
    db = tmp_path_factory.mktemp("book") / "book.duckdb"
    assert (
        Cycle(db=db, dataset=replay_dir, overrides=dict(DEMO))
        .run(first="2026-01-01T00:00", last="2026-01-01T01:55")
        .success
    )
    return db
