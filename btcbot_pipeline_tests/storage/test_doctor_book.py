"""``btcbot doctor`` on the book itself: a path that cannot be a book, a tampered book."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle
from btcbot_pipeline_tests.test_doctor import doctor, env, status  # noqa: F401  (env: the fixture)


def test_a_book_path_under_a_file_fails_the_storage_check(
    capsys: pytest.CaptureFixture[str],
    env: Path,  # noqa: F811
    replay_dir: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("x")
    code, out = doctor(capsys, env, replay_dir, tmp_path / "file" / "book.duckdb")

    assert code == 2 and status(out, "storage/book") == "FAIL", out
    assert f"STATE_DB_PATH={tmp_path}/file/book.duckdb: {tmp_path}/file is a file, not a folder" in out


def test_a_tampered_book_fails_its_check_and_a_good_one_passes(
    capsys: pytest.CaptureFixture[str],
    env: Path,  # noqa: F811
    replay_dir: Path,
    tmp_path: Path,
) -> None:
    db = tmp_path / "book.duckdb"
    assert (
        Cycle(db=db, dataset=replay_dir, overrides=dict(DEMO))
        .run(first="2026-01-01T00:00", last="2026-01-01T00:20")
        .success
    )
    code, out = doctor(capsys, env, replay_dir, db)
    assert status(out, "storage/book_check") == "PASS", out
    assert f"{db}: 5 cycles (rows of the last 5 recomputed) check out" in out

    shutil.copy(db, tmp_path / "copy.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE ledger_metrics SET cash_try = cash_try + 1000 WHERE cycle_ts = TIMESTAMP '2026-01-01 00:20'"
        )
    code, out = doctor(capsys, env, replay_dir, db)

    assert code == 2 and status(out, "storage/book_check") == "FAIL", out
    assert "ERROR  2026-01-01T00:20  ledger_metrics.cash_try  equity ≠ cash + positions value" in out
    assert f"fix: btcbot verify {db} lists them all" in out
