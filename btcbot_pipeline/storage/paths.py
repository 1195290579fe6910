"""Whether a path can be a book, decided before DuckDB is asked.

DuckDB's own errors for a path that can never be a book (a folder on the way that is a
regular file, a folder without write permission, a file that is not a DuckDB database)
are ``IOException``s, the same class as a book locked by another process, which is
transient and retried; so these were retried for minutes and then shown as raw
tracebacks that never named the setting. Checked here first, each is one line naming
the setting and the path, and never retried.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from btcbot_pipeline.storage.book import BookError

# A DuckDB database file carries this magic at byte 8 (its main header).
_MAGIC, _MAGIC_AT = b"DUCK", 8


def book_path_problem(path: str | Path, setting: str = "STATE_DB_PATH", *, probe: bool = False) -> str | None:
    """Why ``path`` cannot be a book, in one line naming ``setting``; ``None`` if it can.

    ``probe``: also create and remove a file in its folder (doctor: permission bits can
    say yes where the file system says no, e.g. read-only mounts)."""
    p = Path(path)
    where = f"{setting}={path}"
    for ancestor in [*reversed(p.parents)]:
        if ancestor.exists() and not ancestor.is_dir():
            return f"{where}: {ancestor} is a file, not a folder, so the book cannot be created there"
    if p.is_dir():
        return f"{where} is a folder: it must name a DuckDB file (e.g. {p / 'btcbot_book.duckdb'})"
    folder = next((a for a in [p.parent, *p.parent.parents] if a.exists()), Path("."))
    if p.exists():
        try:
            with open(p, "rb") as fh:
                head = fh.read(_MAGIC_AT + len(_MAGIC))
        except OSError as exc:
            return f"{where} cannot be read: {exc.strerror or exc}"
        if head[_MAGIC_AT:] != _MAGIC:
            size = p.stat().st_size
            return f"{where} is not a DuckDB database file ({size} bytes): move it aside or point {setting} elsewhere"
        if not os.access(p, os.W_OK):
            return f"{where} is not writable"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"{where}: {folder} is not writable, so the book cannot be {'written' if p.exists() else 'created'} there"
        )
    if probe:
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".btcbot-doctor-"):
                pass
        except OSError as exc:
            return f"{where}: writing in {folder} failed: {exc.strerror or exc}"
    return None


class BookPathError(BookError):
    """``STATE_DB_PATH`` (or a backtest's book) names a path that can never be a book."""
