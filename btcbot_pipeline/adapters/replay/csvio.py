"""Reading a replay dataset's CSV files: the one parser shared by the reader and the validator.

Inside:

- :func:`canonical_symbol`: ``btc_try`` → ``BTCTRY`` (file stems and exchangeinfo names).
- :func:`parse_timestamp_us`, :func:`to_datetime`, :func:`to_epoch_us`: timestamps as
  integer epoch **microseconds**, so rows can be searched with :mod:`bisect` and sub-second
  stamps (13-digit ms, ISO fractions) never move a row earlier than it happened.
- :class:`CsvSchema` and :data:`SCHEMAS`: the columns of ``candles/``, ``orderbook/`` and
  ``ticker/`` files.
- :class:`ValidationIssue`: one problem, with code, relative path, line and severity.
- :func:`read_series_file`: one file → :class:`SeriesFile` (sorted columns + issues). It
  never raises for bad data: every problem becomes an issue, so the validator can list them
  all and the reader can skip just the affected symbol.

``pyarrow.csv`` splits the files (every cell as text, with the line number of each row it
sets aside); what is checked here is the dataset contract: the header, stamps, plain decimal
numbers, :mod:`~btcbot_pipeline.domain.bounds`, book and candle consistency. DuckDB's
``read_csv`` was not used: it gives no line for the rows it accepts (a non-monotonic stamp
needs one), reads ``1_000`` as 1000 and rounds a DECIMAL(38,18) cell to 18 places and
exponent -18, where a value here is the exact ``Decimal`` of the text written.
"""

from __future__ import annotations

import codecs
import itertools
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pcsv

from btcbot_pipeline.adapters.replay.columns import DecimalColumn
from btcbot_pipeline.domain.bounds import FIELD_BOUNDS, MAX_ASK_OVER_BID, OUT_OF_RANGE, describe
from btcbot_pipeline.domain.money import MoneyParseError, to_decimal

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ERROR = "error"
WARNING = "warning"

# Codes above this count per file and code are summarised, not listed: a corrupted file
# would otherwise print one line per row and bury the other files' problems.
MAX_ISSUES_PER_CODE = 5

# A year of one-minute rows is ~40 MB; a CSV past this is refused, not read into memory.
MAX_FILE_BYTES = 512 * 1024 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ZERO = Decimal(0)


class TimestampParseError(ValueError):
    """A ``ts`` cell is neither ISO-8601 nor 10/13-digit epoch seconds/milliseconds."""


