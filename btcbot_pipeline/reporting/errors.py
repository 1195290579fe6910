"""The reporting errors (no DuckDB import, so the CLI can catch them cheaply)::

ReportingError               nothing to report or compare (empty window, …)
 └── BookAccessError          the book cannot be read (not a DuckDB file, …)
      ├── BookNotFoundError   neither the path nor the backtest name exists
      └── BookLockedError     another process holds the write lock
"""

from __future__ import annotations

from btcbot_pipeline.errors import BtcbotError


class ReportingError(BtcbotError):
    """A report, fingerprint, parity or export request cannot be answered; the message says why."""


class BookAccessError(ReportingError):
    """A book cannot be opened for reading; the message names the file and the cause."""


class BookNotFoundError(BookAccessError):
    """Neither the given path nor ``<BACKTEST_DIR>/<name>.duckdb`` exists."""


class BookLockedError(BookAccessError):
    """Another process writes the book and holds DuckDB's file lock."""
