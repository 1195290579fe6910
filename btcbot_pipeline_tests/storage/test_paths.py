"""A path that can never be a book is one line naming the setting, never retried."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from btcbot_pipeline.storage.paths import book_path_problem
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text


def test_each_kind_of_impossible_path_is_named_with_its_setting(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "notes.duckdb").write_text("hello, not a database")

    assert book_path_problem(tmp_path / "file" / "book.duckdb") == (
        f"STATE_DB_PATH={tmp_path}/file/book.duckdb: {tmp_path}/file is a file, not a folder, so the book cannot be "
        "created there"
    )
    assert book_path_problem(tmp_path, "BACKTEST_DIR") == (
        f"BACKTEST_DIR={tmp_path} is a folder: it must name a DuckDB file (e.g. {tmp_path}/btcbot_book.duckdb)"
    )
    assert book_path_problem(tmp_path / "notes.duckdb") == (
        f"STATE_DB_PATH={tmp_path}/notes.duckdb is not a DuckDB database file (21 bytes): move it aside or point "
        "STATE_DB_PATH elsewhere"
    )
    assert book_path_problem(tmp_path / "new" / "deeper" / "book.duckdb", probe=True) is None
    assert not (tmp_path / "new").exists()  # the probe writes in the nearest existing folder, creates none


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes through permission bits: an unwritable folder needs a non-root user"
)
def test_an_unwritable_folder_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert book_path_problem(locked / "book.duckdb") == (
            f"STATE_DB_PATH={locked}/book.duckdb: {locked} is not writable, so the book cannot be created there"
        )
    finally:
        locked.chmod(0o700)


def test_a_cycle_on_a_book_under_a_file_fails_at_once_in_one_line(tmp_path: Path, replay_dir: Path) -> None:
    (tmp_path / "file").write_text("x")
    cycle = Cycle(db=tmp_path / "file" / "book.duckdb", dataset=replay_dir, overrides=dict(DEMO))

    started = time.monotonic()
    result = cycle.run("2026-01-01T00:30")

    assert not result.success and time.monotonic() - started < 30  # no retry (10 + 20 + 40 s)
    text = failure_text(result)
    assert f"BookPathError: STATE_DB_PATH={tmp_path}/file/book.duckdb: {tmp_path}/file is a file, not a folder" in text
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED" or e.is_step_up_for_retry]
