"""``btcbot replay-capture``: the live public API → a replay dataset.

Polls the ticker (one call for all pairs) and each symbol's order book every
``poll_interval_s`` for ``minutes``, then fetches the *real* 1-minute OHLC candles of the
whole span (plus ``history_minutes`` before it, so the first cycles have closes for
volatility) from graph-api ``klines/history``. Writes the layout the replay reader and
``replay-validate`` accept::

    candles/<SYMBOL>.csv    ts,open,high,low,close,volume     ts = bar close (t + 60 s)
    orderbook/<SYMBOL>.csv  ts,best_bid,best_ask               ts = the book's exchange timestamp
    ticker/<SYMBOL>.csv     ts,last,high,low,volume,open,daily_change_pct   ts = ticker timestamp
    exchangeinfo.json       the exchangeinfo response, envelope included
    capture_manifest.json   source, times, polls, failures, row counts, sha256 of every file

A poll that fails after the client's retries is counted in the manifest and skipped; a
book or ticker whose exchange timestamp did not move since the previous poll adds no row.
The clock and sleep are injected so a test captures "minutes" in milliseconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from btcbot_pipeline.adapters.btcturk.client import BtcturkPublicClient
from btcbot_pipeline.adapters.btcturk.errors import BtcturkError
from btcbot_pipeline.adapters.btcturk.schemas import encode_json, ms_to_datetime
from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.vocabulary import canonical_symbol
from btcbot_pipeline.errors import BtcbotError

BAR_S = 60
MANIFEST = "capture_manifest.json"


class CaptureError(BtcbotError):
    """The capture cannot start or produced nothing usable (message says which)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class CaptureManifest:
    source: dict[str, str]
    symbols: list[str]
    started_at: str
    ended_at: str
    polls: int
    failures: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "symbols": self.symbols,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "polls": self.polls,
            "failures": self.failures,
            "rows": self.rows,
            "sha256": self.sha256,
        }


def capture_replay_dataset(
    client: BtcturkPublicClient,
    dataset: str | Path,
    symbols: list[str],
    *,
    minutes: float,
    poll_interval_s: float = 10.0,
    history_minutes: int = 60,
    clock: Callable[[], datetime] = _now,
    sleep: Callable[[float], None] = time.sleep,
) -> CaptureManifest:
    """Capture ``symbols`` for ``minutes`` into ``dataset`` (created; existing capture files replaced).

    Raises:
        CaptureError: no symbols, or no order book row at all could be captured.
    """
    wanted = sorted({canonical_symbol(s) for s in symbols})
    if not wanted:
        raise CaptureError("no symbols to capture: pass --symbols BTCTRY,ETHTRY")
    root = Path(dataset)
    books: dict[str, list[list[str]]] = {s: [] for s in wanted}
    tickers: dict[str, list[list[str]]] = {s: [] for s in wanted}
    failures: dict[str, int] = {}
    started = clock()
    polls = max(1, int(minutes * 60 // poll_interval_s) if poll_interval_s > 0 else 1)
    for n in range(polls):
        _poll(client, wanted, books, tickers, failures)
        if n + 1 < polls:
            sleep(poll_interval_s)
    ended = clock()
    if not any(books.values()):
        raise CaptureError(f"no order book could be captured for {', '.join(wanted)} ({_failure_text(failures)})")
    start_s = int(started.timestamp()) - history_minutes * 60
    end_s = int(ended.timestamp())
    candles: dict[str, list[list[str]]] = {}
    for sym in wanted:
        try:
            bars = client.klines(sym, resolution_min=1, start_s=start_s, end_s=end_s)
        except BtcturkError:
            failures["klines"] = failures.get("klines", 0) + 1
            bars = []
        candles[sym] = [
            [
                utc.millis_text(datetime.fromtimestamp(b.time + BAR_S, tz=timezone.utc)),
                *(format(x, "f") for x in (b.open, b.high, b.low, b.close, b.volume)),
            ]
            for b in bars
            if b.time + BAR_S <= end_s
        ]
    files: dict[str, bytes] = {}
    for sym in wanted:
        if not books[sym] or not candles[sym]:
            continue  # the manifest's rows say which symbol got nothing
        files[f"orderbook/{sym}.csv"] = _csv(["ts", "best_bid", "best_ask"], books[sym])
        files[f"candles/{sym}.csv"] = _csv(["ts", "open", "high", "low", "close", "volume"], candles[sym])
        if tickers[sym]:
            files[f"ticker/{sym}.csv"] = _csv(
                ["ts", "last", "high", "low", "volume", "open", "daily_change_pct"], tickers[sym]
            )
    if not files:
        raise CaptureError(f"no symbol has both order book rows and candles ({_failure_text(failures)})")
    try:
        info = client.exchange_info()
        files["exchangeinfo.json"] = encode_json({"success": True, "message": None, "code": 0, "data": info})
    except BtcturkError:
        failures["exchangeinfo"] = failures.get("exchangeinfo", 0) + 1
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    manifest = CaptureManifest(
        source={"kind": "btcturk", "base_url": client.base_urls[0], "graph_base_url": client.base_urls[1]},
        symbols=wanted,
        started_at=utc.millis_text(started),
        ended_at=utc.millis_text(ended),
        polls=polls,
        failures=failures,
        rows={rel: content.count(b"\n") - 1 for rel, content in sorted(files.items()) if rel.endswith(".csv")},
        sha256={rel: hashlib.sha256(content).hexdigest() for rel, content in sorted(files.items())},
    )
    (root / MANIFEST).write_text(json.dumps(manifest.as_dict(), indent=2) + "\n", encoding="utf-8")
    return manifest


def _poll(
    client: BtcturkPublicClient,
    wanted: list[str],
    books: dict[str, list[list[str]]],
    tickers: dict[str, list[list[str]]],
    failures: dict[str, int],
) -> None:
    try:
        rows = {t.symbol: t for t in client.tickers()}
    except BtcturkError:
        failures["ticker"] = failures.get("ticker", 0) + 1
        rows = {}
    for sym in wanted:
        t = rows.get(sym)
        if (
            t is not None
            and t.timestamp is not None
            and t.last is not None
            and t.high is not None
            and t.low is not None
            and t.volume is not None
        ):
            row = [
                utc.millis_text(ms_to_datetime(t.timestamp)),
                *(
                    format(x, "f") if x is not None else ""
                    for x in (t.last, t.high, t.low, t.volume, t.open, t.dailypercent)
                ),
            ]
            if not tickers[sym] or tickers[sym][-1][0] < row[0]:
                tickers[sym].append(row)
        try:
            book = client.order_book(sym, limit=5)
        except BtcturkError:
            failures["orderbook"] = failures.get("orderbook", 0) + 1
            continue
        if book.timestamp is None or book.best_bid is None or book.best_ask is None:
            failures["orderbook_empty"] = failures.get("orderbook_empty", 0) + 1
            continue
        row = [utc.millis_text(ms_to_datetime(book.timestamp)), format(book.best_bid, "f"), format(book.best_ask, "f")]
        if not books[sym] or books[sym][-1][0] < row[0]:
            books[sym].append(row)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _failure_text(failures: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v} failed" for k, v in sorted(failures.items())) or "no call failed"
