"""Builders for replay-dataset tests (``btcbot_pipeline_tests/adapters/replay/``): CSV files
written from literal text.

A test writes its CSVs as literal text, so the rows under test are visible in the test:

    root = write_dataset(tmp_path, candles={"BTCTRY": CANDLES}, orderbook={"BTCTRY": BOOK})
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path

CANDLES_HEADER = "ts,open,high,low,close,volume"
BOOK_HEADER = "ts,best_bid,best_ask"
TICKER_HEADER = "ts,last,high,low,volume,quote_volume"

# One clean symbol: three one-minute bars and books ending 2026-01-01T00:02:00Z.
GOOD_CANDLES = """\
ts,open,high,low,close,volume
2026-01-01T00:00:00Z,100,110,90,105,2
2026-01-01T00:01:00Z,105,106,100,101,3
2026-01-01T00:02:00Z,101,104,99,103,1
"""
GOOD_BOOK = """\
ts,best_bid,best_ask
2026-01-01T00:00:00Z,104,106
2026-01-01T00:01:00Z,100,102
2026-01-01T00:02:00Z,102,104
"""


def utc(text: str) -> datetime:
    """``"2026-01-01T00:02:00Z"`` → aware UTC datetime."""
    return datetime.fromisoformat(text)


def write_file(root: Path, relative: str, text: str) -> Path:
    """Write ``text`` (dedented) at ``root / relative``, creating folders."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_dataset(
    root: Path,
    *,
    candles: dict[str, str] | None = None,
    orderbook: dict[str, str] | None = None,
    ticker: dict[str, str] | None = None,
    exchangeinfo: object | None = None,
    folders: tuple[str, ...] = ("candles", "orderbook"),
) -> Path:
    """A dataset folder with the given files (symbol → CSV text per folder).

    ``folders`` are created even when empty; ``exchangeinfo`` is dumped as JSON unless it
    is a ``str``, which is written verbatim (for broken-JSON cases).
    """
    root.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        (root / folder).mkdir(exist_ok=True)
    for kind, files in (("candles", candles), ("orderbook", orderbook), ("ticker", ticker)):
        for symbol, text in (files or {}).items():
            write_file(root, f"{kind}/{symbol}.csv", text)
    if exchangeinfo is not None:
        text = exchangeinfo if isinstance(exchangeinfo, str) else json.dumps(exchangeinfo)
        write_file(root, "exchangeinfo.json", text)
    return root


def good_dataset(root: Path, *symbols: str, **extra: object) -> Path:
    """``symbols`` (default BTCTRY) with :data:`GOOD_CANDLES` / :data:`GOOD_BOOK`, plus ``extra``
    files passed to :func:`write_dataset` (merged over the good ones)."""
    names = symbols or ("BTCTRY",)
    candles = {s: GOOD_CANDLES for s in names} | dict(extra.pop("candles", {}) or {})  # type: ignore[arg-type]
    orderbook = {s: GOOD_BOOK for s in names} | dict(extra.pop("orderbook", {}) or {})  # type: ignore[arg-type]
    return write_dataset(root, candles=candles, orderbook=orderbook, **extra)  # type: ignore[arg-type]


def exchange_symbol(name: str, *, tick: str = "0.01", min_value: str = "99.91", **fields: object) -> dict:
    """One exchangeinfo ``symbols[]`` entry in the real BTCTurk shape."""
    entry: dict[str, object] = {
        "id": 1,
        "name": name,
        "nameNormalized": f"{name[:-3]}_{name[-3:]}",
        "status": "TRADING",
        "numerator": name[:-3],
        "denominator": name[-3:],
        "numeratorScale": 8,
        "denominatorScale": 2,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.0000000000001",
                "maxPrice": "10000000",
                "tickSize": tick,
                "minExchangeValue": min_value,
                "minAmount": None,
                "maxAmount": None,
            }
        ],
    }
    entry.update(fields)
    return entry
