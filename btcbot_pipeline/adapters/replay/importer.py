"""``btcbot replay-import``: Freqtrade ``download-data`` candles → a replay dataset.

Inside:

- :func:`import_freqtrade_ohlcv` → :class:`ImportSummary` (one :class:`ImportedPair` each).
- :func:`parse_pair_list`: ``"ETH/BTC,LTC_BTC"`` → ``("ETH/BTC", "LTC/BTC")``.
- :class:`ReplayImportError` (from ``importer_source``) and :data:`MANIFEST`.

Reading the source files is ``importer_source``; the derived book, ticker and rules are
``importer_derive``. What is written (the layout ``ReplayDataset.load`` reads)::

    candles/<BASE><QUOTE>.csv    ts,open,high,low,close,volume     ts = bar open + timeframe
    orderbook/<BASE><QUOTE>.csv  ts,best_bid,best_ask               from the bar's range
    ticker/<BASE><QUOTE>.csv     ts,last,high,low,volume,quote_volume   trailing 24 h
    exchangeinfo.json            BTCTurk's shape, rules chosen from each pair's prices
    import_manifest.json         options, source sha256, rows/skips/gaps per pair, outputs

Freqtrade stamps a bar with its *open*; the replay layout stamps a row with the time it
became known, so a candle's ``ts`` is its close (open + timeframe) and a replay at ``t``
never sees a bar that was still forming. Prices are source × rate, exact; volumes stay in
base units. Missing bars stay missing: no row is invented for them. Nothing depends on the
wall clock or on the order files are listed, so the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from btcbot_pipeline.adapters.replay.csvio import SCHEMAS, to_datetime
from btcbot_pipeline.adapters.replay.importer_derive import (
    EXACT,
    RULES_TEXT,
    PairRules,
    choose_rules,
    decimal_text,
    exchange_info_json,
    top_of_book,
    trailing_day,
)
from btcbot_pipeline.adapters.replay.importer_source import (
    SOURCE_DIGITS,
    ReplayImportError,
    SourceBars,
    SourceFile,
    find_sources,
    parse_pair,
    parse_timeframe,
    read_source,
    select_sources,
)
from btcbot_pipeline.domain.money import MoneyParseError, to_decimal
from btcbot_pipeline.domain.vocabulary import canonical_symbol

__all__ = [
    "DEFAULT_MIN_NOTIONAL",
    "MANIFEST",
    "ImportSummary",
    "ImportedPair",
    "ReplayImportError",
    "import_freqtrade_ohlcv",
    "parse_pair_list",
]

MANIFEST = "import_manifest.json"
# The bot's MIN_ORDER_NOTIONAL_TRY default, so its smallest orders pass. BTCTurk's TRY pairs
# published 99.91 in 2021/22 captures; pass min_notional="99.91" to mimic those.
DEFAULT_MIN_NOTIONAL = Decimal("10")
# More rate digits could overflow the exact context once prices are multiplied by volumes.
MAX_RATE_DIGITS = 30

_SECOND_US = 1_000_000
_PRICE_RULE = f"source rounded to {SOURCE_DIGITS} significant digits, times rate, exact"


@dataclass(frozen=True, slots=True)
class ImportedPair:
    """One pair as written.

    Attributes:
        pair: source pair, ``ETH/BTC``.
        symbol: dataset symbol, base + target quote, ``ETHTRY``.
        source_file: the Freqtrade file name.
        rows: candles written (= book and ticker rows).
        skipped: reason → source rows dropped (see ``SourceBars.skipped``).
        missing_bars: bars absent between the first and last one (gaps left as gaps).
        first_ts / last_ts: first and last candle ``ts`` (bar close), ISO-8601 UTC.
        rules: the rules written to ``exchangeinfo.json``.
    """

    pair: str
    symbol: str
    source_file: str
    rows: int
    skipped: dict[str, int]
    missing_bars: int
    first_ts: str
    last_ts: str
    rules: PairRules


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What :func:`import_freqtrade_ohlcv` wrote to ``path``, pairs sorted by symbol."""

    path: Path
    timeframe: str
    quote: str
    rate: Decimal
    pairs: tuple[ImportedPair, ...]


