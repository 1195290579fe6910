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
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from btcbot_pipeline.domain.bounds import FIELD_BOUNDS, MAX_ASK_OVER_BID, OUT_OF_RANGE, describe
from btcbot_pipeline.domain.money import MoneyParseError, to_decimal

if TYPE_CHECKING:
    import _csv

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
        raise TimestampParseError(
            f"epoch timestamps must have 10 (seconds) or 13 (milliseconds) digits, was {token!r}"
        )
    try:
        parsed = datetime.fromisoformat(token)
    except ValueError:
        raise TimestampParseError(
            f"ts must be ISO-8601 or epoch seconds/milliseconds, was {token!r}"
        ) from None
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
    reported, a row with the same stamp as the one before replaces it. ``columns`` holds one list per present column, aligned
    with ``ts``; an optional column's cell may be ``None`` when empty.
    """

    kind: str
    path: str
    symbol: str
    ts: list[int] = field(default_factory=list)
    columns: dict[str, list[Decimal | None]] = field(default_factory=dict)
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
                ValidationIssue(
                    code, self._series.path, detail, severity, line, self._series.symbol, field
                )
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
    """Parse one dataset CSV once into Decimal columns; never raises for bad content.

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
        sink.add("file_too_large", f"{size} bytes, more than the {MAX_FILE_BYTES} bytes read at most; split the file", line=None)
        sink.close()
        return series
    if _read_clean_file(path, schema, series, cache):
        return series
    # Something is wrong somewhere: read row by row, which words every issue with its
    # line and keeps exactly the rows that pass.
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
        text = _drop_unterminated_line(text, sink)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        columns = _read_header(header, schema, sink)
        if columns is not None:
            _read_rows(reader, columns, len(header or ()), schema, series, sink, cache)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        sink.add("unreadable_file", f"cannot read the file: {exc}", line=None)
    sink.close()
    return series


def _drop_unterminated_line(text: str, sink: _IssueSink) -> str:
    """``text`` without a last line that has no line end (a write cut short), with a warning.

    A header alone is kept: the file then has no rows, which is reported as such."""
    if not text or text.endswith(("\n", "\r")):
        return text
    cut = max(text.rfind("\n"), text.rfind("\r"))
    if cut < 0:
        return text
    kept, tail = text[: cut + 1], text[cut + 1 :]
    if tail.strip():
        shown = tail if len(tail) <= 60 else tail[:57] + "..."
        line = kept.count("\n") + (kept.count("\r") - kept.count("\r\n")) + 1
        sink.add(
            "truncated_last_row",
            f"the last line {shown!r} has no line end: it may be cut mid-number and is not used",
            line=line, severity=WARNING,
        )
    return kept


def _read_header(
    header: list[str] | None, schema: CsvSchema, sink: _IssueSink
) -> dict[str, int] | None:
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
            f"missing required columns {missing}; header was {names}, "
            f"required {list(schema.required)}",
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


def _read_clean_file(path: Path, schema: CsvSchema, series: SeriesFile, cache: dict[str, int]) -> bool:
    """Parse a clean file a column at a time (C-level loops), or return False untouched.

    Succeeds only when the row loop (:func:`_read_rows`) would find no issue at all, so
    both give the same columns: no quote or NUL character (cells are then exactly the
    text between commas, as ``csv.reader`` splits them), the same number of cells on every
    line, no blank line, a valid header, every stamp readable and strictly increasing,
    every number finite and in range, no crossed book and no inconsistent candle.
    Reading with universal newlines ends lines at ``\r\n``, ``\r`` and ``\n``, as
    ``csv.reader`` ends rows outside quotes.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    if '"' in text or "\0" in text or "_" in text[text.find("\n") :] or not text.isascii():
        return False  # quoting, digit separators (1_000) or non-ASCII digits: row by row
    lines = text.split("\n")
    if lines[-1] != "":
        return False  # the last line has no line end: it may be cut
    lines.pop()
    if len(lines) < 2:
        return False
    header = lines[0].split(",")
    scratch = SeriesFile(kind=schema.kind, path="", symbol="")
    columns = _read_header(header, schema, _IssueSink(scratch))
    if columns is None or scratch.issues:
        return False
    width = len(header)
    if set(map(operator.methodcaller("count", ","), lines)) != {width - 1}:
        return False  # short, long or blank lines
    cells = ",".join(lines).split(",")

    def column(name: str) -> list[str]:
        return cells[width + columns[name] :: width]

    raw_ts = column("ts")
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
    try:
        for name in schema.required:
            if name != "ts":
                values[name] = list(map(Decimal, column(name)))
        for name in schema.optional:
            if name in columns:
                values[name] = _optional_column(column(name))
    except InvalidOperation:
        return False
    if not _columns_in_range(values, schema):
        return False
    series.ts = stamps
    series.columns = values
    return True


def _optional_column(texts: list[str]) -> list[Decimal | None]:
    try:
        return list(map(Decimal, texts))
    except InvalidOperation:  # blank cells are None; anything else unreadable re-raises
        return [Decimal(text) if text.strip() else None for text in texts]


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
        return not (any(map(gt, low, open_)) or any(map(gt, open_, high)) or any(map(gt, low, close)) or any(map(gt, close, high)))
    return True


def _read_rows(
    reader: _csv.Reader,
    columns: dict[str, int],
    header_width: int,
    schema: CsvSchema,
    series: SeriesFile,
    sink: _IssueSink,
    cache: dict[str, int],
) -> None:
    ts_index = columns["ts"]
    required = [(name, columns[name]) for name in schema.required if name != "ts"]
    optional = [(name, idx) for name, idx in columns.items() if name in schema.optional]
    width = max(columns.values()) + 1
    values = {name: [] for name in columns if name != "ts"}
    series.columns = values  # type: ignore[assignment]
    ts_out = series.ts
    previous: int | None = None
    rows_seen = 0
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line, e.g. a trailing newline
        rows_seen += 1
        line = reader.line_num
        if len(row) < width:
            sink.add("invalid_row", f"expected at least {width} fields, was {len(row)}", line=line)
            continue
        if len(row) > header_width:
            sink.add(
                "extra_fields",
                f"{len(row)} fields where the header has {header_width}; a decimal comma (1,5)? "
                "write numbers with a point",
                line=line,
            )
            continue
        raw_ts = row[ts_index]
        stamp = cache.get(raw_ts)
        if stamp is None:
            try:
                stamp = parse_timestamp_us(raw_ts)
            except TimestampParseError as exc:
                sink.add("invalid_timestamp", str(exc), line=line)
                continue
            cache[raw_ts] = stamp
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
    if rows_seen == 0:
        sink.add("insufficient_rows", "the file has a header but no rows", line=None)


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
            return (f"{name} is not a plain decimal number (digits, one point, an optional exponent), "
                    f"was {shown!r}")
        try:
            to_decimal(text, field=name)
        except MoneyParseError as exc:
            return str(exc)[:200]
    return "a cell is not a finite decimal number"


def _values_in_range(
    parsed: dict[str, Decimal | None], schema: CsvSchema, sink: _IssueSink, line: int
) -> bool:
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
                line=line, severity=WARNING,
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