def parse_timestamp_us(text: str) -> int:
    """Read one ``ts`` cell as integer microseconds since the Unix epoch (UTC).

    Accepted forms: ISO-8601 with ``Z`` or an offset (``2026-01-01T00:00:00Z``,
    ``...+03:00``), naive ISO (taken as UTC), 10-digit epoch seconds and 13-digit epoch
    milliseconds. Other all-digit tokens are refused: ``20260101`` could be a date or a
    truncated epoch, and guessing would shift rows in time.

    Raises:
        TimestampParseError: with the token seen.
    """
    token = text.strip()
    if token.isascii() and token.isdigit():
        if len(token) == 10:
            return int(token) * 1_000_000
        if len(token) == 13:
            return int(token) * 1_000
        raise TimestampParseError(f"epoch timestamps must have 10 (seconds) or 13 (milliseconds) digits, was {token!r}")
    try:
        parsed = datetime.fromisoformat(token)
    except ValueError:
        raise TimestampParseError(f"ts must be ISO-8601 or epoch seconds/milliseconds, was {token!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _ONE_US


def to_datetime(epoch_us: int) -> datetime:
    """Epoch microseconds → aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=epoch_us)


def to_epoch_us(moment: datetime) -> int:
    """Aware datetime → epoch microseconds (exact, no float)."""
    return (moment - _EPOCH) // _ONE_US


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem found in a dataset.

    Attributes:
        code: stable machine code, e.g. ``non_monotonic_timestamp``.
        path: file or folder relative to the dataset root, POSIX style (``candles/BTCTRY.csv``).
        detail: what was seen and, where useful, what to do.
        severity: ``"error"`` (the dataset, or the symbol, cannot be replayed as is) or
            ``"warning"`` (replay works, the data may be surprising).
        line: 1-based line in ``path`` (the header is line 1), ``None`` for whole files.
        symbol: the symbol concerned, ``None`` for dataset-wide problems.
        field: the column concerned, for ``out_of_range`` (the symbol's skip reason is then
            ``invalid_data:out_of_range:<field>``).
    """

    code: str
    path: str
    detail: str
    severity: str = ERROR
    line: int | None = None
    symbol: str | None = None
    field: str | None = None

    @property
    def reason(self) -> str:
        """The skip reason of a symbol this error excludes: ``invalid_data:<code>[:<field>]``."""
        return f"invalid_data:{self.code}" if self.field is None else f"invalid_data:{self.code}:{self.field}"

    @property
    def location(self) -> str:
        """``path`` or ``path:line``."""
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class CsvSchema:
    """Columns of one folder's files.

    ``optional`` maps a canonical column name to the header spellings accepted for it
    (header cells are compared stripped and lower-cased; the seeds' capture tool wrote
    ``quote_volume``, BTCTurk's ticker says ``quoteVolume``).
    """

    kind: str
    required: tuple[str, ...]
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    prices: tuple[str, ...] = ()  # must be > 0
    volumes: tuple[str, ...] = ()  # must be >= 0


SCHEMAS: dict[str, CsvSchema] = {
    "candles": CsvSchema(
        kind="candles",
        required=("ts", "open", "high", "low", "close", "volume"),
        prices=("open", "high", "low", "close"),
        volumes=("volume",),
    ),
    "orderbook": CsvSchema(
        kind="orderbook",
        required=("ts", "best_bid", "best_ask"),
        prices=("best_bid", "best_ask"),
    ),
    "ticker": CsvSchema(
        kind="ticker",
        required=("ts", "last", "high", "low", "volume"),
        optional={
            "quote_volume": ("quote_volume", "quotevolume"),
            "open": ("open",),
            "daily_change_pct": ("daily_change_pct", "dailypercent", "daily_percent"),
        },
        prices=("last", "high", "low", "open"),
        volumes=("volume", "quote_volume"),
    ),
}


@dataclass(slots=True)
class SeriesFile:
    """The rows of one CSV that could be read, oldest first, and what was wrong with it.

    ``ts`` is strictly increasing: rows that would break the order are dropped and
    reported, a row with the same stamp as the one before replaces it. ``columns`` holds one
    :class:`~btcbot_pipeline.adapters.replay.columns.DecimalColumn` per present column (the
    cells as text, a ``Decimal`` built per read), aligned with ``ts``; an optional column's
    cell may be ``None`` when empty.
    """

    kind: str
    path: str
    symbol: str
    ts: list[int] = field(default_factory=list)
    columns: dict[str, DecimalColumn] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)

    @property
    def first_error(self) -> ValidationIssue | None:
        return next((i for i in self.issues if i.severity == ERROR), None)


class _IssueSink:
    """Collects a file's issues, listing at most :data:`MAX_ISSUES_PER_CODE` per code."""

    def __init__(self, series: SeriesFile) -> None:
        self._series = series
        self._counts: dict[str, int] = {}

    def add(self, code: str, detail: str, *, line: int | None, severity: str = ERROR, field: str | None = None) -> None:
        count = self._counts.get(code, 0) + 1
        self._counts[code] = count
        if count <= MAX_ISSUES_PER_CODE:
            self._series.issues.append(
                ValidationIssue(code, self._series.path, detail, severity, line, self._series.symbol, field)
            )

    def close(self) -> None:
        for code, count in self._counts.items():
            if count > MAX_ISSUES_PER_CODE:
                self._series.issues.append(
                    ValidationIssue(
                        "issues_truncated",
                        self._series.path,
                        f"{count - MAX_ISSUES_PER_CODE} more {code} issues not listed",
                        WARNING,
                        None,
                        self._series.symbol,
                    )
                )


