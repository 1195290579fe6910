"""Where the books and the replay dataset live, and how the gates validate a run:
``STATE_DB_PATH``, ``REPLAY_DATASET_PATH``, ``BACKTEST_DIR``, ``GATE_CHUNK_CYCLES`` and
``GATE_VALIDATOR``. Read as they are by the Dagster definitions and the CLI; no domain
parameters come from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DataSection(BaseModel):
    """Paths of the dry-run book, the replay dataset and the backtests; gate chunking."""

    state_db_path: str = Field(default="data/btcbot_book.duckdb", alias="STATE_DB_PATH")
    replay_dataset_path: str = Field(default="data/replay", alias="REPLAY_DATASET_PATH")
    # One book per backtest: BACKTEST_DIR/<name>.duckdb (never the dry-run book).
    backtest_dir: str = Field(default="data/backtests", alias="BACKTEST_DIR")
    # Cycles validated by the gates and committed together (a run's chunk): Great
    # Expectations costs ~60 ms per suite run whatever the size, so larger chunks are
    # faster; a failing gate discards its whole chunk. Default: 30 days of 5-minute cycles.
    gate_chunk_cycles: int = Field(default=2880, ge=1, le=100_000, alias="GATE_CHUNK_CYCLES")
    # Who evaluates the gate suites: `auto` (Great Expectations for runs of 12 cycles or
    # more; a shorter run, e.g. one scheduled cycle, in pure Python with GE's verdicts and
    # without GE's ~3 s import), `great_expectations` or `exact` always.
    gate_validator: Literal["auto", "great_expectations", "exact"] = Field(default="auto", alias="GATE_VALIDATOR")
