"""Freqtrade ``download-data`` OHLCV files → bars in exact ``Decimal`` (for ``replay-import``).

Inside:

- :class:`ReplayImportError`: the import cannot run; the message names the file or option.
- :func:`parse_timeframe`: ``5m`` → 300 seconds (``s m h d w``; ``1M`` has no fixed length).
- :func:`parse_pair`: ``eth/btc`` or ``ETH_BTC`` → ``("ETH", "BTC")``.
- :func:`find_sources`: the ``<BASE>_<QUOTE>-<tf>.feather|json|csv`` files of one folder;
  :func:`select_sources` picks the timeframe and pairs to import.
- :func:`read_source`: one file → :class:`SourceBars` (valid rows by time, bad rows counted).

Formats (Freqtrade's own for feather and JSON):

========  ==================================================================================
feather   columns ``date`` (timestamp, UTC), ``open high low close volume`` (numbers)
json      a list of ``[ts_ms, open, high, low, close, volume]`` arrays
csv       header ``date,open,high,low,close,volume``; ``date`` ISO-8601 or epoch s / ms
========  ==================================================================================

Every number is rounded to :data:`SOURCE_DIGITS` significant digits on the way in. Feather
holds binary floats: 15 digits (``DBL_DIG``) is the most a float64 keeps for any decimal, so
``0.09946999000000001`` (the float nearest ``0.09946999``) reads back as ``0.09946999``. Text
formats get the same rounding, so one candle gives the same Decimal whatever its format.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

from btcbot_pipeline.adapters.replay.csvio import TimestampParseError, parse_timestamp_us
from btcbot_pipeline.errors import BtcbotError

SOURCE_DIGITS = 15
COLUMNS = ("date", "open", "high", "low", "close", "volume")
FORMATS = ("feather", "json", "csv")

_SOURCE_CONTEXT = Context(prec=SOURCE_DIGITS, rounding=ROUND_HALF_EVEN)
_FILE_NAME = re.compile(r"^([A-Za-z0-9]+)_([A-Za-z0-9]+)-(\d+[smhdwM])\.(feather|json|csv)$")
_TIMEFRAME = re.compile(r"^(\d+)([smhdwM])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_ARROW_UNIT_US = {"s": 1_000_000, "ms": 1_000, "us": 1}
_ZERO = Decimal(0)


class ReplayImportError(BtcbotError):
    """Freqtrade candles cannot be imported: missing folder or file, unreadable file, bad
    option. The message names the path or option concerned and the value seen."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One Freqtrade candle file: ``ETH_BTC-5m.feather`` → base ETH, quote BTC, ``5m``."""

    path: Path
    base: str
    quote: str
    timeframe: str
    format: str

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(slots=True)
class SourceBars:
    """The valid rows of one file, oldest first, one per bar open time.

    Attributes:
        open_us: bar open times (Freqtrade's ``date``), epoch microseconds, increasing.
        open / high / low / close / volume: the bar's values, rounded to
            :data:`SOURCE_DIGITS` significant digits.
        skipped: reason → rows dropped (``not_a_number``, ``non_positive_price``,
            ``negative_volume``, ``high_below_low``, ``bad_timestamp``, ``bad_row``,
            ``duplicate_timestamp``).
    """

    open_us: list[int] = field(default_factory=list)
    open: list[Decimal] = field(default_factory=list)
    high: list[Decimal] = field(default_factory=list)
    low: list[Decimal] = field(default_factory=list)
    close: list[Decimal] = field(default_factory=list)
    volume: list[Decimal] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.open_us)


def parse_timeframe(text: str) -> int:
    """A Freqtrade timeframe (``1m``, ``5m``, ``1h``, ``1d``, ``1w``) in seconds.

    Raises:
        ReplayImportError: for anything else, including ``1M``: a month has no fixed
            length, so a bar's close time could not be derived from its open.
    """
    match = _TIMEFRAME.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ReplayImportError(f"timeframe must look like 1m, 5m, 1h or 1d, was {text!r}")
    if match.group(2) == "M":
        raise ReplayImportError(f"timeframe {text!r} is a month, which has no fixed length; import 1d or 1w bars")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_pair(text: str) -> tuple[str, str]:
    """``ETH/BTC``, ``eth_btc`` → ``("ETH", "BTC")``.

    Raises:
        ReplayImportError: unless the text is two letter/digit names joined by ``/`` or ``_``.
    """
    parts = re.split(r"[/_]", text.strip().upper())
    if len(parts) != 2 or not all(p.isascii() and p.isalnum() for p in parts):
        raise ReplayImportError(f"pair {text!r} is not like ETH/BTC or ETH_BTC")
    return parts[0], parts[1]