def read_series_file(
    path: Path,
    schema: CsvSchema,
    *,
    display_path: str,
    symbol: str,
    ts_cache: dict[str, int] | None = None,
) -> SeriesFile:
    """Parse one dataset CSV once into exact decimal columns; never raises for bad content.

    Args:
        path: the file to read (UTF-8, an Excel BOM is tolerated).
        schema: the folder's columns.
        display_path: the path written into issues (relative to the dataset root).
        symbol: the canonical symbol, recorded on every issue.
        ts_cache: raw ``ts`` text → epoch µs, shared across the files of one dataset.
            Candles, book and ticker rows usually carry the same stamps, so each distinct
            stamp is parsed once.

    Returns:
        The readable rows and every issue. A row with a bad timestamp, a number that is not
        a plain finite decimal (``1_000``, ``NaN``, ``inf``, non-ASCII digits), a value
        outside :mod:`~btcbot_pipeline.domain.bounds` (``out_of_range``), more or fewer
        fields than the header (``extra_fields`` / ``invalid_row``: a decimal comma ``1,5``
        splits a cell in two), a crossed book or a timestamp earlier than the row before is
        dropped (error); a row repeating the previous timestamp replaces that row
        (warning); a last line without a line end may be cut mid-number and is dropped
        (``truncated_last_row``, warning); an OHLC bar whose open/close lies outside its
        high/low and a book whose ask is more than twice its bid are kept (warnings; the
        cycle excludes such a book as ``implausible_spread``).

    The file is split into cells by ``pyarrow.csv`` (quotes, ``\r\n`` / ``\r`` / ``\n``
    line ends; every cell read as text, so no number is ever a float). The values are
    ``Decimal(cell)``: exact to the last digit and exponent written, kept as the cell text
    (:class:`~btcbot_pipeline.adapters.replay.columns.DecimalColumn`). A file whose columns
    pass every check at once (:func:`_read_columns`) is taken whole; any other goes row by
    row (:func:`_read_rows`), which words every issue with its line and keeps exactly the
    rows that pass.
    """
    series = SeriesFile(kind=schema.kind, path=display_path, symbol=symbol)
    cache: dict[str, int] = {} if ts_cache is None else ts_cache
    sink = _IssueSink(series)
    try:
        size = path.stat().st_size
    except OSError as exc:
        sink.add("unreadable_file", f"cannot read the file: {exc}", line=None)
        sink.close()
        return series
    if size > MAX_FILE_BYTES:
        sink.add(
            "file_too_large",
            f"{size} bytes, more than the {MAX_FILE_BYTES} bytes read at most; split the file",
            line=None,
        )
        sink.close()
        return series
    try:
        data = path.read_bytes()
        data.decode("utf-8")  # refuse non-UTF-8 bytes with Python's own wording, before pyarrow
    except (OSError, UnicodeDecodeError) as exc:
        sink.add("unreadable_file", f"cannot read the file: {exc}", line=None)
        sink.close()
        return series
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    data = _drop_unterminated_line(data, sink)
    if data and not data.endswith((b"\n", b"\r")):
        data += b"\n"  # a header alone without a line end: pyarrow would find no row at all
    table: _CsvTable | None = None
    try:
        table = _CsvTable.read(data)
    except pa.ArrowInvalid as exc:
        if "Empty CSV" not in str(exc):  # an empty file has no header, said just below
            sink.add("unreadable_file", f"cannot read the file: {exc}", line=None)
            sink.close()
            return series
    header = [column[0].as_py() for column in table.columns] if table is not None else None  # type: ignore[union-attr]
    columns = _read_header(header, schema, sink)
    if (
        table is not None
        and columns is not None
        and not (not series.issues and _read_columns(table, data, columns, schema, series, cache))
    ):
        _read_rows(table, data, columns, schema, series, sink, cache)
    sink.close()
    return series


# pyarrow reads the first row as data (the header is checked here, not by pyarrow); every
# column is text. A file with more columns than this has the rest inferred, and is read again.
_TEXT_COLUMNS = 64
# malloc, not arrow's default mimalloc pool: a file's buffers live a few milliseconds, and
# mimalloc kept ~30 MB of freed pages for the rest of the process (replay-validate peaked at
# 212 MB with it, 182 MB without; 188 MB with the former hand-written reader).
_POOL = pa.system_memory_pool()


