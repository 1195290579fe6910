"""When a dataset's order books begin and end, read cheaply (first and last line per file).

``btcbot backtest`` checks its window against it before starting: a cycle before any
book row has no data at all, and the market gate would stop the backtest there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from btcbot_pipeline.adapters.replay.csvio import parse_timestamp_us, to_datetime


@dataclass(frozen=True, slots=True)
class Span:
    first: datetime  # earliest first book row over all symbols
    last: datetime  # latest last book row


def _edge_lines(path: Path) -> tuple[str, str] | None:
    with path.open("rb") as fh:
        fh.readline()  # header
        first = fh.readline().decode("utf-8", "replace").strip()
        if not first:
            return None
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = [line for line in fh.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return first, tail[-1]


def dataset_span(root: str | Path) -> Span | None:
    """The span of ``root/orderbook/*.csv`` rows; ``None`` if no row can be read."""
    firsts, lasts = [], []
    for path in sorted((Path(root) / "orderbook").glob("*.csv")):
        try:
            edges = _edge_lines(path)
            if edges is None:
                continue
            firsts.append(to_datetime(parse_timestamp_us(edges[0].split(",", 1)[0])))
            lasts.append(to_datetime(parse_timestamp_us(edges[1].split(",", 1)[0])))
        except (OSError, ValueError):
            continue  # replay-validate reports unreadable files
    return Span(min(firsts), max(lasts)) if firsts else None