def parse_pair_list(text: str) -> tuple[str, ...]:
    """Comma or space separated pairs → ``BASE/QUOTE`` names, sorted, without repeats.

    Raises:
        ReplayImportError: if an item is not like ``ETH/BTC`` / ``ETH_BTC`` or none is given.
    """
    items = [item for item in re.split(r"[,\s]+", text) if item]
    if not items:
        raise ReplayImportError(f"pairs must name at least one pair like ETH/BTC, was {text!r}")
    return tuple(sorted({"/".join(parse_pair(item)) for item in items}))


def import_freqtrade_ohlcv(
    ohlcv_dir: str | os.PathLike[str],
    dataset: str | os.PathLike[str],
    *,
    quote: str,
    rate: str | Decimal | int,
    pairs: Sequence[str] | None = None,
    timeframe: str | None = None,
    min_notional: str | Decimal | int = DEFAULT_MIN_NOTIONAL,
) -> ImportSummary:
    """Convert Freqtrade candles in ``ohlcv_dir`` into a replay dataset at ``dataset``.

    Args:
        ohlcv_dir: folder of ``<BASE>_<QUOTE>-<tf>.feather|json|csv`` files.
        dataset: folder to write (created if needed); files of the imported symbols are
            replaced.
        quote: target quote currency, e.g. ``TRY``; symbols become base + quote.
        rate: > 0, target quote per source quote (100000 → 1 BTC = 100,000 TRY).
        pairs: ``ETH/BTC`` or ``ETH_BTC`` names; ``None`` → every pair of the timeframe.
        timeframe: e.g. ``5m``; may be left out when the folder holds only one.
        min_notional: > 0, ``minExchangeValue`` written for every pair.

    Raises:
        ReplayImportError: a missing folder, no matching file, an unreadable file or one
            without a usable row, a pair asked for but absent, pairs of several source
            quotes (one rate cannot convert them all), a bad option value, or a dataset
            folder holding other symbols' files. The message names the path or option.
    """
    target = _currency(quote)
    rate_value = _positive("rate", rate)
    if len(rate_value.normalize(EXACT).as_tuple().digits) > MAX_RATE_DIGITS:
        raise ReplayImportError(f"rate must have at most {MAX_RATE_DIGITS} significant digits, was {rate!r}")
    min_value = _positive("min_notional", min_notional)
    folder = Path(ohlcv_dir)
    chosen, frame = select_sources(find_sources(folder), folder, pairs, timeframe)
    frame_us = parse_timeframe(frame) * _SECOND_US
    root = Path(dataset)
    symbols = {s.pair: canonical_symbol(s.base + target) for s in chosen}
    _refuse_foreign_files(root, set(symbols.values()))

    outputs: dict[str, bytes] = {}
    source_sha: dict[str, str] = {}
    imported = []
    last_us = 0
    for source in chosen:
        content = _read_bytes(source.path)
        source_sha[source.path.name] = hashlib.sha256(content).hexdigest()
        bars = read_source(source, content)
        if not bars:
            raise ReplayImportError(f"{source.path} has no usable row ({_skipped_text(bars.skipped)})")
        pair, files = _convert(source, symbols[source.pair], bars, frame_us, rate_value, min_value)
        imported.append(pair)
        outputs.update(files)
        last_us = max(last_us, bars.open_us[-1] + frame_us)
    imported.sort(key=lambda p: p.symbol)
    listed = [(p.symbol, p.symbol[: -len(target)], p.rules) for p in imported]
    outputs["exchangeinfo.json"] = exchange_info_json(listed, target, last_us // 1000)
    for kind in ("candles", "orderbook", "ticker"):
        (root / kind).mkdir(parents=True, exist_ok=True)
    for rel in sorted(outputs):
        _write_bytes(root / rel, outputs[rel])
    summary = ImportSummary(root, frame, target, rate_value, tuple(imported))
    _write_bytes(root / MANIFEST, _manifest(summary, folder, source_sha, min_value, outputs))
    return summary


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not (code.isascii() and code.isalnum()):
        raise ReplayImportError(f"quote must be a currency code like TRY, was {text!r}")
    return code


def _positive(name: str, value: object) -> Decimal:
    try:
        number = to_decimal(value, field=name)
    except MoneyParseError:
        number = None
    if number is None or number <= 0:
        raise ReplayImportError(f"{name} must be a positive decimal number, was {value!r}")
    return number


def _refuse_foreign_files(root: Path, symbols: set[str]) -> None:
    if root.exists() and not root.is_dir():
        raise ReplayImportError(f"dataset path {root} is a file, expected a folder")
    foreign = [
        f"{kind}/{path.name}"
        for kind in SCHEMAS
        if (root / kind).is_dir()
        for path in sorted((root / kind).glob("*.csv"))
        if canonical_symbol(path.stem) not in symbols
    ]
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        raise ReplayImportError(
            f"{root} already holds dataset files this import would not replace: {shown}; "
            "remove them or choose an empty folder"
        )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReplayImportError(f"cannot read {path}: {exc.strerror or exc}") from None


def _convert(
    source: SourceFile,
    symbol: str,
    bars: SourceBars,
    frame_us: int,
    rate: Decimal,
    min_notional: Decimal,
) -> tuple[ImportedPair, dict[str, bytes]]:
    stamps = [t + frame_us for t in bars.open_us]
    ts = [_iso(s) for s in stamps]
    mul = EXACT.multiply
    open_ = [mul(p, rate) for p in bars.open]
    high = [mul(p, rate) for p in bars.high]
    low = [mul(p, rate) for p in bars.low]
    close = [mul(p, rate) for p in bars.close]
    rules = choose_rules(min(low), max(high), min_notional)
    text = decimal_text
    high_text = [text(v) for v in high]
    low_text = [text(v) for v in low]
    close_text = [text(v) for v in close]
    volume_text = [text(v) for v in bars.volume]

    candles = ["ts,open,high,low,close,volume"]
    books = ["ts,best_bid,best_ask"]
    tickers = ["ts,last,high,low,volume,quote_volume"]
    day = trailing_day(stamps, high, low, close, bars.volume)
    for i, stamp in enumerate(ts):
        candles.append(f"{stamp},{text(open_[i])},{high_text[i]},{low_text[i]},{close_text[i]},{volume_text[i]}")
        bid, ask = top_of_book(low[i], high[i], close[i], rules.tick_size)
        books.append(f"{stamp},{text(bid)},{text(ask)}")
        _, day_high, day_low, day_volume, day_quote = day[i]
        tickers.append(f"{stamp},{close_text[i]},{text(day_high)},{text(day_low)},{text(day_volume)},{text(day_quote)}")
    span = (bars.open_us[-1] - bars.open_us[0]) // frame_us + 1
    pair = ImportedPair(
        pair=source.pair,
        symbol=symbol,
        source_file=source.path.name,
        rows=len(bars),
        skipped=bars.skipped,
        missing_bars=span - len(bars),
        first_ts=ts[0],
        last_ts=ts[-1],
        rules=rules,
    )
    files = {
        f"candles/{symbol}.csv": _lines(candles),
        f"orderbook/{symbol}.csv": _lines(books),
        f"ticker/{symbol}.csv": _lines(tickers),
    }
    return pair, files


def _iso(epoch_us: int) -> str:
    moment = to_datetime(epoch_us)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if epoch_us % _SECOND_US:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _lines(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def _skipped_text(skipped: dict[str, int]) -> str:
    if not skipped:
        return "the file holds no rows"
    return "skipped " + ", ".join(f"{count} {reason}" for reason, count in skipped.items())


def _manifest(
    summary: ImportSummary,
    folder: Path,
    source_sha: dict[str, str],
    min_notional: Decimal,
    outputs: dict[str, bytes],
) -> bytes:
    payload = {
        "tool": "btcbot replay-import",
        "source": {
            "format": "freqtrade",
            "dir": str(folder.resolve()),
            "files": dict(sorted(source_sha.items())),
        },
        "timeframe": summary.timeframe,
        "quote": summary.quote,
        "rate": decimal_text(summary.rate),
        "min_notional": decimal_text(min_notional),
        "rules": {"prices": _PRICE_RULE, **RULES_TEXT},
        "pairs": {
            p.pair: {
                "symbol": p.symbol,
                "source_file": p.source_file,
                "rows": p.rows,
                "skipped": p.skipped,
                "skipped_total": sum(p.skipped.values()),
                "missing_bars": p.missing_bars,
                "first_ts": p.first_ts,
                "last_ts": p.last_ts,
                "tick_size": decimal_text(p.rules.tick_size),
                "quantity_scale": p.rules.quantity_scale,
            }
            for p in sorted(summary.pairs, key=lambda p: p.pair)
        },
        "outputs": {rel: hashlib.sha256(outputs[rel]).hexdigest() for rel in sorted(outputs)},
    }
    return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_bytes(path: Path, content: bytes) -> None:
    # Write then rename, so a reader never sees a half-written file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