@dataclass(slots=True)
class _CsvTable:
    """A CSV file as pyarrow splits it: ``columns`` of cell text (row 0 is the header) and the
    ``rejected`` rows whose width differs from the header, as (line, cells, text)."""

    columns: list[pa.Array]
    rejected: list[tuple[int, int, str]]

    @classmethod
    def read(cls, data: bytes) -> _CsvTable:
        rejected: list[tuple[int, int, str]] = []

        def set_aside(row: pcsv.InvalidRow) -> str:
            rejected.append((row.number, row.actual_columns, row.text))
            return "skip"

        width = _TEXT_COLUMNS
        while True:
            rejected.clear()
            table = pcsv.read_csv(
                pa.BufferReader(data),
                # One thread: pyarrow then knows each rejected row's line number.
                read_options=pcsv.ReadOptions(use_threads=False, autogenerate_column_names=True),
                # Blank lines kept as rows, so that every line is one row (or one rejected row).
                parse_options=pcsv.ParseOptions(invalid_row_handler=set_aside, ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(
                    column_types={f"f{i}": pa.string() for i in range(width)},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
                memory_pool=_POOL,
            )
            if table.num_columns <= width:
                return cls([chunks.combine_chunks(_POOL) for chunks in table.columns], rejected)
            width = table.num_columns


def _drop_unterminated_line(data: bytes, sink: _IssueSink) -> bytes:
    """``data`` without a last line that has no line end (a write cut short), with a warning.

    A header alone is kept: the file then has no rows, which is reported as such."""
    if not data or data.endswith((b"\n", b"\r")):
        return data
    cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
    if cut < 0:
        return data
    kept, tail = data[: cut + 1], data[cut + 1 :].decode("utf-8")
    if tail.strip():
        shown = tail if len(tail) <= 60 else tail[:57] + "..."
        line = kept.count(b"\n") + (kept.count(b"\r") - kept.count(b"\r\n")) + 1
        sink.add(
            "truncated_last_row",
            f"the last line {shown!r} has no line end: it may be cut mid-number and is not used",
            line=line,
            severity=WARNING,
        )
    return kept


def _read_header(header: list[str] | None, schema: CsvSchema, sink: _IssueSink) -> dict[str, int] | None:
    """Column name → cell index, or ``None`` (with an issue) when rows cannot be read."""
    if header is None or not any(cell.strip() for cell in header):
        sink.add("missing_header", f"no header row, expected {','.join(schema.required)}", line=1)
        return None
    names = [cell.strip().lower() for cell in header]
    try:
        parse_timestamp_us(header[0])
    except TimestampParseError:
        pass
    else:
        sink.add(
            "missing_header",
            f"the first row is data, expected a header {','.join(schema.required)}",
            line=1,
        )
        return None
    repeated = sorted({n for n in names if names.count(n) > 1 or not n})
    if repeated:
        shown = ", ".join(repr(n) for n in repeated)
        sink.add("invalid_header", f"blank or repeated column names: {shown}", line=1)
        return None
    missing = [n for n in schema.required if n not in names]
    if missing:
        sink.add(
            "invalid_schema",
            f"missing required columns {missing}; header was {names}, required {list(schema.required)}",
            line=1,
        )
        return None
    columns = {name: names.index(name) for name in schema.required}
    for canonical, spellings in schema.optional.items():
        for spelling in spellings:
            if spelling in names:
                columns[canonical] = names.index(spelling)
                break
    return columns


def _read_columns(
    table: _CsvTable,
    data: bytes,
    columns: dict[str, int],
    schema: CsvSchema,
    series: SeriesFile,
    cache: dict[str, int],
) -> bool:
    """Take a whole file a column at a time, or return False untouched.

    Succeeds only when the row loop (:func:`_read_rows`) would find no issue at all, so
    both give the same columns: every row as wide as the header, an ASCII file with no
    ``_`` below the header, every number a finite decimal, every stamp readable (so no
    blank line) and strictly increasing, every value within its bounds, no crossed book and
    no inconsistent candle (checked on whole columns of the exact Decimals; not with
    ``pyarrow.compute``, whose first call imports pandas: half a second).
    """
    if table.rejected or not data.isascii():
        return False  # rows of another width, non-ASCII digits (Decimal reads them): row by row
    body = data[min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=0) :]
    if b"_" in body:
        return False  # 1_000: Decimal reads it, the dataset contract does not
    cells = [column.slice(1) for column in table.columns]
    if len(cells[0]) == 0:
        return False
    raw_ts = cells[columns["ts"]].to_pylist()
    stamps = list(map(cache.get, raw_ts))
    if None in stamps:
        for i, stamp in enumerate(stamps):
            if stamp is None:
                try:
                    stamps[i] = cache[raw_ts[i]] = parse_timestamp_us(raw_ts[i])
                except TimestampParseError:
                    return False
    if not all(map(operator.lt, stamps, itertools.islice(stamps, 1, None))):
        return False
    values: dict[str, list[Decimal | None]] = {}
    texts: dict[str, list[str]] = {}
    try:
        for name in schema.required:
            if name != "ts":
                texts[name] = cells[columns[name]].to_pylist()
                values[name] = list(map(Decimal, texts[name]))
        for name in schema.optional:
            if name in columns:
                texts[name], values[name] = _optional_column(cells[columns[name]].to_pylist())
    except InvalidOperation:
        return False
    if not _columns_in_range(values, schema):  # finite, positive, within domain/bounds.py
        return False
    series.ts = stamps
    # The Decimals were for the checks; what is kept is the text they were read from.
    series.columns = {name: DecimalColumn(column) for name, column in texts.items()}
    return True


def _optional_column(texts: list[str]) -> tuple[list[str], list[Decimal | None]]:
    """The cells (a blank one as ``""``) and their Decimals (a blank one as ``None``)."""
    try:
        return texts, list(map(Decimal, texts))
    except InvalidOperation:  # blank cells are None; anything else unreadable re-raises
        kept = [text if text.strip() else "" for text in texts]
        return kept, [Decimal(text) if text else None for text in kept]


def _columns_in_range(values: dict[str, list[Decimal | None]], schema: CsvSchema) -> bool:
    """:func:`_values_in_range` for whole columns: True when no row breaks a rule."""
    for name, column in values.items():
        # Only optional columns hold None (blank cells). Not `None in column`: comparing a
        # Decimal with None goes through the numbers ABCs, a slow isinstance per cell.
        present = column if name in schema.required else [v for v in column if v is not None]
        if not all(map(Decimal.is_finite, present)):  # type: ignore[arg-type]
            return False
        if not present:
            continue
        low, high = min(present), max(present)  # type: ignore[type-var]
        if name in schema.prices and low <= _ZERO:  # type: ignore[operator]
            return False
        if name in schema.volumes and low < _ZERO:  # type: ignore[operator]
            return False
        bound = FIELD_BOUNDS.get(name)
        if bound is not None and not (bound.contains(low) and bound.contains(high)):  # type: ignore[arg-type]
            return False
    gt = operator.gt
    if schema.kind == "orderbook":
        bids, asks = values["best_bid"], values["best_ask"]
        if any(map(gt, asks, map(operator.mul, bids, itertools.repeat(MAX_ASK_OVER_BID)))):
            return False  # an implausible spread: warned row by row
        return not any(map(gt, bids, asks))
    if schema.kind == "candles":
        low, high, open_, close = values["low"], values["high"], values["open"], values["close"]
        return not (
            any(map(gt, low, open_))
            or any(map(gt, open_, high))
            or any(map(gt, low, close))
            or any(map(gt, close, high))
        )
    return True


def _stamp(raw_ts: str, cache: dict[str, int], sink: _IssueSink, line: int) -> int | None:
    """The row's time in epoch microseconds (each distinct text parsed once), or ``None``
    with ``invalid_timestamp`` recorded."""
    stamp = cache.get(raw_ts)
    if stamp is None:
        try:
            stamp = parse_timestamp_us(raw_ts)
        except TimestampParseError as exc:
            sink.add("invalid_timestamp", str(exc), line=line)
            return None
        cache[raw_ts] = stamp
    return stamp


def _set_aside_row(
    text: str, fields: int, width: int, header_width: int, sink: _IssueSink, line: int
) -> list[str] | None:
    """A row pyarrow set aside for its width: its cells when it is short of unused columns
    only, else ``None`` with the issue recorded (too few fields, more than the header, an
    unclosed quote)."""
    if fields < width:
        sink.add("invalid_row", f"expected at least {width} fields, was {fields}", line=line)
        return None
    if fields > header_width:
        sink.add(
            "extra_fields",
            f"{fields} fields where the header has {header_width}; a decimal comma (1,5)? write numbers with a point",
            line=line,
        )
        return None
    row = _split_row(text)
    if row is None:
        sink.add("invalid_row", f"a quote opened in this row is never closed ({fields} fields)", line=line)
    return row


def _read_rows(
    table: _CsvTable,
    data: bytes,
    columns: dict[str, int],
    schema: CsvSchema,
    series: SeriesFile,
    sink: _IssueSink,
    cache: dict[str, int],
) -> None:
    ts_index = columns["ts"]
    required = [(name, columns[name]) for name in schema.required if name != "ts"]
    optional = [(name, idx) for name, idx in columns.items() if name in schema.optional]
    width = max(columns.values()) + 1
    header_width = len(table.columns)
    values: dict[str, list[Decimal | None]] = {name: [] for name in columns if name != "ts"}
    ts_out = series.ts
    previous: int | None = None
    rows_seen = 0
    blank: set[int] | None = None
    for line, row, fields, text in _rows_by_line(table, data):
        if row is None:  # pyarrow set it aside: not as wide as the header
            if not text.strip():
                continue  # a line of blanks
            rows_seen += 1
            row = _set_aside_row(text, fields, width, header_width, sink, line)
            if row is None:
                continue
        elif not any(row):
            if blank is None:
                blank = {number for number, text in enumerate(data.splitlines(), start=1) if not text}
            if line in blank:
                continue  # a blank line, e.g. a trailing newline
        rows_seen += 1
        raw_ts = row[ts_index]
        stamp = _stamp(raw_ts, cache, sink, line)
        if stamp is None:
            continue
        parsed = _parse_numbers(row, required, optional, sink, line)
        if parsed is None or not _values_in_range(parsed, schema, sink, line):
            continue
        if previous is not None and stamp <= previous:
            if stamp < previous:
                sink.add(
                    "non_monotonic_timestamp",
                    f"ts {raw_ts.strip()!r} is earlier than the row before "
                    f"({to_datetime(previous).isoformat()}); rows must be in time order",
                    line=line,
                )
                continue
            sink.add(
                "duplicate_timestamp",
                f"ts {raw_ts.strip()!r} repeats the row before; the later row wins",
                line=line,
                severity=WARNING,
            )
            # Replace rather than append: one row per instant, so a repeated bar cannot
            # add a zero return to the closes used for volatility.
            for name, value in parsed.items():
                values[name][-1] = value
            continue
        previous = stamp
        ts_out.append(stamp)
        for name, value in parsed.items():
            values[name].append(value)
    series.columns = {name: DecimalColumn.of(column) for name, column in values.items()}
    if rows_seen == 0:
        sink.add("insufficient_rows", "the file has a header but no rows", line=None)


def _rows_by_line(table: _CsvTable, data: bytes) -> Iterator[tuple[int, Sequence[str] | None, int, str]]:
    """(line, cells, width, "") for each row pyarrow read and (line, None, fields, text) for
    each it set aside, in file order.

    pyarrow numbers records (the header is 1). A record is one line, except where a quoted
    cell holds a line end: it then ends on a later line, and that last line is its number,
    as ``csv.reader`` counts.
    """
    quoted = b'"' in data
    rows = zip(*(column.to_pylist() for column in table.columns))
    header = next(rows)
    extra = _line_ends(header) if quoted else 0  # line ends inside quoted cells so far
    aside = sorted(table.rejected)
    k, record = 0, 1
    for row in rows:
        record += 1
        while k < len(aside) and aside[k][0] <= record:
            record, fields, text = aside[k]
            k += 1
            extra += _line_ends((text,)) if quoted else 0
            yield record + extra, None, fields, text
            record += 1
        extra += _line_ends(row) if quoted else 0
        yield record + extra, row, len(row), ""
    for record, fields, text in aside[k:]:
        extra += _line_ends((text,)) if quoted else 0
        yield record + extra, None, fields, text


def _line_ends(cells: Sequence[str]) -> int:
    return sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in cells)