def find_sources(folder: Path) -> list[SourceFile]:
    """Every Freqtrade spot candle file directly in ``folder``, sorted by name.

    Other files (futures ``…-1h-futures.feather``, trades, READMEs) are ignored.

    Raises:
        ReplayImportError: if ``folder`` is missing or not a folder.
    """
    if not folder.exists():
        raise ReplayImportError(f"OHLCV folder {folder} does not exist")
    if not folder.is_dir():
        raise ReplayImportError(f"OHLCV folder {folder} is a file, expected a folder")
    found = []
    for path in sorted(folder.iterdir()):
        match = _FILE_NAME.match(path.name)
        if match is not None and path.is_file():
            base, quote, timeframe, fmt = match.groups()
            found.append(SourceFile(path, base.upper(), quote.upper(), timeframe, fmt))
    return found


def select_sources(
    sources: list[SourceFile], folder: Path, pairs: Sequence[str] | None, timeframe: str | None
) -> tuple[list[SourceFile], str]:
    """The files to import, sorted by pair, and their timeframe.

    Args:
        sources: what :func:`find_sources` found in ``folder``.
        pairs: ``ETH/BTC`` / ``ETH_BTC`` names, ``None`` for every pair of the timeframe.
        timeframe: ``None`` to take the folder's only timeframe.

    Raises:
        ReplayImportError: no file at all, several timeframes and none chosen, no file of
            the timeframe, two formats of one pair, a pair asked for without a file, or
            pairs of several quote currencies.
    """
    if not sources:
        raise ReplayImportError(
            f"no Freqtrade OHLCV files (<BASE>_<QUOTE>-<timeframe>.feather, .json or .csv) in {folder}"
        )
    found = sorted({s.timeframe for s in sources})
    if timeframe is None:
        if len(found) > 1:
            raise ReplayImportError(
                f"{folder} holds several timeframes ({', '.join(found)}); choose one with --timeframe"
            )
        frame = found[0]
    else:
        frame = timeframe.strip()
        parse_timeframe(frame)
    by_pair: dict[str, SourceFile] = {}
    for source in sources:
        if source.timeframe != frame:
            continue
        other = by_pair.setdefault(source.pair, source)
        if other is not source:
            raise ReplayImportError(
                f"{folder} holds {other.path.name} and {source.path.name} for {source.pair} {frame}; keep one of them"
            )
    if not by_pair:
        raise ReplayImportError(f"no {frame} files in {folder}; timeframes found: {', '.join(found)}")
    wanted = sorted(by_pair) if pairs is None else sorted({"/".join(parse_pair(p)) for p in pairs})
    if not wanted:
        raise ReplayImportError("pairs must name at least one pair like ETH/BTC, was none")
    missing = [p for p in wanted if p not in by_pair]
    if missing:
        raise ReplayImportError(
            f"no {frame} file for {', '.join(missing)} in {folder}; pairs found: {', '.join(sorted(by_pair))}"
        )
    quotes = sorted({by_pair[p].quote for p in wanted})
    if len(quotes) > 1:
        raise ReplayImportError(
            f"the pairs are quoted in {', '.join(quotes)}, but one rate converts one quote "
            "currency; choose pairs of one quote with --pairs"
        )
    return [by_pair[p] for p in wanted], frame


