"""The run tag that names a run's book, for the instance's queue.

A DuckDB book is a single-writer file. Every run the bot launches (the dry-run cycle's job,
schedule and sensors, the live cycle, backtests and sweep members) carries ``btcbot/book``
with the book's resolved path, and the instance's ``QueuedRunCoordinator`` limits that tag
to one run per unique value (``dagster_home/postgres/dagster.yaml``): runs of one book wait
for each other, runs of different books run in parallel.
"""

from __future__ import annotations

from pathlib import Path

BOOK_TAG = "btcbot/book"


def book_tags(path: str | Path) -> dict[str, str]:
    """``{"btcbot/book": <resolved path>}``: the same file gives the same value from any cwd."""
    return {BOOK_TAG: str(Path(path).resolve())}