def _split_row(text: str) -> list[str] | None:
    """The cells of one line pyarrow set aside (its width differs from the header's);
    ``None`` when the line ends inside quotes (the file was cut there)."""
    try:
        table = _CsvTable.read(text.encode("utf-8") + b"\n")
    except pa.ArrowInvalid:
        return None
    return [column[0].as_py() for column in table.columns]  # type: ignore[union-attr]


def _parse_numbers(
    row: list[str],
    required: list[tuple[str, int]],
    optional: list[tuple[str, int]],
    sink: _IssueSink,
    line: int,
) -> dict[str, Decimal | None] | None:
    # Fast path: Decimal() straight from the cell text, the same exact reading as
    # to_decimal(); to_decimal() is only called to word the message once a cell fails.
    out: dict[str, Decimal | None] = {}
    try:
        for name, idx in required:
            text = row[idx]
            if "_" in text or not text.isascii():
                raise InvalidOperation
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidOperation
            out[name] = value
        for name, idx in optional:
            text = row[idx]
            if not text.strip():
                out[name] = None
                continue
            if "_" in text or not text.isascii():
                raise InvalidOperation
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidOperation
            out[name] = value
    except InvalidOperation:
        sink.add("invalid_number", _explain_number(row, required, optional), line=line)
        return None
    return out