def read_source(source: SourceFile, content: bytes) -> SourceBars:
    """Parse the bytes of ``source`` (read once by the caller, who also hashes them).

    Rows that cannot be a bar (a missing or non-finite value, a price <= 0, a negative
    volume, high < low, an unreadable time) are skipped and counted; rows are sorted by
    time and a repeated time keeps its first row. Nothing is filled in: a bar missing from
    the file stays missing.

    Raises:
        ReplayImportError: if the file as a whole cannot be read (not feather/JSON/CSV,
            missing columns, wrong JSON shape); the message starts with the path.
    """
    try:
        if source.format == "feather":
            rows = _feather_rows(content)
        elif source.format == "json":
            rows = _json_rows(content)
        else:
            rows = _csv_rows(content)
    except ReplayImportError as exc:
        raise ReplayImportError(f"cannot read {source.path}: {exc}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise ReplayImportError(f"cannot read {source.path}: {exc}") from None
    return _collect(rows)


# A raw row: (open time µs or None if unreadable, [open, high, low, close, volume] as found).
_RawRow = tuple[int | None, list[object]]


def _feather_rows(content: bytes) -> list[_RawRow]:
    table = feather.read_table(pa.BufferReader(content))
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ReplayImportError(f"missing columns {missing}; columns were {table.column_names}")
    date = table.column("date")
    if not pa.types.is_timestamp(date.type):
        raise ReplayImportError(f"column 'date' must be a timestamp, was {date.type}")
    # Arrow keeps timestamps as UTC integers whatever the zone label, so the cast is exact.
    unit = date.type.unit
    raw = date.cast(pa.int64()).to_pylist()
    if unit == "ns":
        stamps = [None if v is None else v // 1000 for v in raw]
    else:
        stamps = [None if v is None else v * _ARROW_UNIT_US[unit] for v in raw]
    values = [table.column(c).to_pylist() for c in COLUMNS[1:]]
    return [(stamp, list(cells)) for stamp, *cells in zip(stamps, *values, strict=True)]


def _json_rows(content: bytes) -> list[_RawRow]:
    # Numbers straight to Decimal: the JSON text is decimal already, no float in between.
    payload = json.loads(content.decode("utf-8-sig"), parse_float=Decimal)
    if not isinstance(payload, list):
        raise ReplayImportError(
            f"expected a JSON list of [ts_ms, open, high, low, close, volume] rows, was {type(payload).__name__}"
        )
    rows: list[_RawRow] = []
    for item in payload:
        if not isinstance(item, list) or len(item) != len(COLUMNS):
            rows.append((None, []))
            continue
        stamp = item[0]
        ok = isinstance(stamp, int) and not isinstance(stamp, bool) and stamp >= 0
        rows.append((stamp * 1000 if ok else None, item[1:]))  # type: ignore[operator]
    return rows


def _csv_rows(content: bytes) -> list[_RawRow]:
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ReplayImportError(f"missing columns {missing}; header was {header}, expected {','.join(COLUMNS)}")
    index = [header.index(c) for c in COLUMNS]
    rows: list[_RawRow] = []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < len(header):
            rows.append((None, []))
            continue
        try:
            stamp: int | None = parse_timestamp_us(row[index[0]])
        except TimestampParseError:
            stamp = None
        rows.append((stamp, [row[i] for i in index[1:]]))
    return rows


def _collect(rows: list[_RawRow]) -> SourceBars:
    bars = SourceBars()
    skipped = bars.skipped
    valid: list[tuple[int, list[Decimal]]] = []
    for stamp, cells in rows:
        reason, numbers = _check(stamp, cells)
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        valid.append((stamp, numbers))  # type: ignore[arg-type]
    valid.sort(key=lambda row: row[0])  # stable: of two rows at one time the first stays
    previous = None
    for stamp, (open_, high, low, close, volume) in valid:
        if stamp == previous:
            skipped["duplicate_timestamp"] = skipped.get("duplicate_timestamp", 0) + 1
            continue
        previous = stamp
        bars.open_us.append(stamp)
        bars.open.append(open_)
        bars.high.append(high)
        bars.low.append(low)
        bars.close.append(close)
        bars.volume.append(volume)
    bars.skipped = dict(sorted(skipped.items()))
    return bars


def _check(stamp: int | None, cells: list[object]) -> tuple[str | None, list[Decimal]]:
    """Why a raw row is not a bar (or ``None``), and its five numbers."""
    if len(cells) != len(COLUMNS) - 1:
        return "bad_row", []
    if stamp is None:
        return "bad_timestamp", []
    numbers = []
    for cell in cells:
        value = _number(cell)
        if value is None:
            return "not_a_number", []
        numbers.append(value)
    open_, high, low, close, volume = numbers
    if min(open_, high, low, close) <= _ZERO:
        return "non_positive_price", []
    if volume < _ZERO:
        return "negative_volume", []
    if high < low:
        return "high_below_low", []
    return None, numbers


def _number(cell: object) -> Decimal | None:
    """A finite number rounded to :data:`SOURCE_DIGITS` digits, or ``None``."""
    if cell is None or isinstance(cell, bool):
        return None
    try:
        value = _SOURCE_CONTEXT.create_decimal(
            cell.strip() if isinstance(cell, str) else cell  # type: ignore[arg-type]
        )
    except (InvalidOperation, TypeError, ValueError):
        return None
    return value if value.is_finite() else None