def _explain_number(row: list[str], required: list[tuple[str, int]], optional: list[tuple[str, int]]) -> str:
    for name, idx in required + optional:
        text = row[idx]
        if (name, idx) in optional and not text.strip():
            continue  # a blank optional cell is allowed
        if "_" in text or not text.isascii():
            shown = text if len(text) <= 40 else text[:37] + "..."
            return f"{name} is not a plain decimal number (digits, one point, an optional exponent), was {shown!r}"
        try:
            to_decimal(text, field=name)
        except MoneyParseError as exc:
            return str(exc)[:200]
    return "a cell is not a finite decimal number"


def _values_in_range(parsed: dict[str, Decimal | None], schema: CsvSchema, sink: _IssueSink, line: int) -> bool:
    for name in schema.prices:
        value = parsed.get(name)
        if value is not None and value <= _ZERO:
            sink.add("non_positive_price", f"{name} must be > 0, was {value}", line=line)
            return False
    for name in schema.volumes:
        value = parsed.get(name)
        if value is not None and value < _ZERO:
            sink.add("negative_volume", f"{name} must be >= 0, was {value}", line=line)
            return False
    for name, value in parsed.items():
        bound = FIELD_BOUNDS.get(name)
        if value is not None and bound is not None and not bound.contains(value):
            sink.add(OUT_OF_RANGE, describe(name, value, bound), line=line, field=name)
            return False
    if schema.kind == "orderbook":
        bid, ask = parsed["best_bid"], parsed["best_ask"]
        if bid is not None and ask is not None and bid > ask:
            sink.add("crossed_book", f"best_bid {bid} is above best_ask {ask}", line=line)
            return False
        if bid is not None and ask is not None and ask > bid * MAX_ASK_OVER_BID:
            sink.add(
                "implausible_spread",
                f"best_ask {ask} is more than {MAX_ASK_OVER_BID} × best_bid {bid}: the mid is no price; "
                "the cycle excludes the symbol while this row is its book",
                line=line,
                severity=WARNING,
            )
    elif schema.kind == "candles":
        low, high = parsed["low"], parsed["high"]
        open_, close = parsed["open"], parsed["close"]
        if low is not None and high is not None and open_ is not None and close is not None:
            if not (low <= open_ <= high and low <= close <= high):
                sink.add(
                    "inconsistent_candle",
                    f"open {open_} / close {close} outside low {low} .. high {high}",
                    line=line,
                    severity=WARNING,
                )
    return True
