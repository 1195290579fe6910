"""Check a replay dataset against its contract and list every problem with file and line.

Inside:

- :func:`validate_replay_dataset` → :class:`ValidationReport` of
  :class:`~btcbot_pipeline.adapters.replay.csvio.ValidationIssue`;
- :data:`ISSUE_CODES`, every code with its severity;
- :func:`scan_dataset` → :class:`DatasetScan`: every file read once, every problem listed.
  ``ReplayDataset.load`` builds on the same scan, so a dataset is read the same way in
  both: an ``error`` on a symbol's files makes that symbol's snapshots
  ``invalid_data:<code>``, a dataset-level error makes ``load`` raise.

The seeds' validator (``btcbot/replay/validate.py``) used ``dataset_missing``,
``dataset_not_directory``, ``missing_{candles,orderbook}_folder``,
``missing_{candles,orderbook}_files``, ``invalid_schema``, ``invalid_timestamp``,
``non_monotonic_timestamp``, ``insufficient_rows`` and the warning ``symbol_mismatch``.
All are kept with the same meaning except ``symbol_mismatch``, which is reported per symbol
as ``missing_orderbook_file`` / ``missing_candles_file`` (errors, since that symbol cannot
be replayed). Timestamps equal to the previous row stay accepted, as before, but warned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from btcbot_pipeline.adapters.replay.csvio import (
    ERROR,
    SCHEMAS,
    WARNING,
    SeriesFile,
    ValidationIssue,
    read_series_file,
)
from btcbot_pipeline.adapters.replay.exchangeinfo import ExchangeInfoError, load_exchange_info
from btcbot_pipeline.domain.exchange_rules import rules_problem
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.domain.vocabulary import canonical_symbol, is_pair_name

__all__ = [
    "ISSUE_CODES",
    "DatasetScan",
    "ValidationIssue",
    "ValidationReport",
    "scan_dataset",
    "validate_replay_dataset",
]

EXCHANGE_INFO_FILE = "exchangeinfo.json"
REQUIRED_FOLDERS = ("candles", "orderbook")

ISSUE_CODES: dict[str, tuple[str, str]] = {
    # dataset level: ReplayDataset.load raises ReplayDatasetError with this code
    "dataset_missing": (ERROR, "the dataset folder does not exist"),
    "dataset_not_directory": (ERROR, "the dataset path is a file"),
    "not_a_folder": (ERROR, "candles or orderbook is a file (ticker: a warning, its data ignored)"),
    "missing_candles_folder": (ERROR, "candles/ is missing"),
    "missing_orderbook_folder": (ERROR, "orderbook/ is missing"),
    "no_symbols": (ERROR, "neither candles/ nor orderbook/ holds a <SYMBOL>.csv"),
    "missing_candles_files": (ERROR, "candles/ holds no CSV while orderbook/ does"),
    "missing_orderbook_files": (ERROR, "orderbook/ holds no CSV while candles/ does"),
    "no_orderbook_rows": (ERROR, "no orderbook file has a readable row"),
    # symbol level: that symbol's snapshots are skipped as invalid_data:<code>
    "missing_orderbook_file": (ERROR, "a symbol has candles but no orderbook file"),
    "missing_candles_file": (ERROR, "a symbol has an orderbook but no candles file"),
    "duplicate_symbol_file": (ERROR, "two files map to one symbol (BTC_TRY.csv, BTCTRY.csv)"),
    "invalid_symbol_name": (ERROR, "a file name that is not a pair name of ASCII letters and digits (ETH:TRY.csv)"),
    "unreadable_file": (ERROR, "the file cannot be opened or is not UTF-8 CSV"),
    "missing_header": (ERROR, "the file is empty or starts with a data row"),
    "invalid_header": (ERROR, "blank or repeated column names"),
    "invalid_schema": (ERROR, "a required column is missing"),
    "insufficient_rows": (ERROR, "a header but no rows"),
    "invalid_row": (ERROR, "a row with fewer fields than the header needs"),
    "extra_fields": (ERROR, "a row with more fields than the header (a decimal comma: 1,5)"),
    "invalid_timestamp": (ERROR, "ts is neither ISO-8601 nor 10/13-digit epoch"),
    "non_monotonic_timestamp": (ERROR, "ts earlier than the row before"),
    "invalid_number": (ERROR, "a value is not a plain finite decimal number (1_000, NaN, inf, non-ASCII digits)"),
    "out_of_range": (ERROR, "a value outside the bounds of domain/bounds.py (skip reason out_of_range:<field>)"),
    "file_too_large": (ERROR, "a CSV larger than csvio.MAX_FILE_BYTES"),
    "not_a_file": (ERROR, "a <SYMBOL>.csv that is a folder"),
    "non_positive_price": (ERROR, "a price is zero or negative"),
    "negative_volume": (ERROR, "a volume is negative"),
    "crossed_book": (ERROR, "best_bid above best_ask"),
    "invalid_exchangeinfo": (ERROR, "exchangeinfo.json is not JSON or not exchangeinfo (too large, nested too deeply)"),
    # warnings: replay works
    "duplicate_timestamp": (WARNING, "ts equal to the row before; the later row wins"),
    "inconsistent_candle": (WARNING, "open or close outside the bar's low..high"),
    "missing_ticker_file": (WARNING, "ticker/ exists but not for this symbol"),
    "orphan_ticker_file": (WARNING, "a ticker file for a symbol without candles/orderbook"),
    "missing_symbol_rules": (WARNING, "exchangeinfo.json does not list the symbol"),
    "incomplete_symbol_rules": (WARNING, "the symbol's tick/min notional/scales unreadable"),
    "issues_truncated": (WARNING, "more issues of one code in one file than listed"),
    "hidden_file_ignored": (WARNING, "a hidden file (.name.csv) is not read as a symbol"),
    "truncated_last_row": (WARNING, "the last line has no line end (cut mid-number?): not used"),
    "implausible_spread": (WARNING, "best_ask above 2 × best_bid: the cycle excludes the symbol while it lasts"),
    "invalid_symbol_rules": (
        WARNING,
        "the symbol's rules are unusable (tick 0, lot 0, min notional <= 0, status, out of range)",
    ),
    "ticker_not_a_folder": (WARNING, "ticker is a file: no ticker data is read"),
}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of :func:`validate_replay_dataset`.

    Attributes:
        path: the dataset folder as given.
        issues: every problem, dataset-level first, then per symbol.
        symbols: symbols with a candles or orderbook file, sorted.
        row_counts: folder → symbol → readable rows.
    """

    path: str
    issues: tuple[ValidationIssue, ...]
    symbols: tuple[str, ...] = ()
    row_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(i.severity == ERROR for i in self.issues)

    @property
    def errors(self) -> tuple[ValidationIssue, ...]:
        return tuple(i for i in self.issues if i.severity == ERROR)

    @property
    def warnings(self) -> tuple[ValidationIssue, ...]:
        return tuple(i for i in self.issues if i.severity == WARNING)

    def codes(self) -> set[str]:
        """The distinct issue codes, for quick assertions and summaries."""
        return {i.code for i in self.issues}

    def format_text(self) -> str:
        """One line per issue (``ERROR <code> <path[:line]>: <detail>``), then a summary."""
        lines = [f"{i.severity.upper()} {i.code} {i.location}: {i.detail}" for i in self.issues]
        verdict = "OK" if self.ok else "FAILED"
        lines.append(
            f"{verdict} {self.path}: {len(self.symbols)} symbols, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings"
        )
        return "\n".join(lines)


def validate_replay_dataset(path: str | os.PathLike[str]) -> ValidationReport:
    """Check the dataset at ``path``; never raises for missing or malformed data.

    Returns:
        A report whose ``ok`` is False if any error was found; see :data:`ISSUE_CODES`.
    """
    scan = scan_dataset(path)
    counts = {
        kind: {symbol: len(series.ts) for symbol, series in by_symbol.items()}
        for kind, by_symbol in (scan.files or {}).items()
    }
    return ValidationReport(path=os.fspath(path), issues=scan.issues, symbols=scan.symbols, row_counts=counts)


@dataclass(frozen=True, slots=True)
class DatasetScan:
    """Everything read from a dataset folder, and every problem found.

    Attributes:
        root: the dataset folder.
        issues: all problems, dataset-level first, then per symbol in symbol order.
        fatal: the first issue that makes the whole dataset unusable, else ``None``.
        symbols: symbols with a candles or orderbook file, sorted.
        files: ``kind`` (``candles``/``orderbook``/``ticker``) → symbol → parsed file.
        rules: exchange rules by symbol (empty without a readable ``exchangeinfo.json``).
    """

    root: Path
    issues: tuple[ValidationIssue, ...]
    fatal: ValidationIssue | None
    symbols: tuple[str, ...] = ()
    files: dict[str, dict[str, SeriesFile]] | None = None
    rules: dict[str, SymbolRules] | None = None

    def symbol_error(self, symbol: str) -> ValidationIssue | None:
        """The first error recorded against ``symbol``."""
        return next((i for i in self.issues if i.symbol == symbol and i.severity == ERROR), None)


def _folder_issues(root: Path) -> list[ValidationIssue]:
    """The required folders that are missing, or files where a folder belongs."""
    issues: list[ValidationIssue] = []
    for folder in REQUIRED_FOLDERS:
        if (root / folder).is_file():
            issues.append(
                ValidationIssue(
                    "not_a_folder",
                    folder,
                    f"{folder} is a file; the replay layout needs a folder {folder}/ of <SYMBOL>.csv",
                )
            )
        elif not (root / folder).is_dir():
            issues.append(
                ValidationIssue(
                    f"missing_{folder}_folder",
                    folder,
                    f"required folder {folder}/ is missing in {root}{_case_hint(root, folder)}",
                )
            )
    return issues


def _missing_files(symbol: str, found: dict[str, dict[str, Any]], tickers: dict[str, Any]) -> list[ValidationIssue]:
    """A symbol's candles or orderbook file that is missing (an error), or its ticker file
    when the dataset has tickers for others (a warning)."""
    issues: list[ValidationIssue] = []
    for kind in ("candles", "orderbook"):
        if symbol not in found[kind]:
            issues.append(
                ValidationIssue(
                    f"missing_{kind}_file",
                    f"{kind}/{symbol}.csv",
                    f"{symbol} has no {kind} file; the symbol cannot be replayed",
                    symbol=symbol,
                )
            )
    if tickers and symbol not in tickers:
        issues.append(
            ValidationIssue(
                "missing_ticker_file",
                f"ticker/{symbol}.csv",
                f"{symbol} has no ticker file; 24h stats are derived from its candles",
                WARNING,
                symbol=symbol,
            )
        )
    return issues


def scan_dataset(path: str | os.PathLike[str], *, reuse_last: bool = False) -> DatasetScan:
    """Read the dataset at ``path`` once; never raises for missing or bad data.

    The files read are kept until the next scan. With ``reuse_last`` (``ReplayDataset.load``),
    a file the previous scan read and that has not changed since (same size, mtime, inode)
    is taken from it instead of being parsed again, and nothing is kept afterwards: a
    backtest validates its dataset and then loads it, and reads each file once.
    """
    root = Path(path)
    issues: list[ValidationIssue] = []

    def fatal(code: str, where: str, detail: str) -> DatasetScan:
        issue = ValidationIssue(code, where, detail)
        issues.append(issue)
        return DatasetScan(root=root, issues=tuple(issues), fatal=issue)

    if not root.exists():
        return fatal(
            "dataset_missing",
            ".",
            f"dataset folder does not exist: {root}; write one with `btcbot replay-init --dataset <path>`",
        )
    if not root.is_dir():
        return fatal("dataset_not_directory", ".", f"dataset path is not a folder: {root}")
    issues.extend(_folder_issues(root))
    if issues:
        return DatasetScan(root=root, issues=tuple(issues), fatal=issues[0])
    if (root / "ticker").exists() and not (root / "ticker").is_dir():
        issues.append(
            ValidationIssue(
                "ticker_not_a_folder",
                "ticker",
                "ticker is a file, not a folder of <SYMBOL>.csv: no ticker data is read",
                WARNING,
            )
        )

    found = {kind: _csv_files(root / kind, kind, issues) for kind in SCHEMAS}
    candles, books, tickers = found["candles"], found["orderbook"], found["ticker"]
    if not candles and not books:
        return fatal("no_symbols", ".", "candles/ and orderbook/ hold no <SYMBOL>.csv files")
    for kind, files in (("candles", candles), ("orderbook", books)):
        if not files:
            return fatal(f"missing_{kind}_files", kind, f"{kind}/ holds no <SYMBOL>.csv files")

    symbols = tuple(sorted(set(candles) | set(books)))
    for symbol in sorted(set(tickers) - set(symbols)):
        issues.append(
            ValidationIssue(
                "orphan_ticker_file",
                f"ticker/{tickers[symbol].name}",
                f"no candles or orderbook file for {symbol}; the ticker file is ignored",
                WARNING,
                symbol=symbol,
            )
        )

    cache: dict[str, int] = {}
    parsed: dict[str, dict[str, SeriesFile]] = {kind: {} for kind in SCHEMAS}
    earlier: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]] = _last_read if reuse_last else {}
    kept: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]] = {}
    for symbol in symbols:
        issues.extend(_missing_files(symbol, found, tickers))
        for kind in SCHEMAS:
            file = found[kind].get(symbol)
            if file is None:
                continue
            series = _read_once(file, kind, symbol, cache, earlier, kept)
            parsed[kind][symbol] = series
            issues.extend(series.issues)

    _keep_reads({} if reuse_last else kept)
    if not any(s.ts for s in parsed["orderbook"].values()):
        return fatal("no_orderbook_rows", "orderbook", "no orderbook file has a readable row")
    rules = _read_rules(root, symbols, issues)
    return DatasetScan(root=root, issues=tuple(issues), fatal=None, symbols=symbols, files=parsed, rules=rules)


# The files read by the last scan in this process, by (absolute path, folder, symbol), with the
# (size, mtime_ns, inode) seen before reading. `btcbot backtest` (and doctor) validate a dataset
# and then load it; the load takes these instead of parsing every file a second time. Only the
# last scan is kept, and the load forgets it, so a process holds no second copy of the columns.
# Validation itself always reads: an mtime is only as fine as the file system's clock tick.
_FileKey = tuple[str, str, str]
_last_read: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]] = {}


def _read_once(
    file: Path,
    kind: str,
    symbol: str,
    ts_cache: dict[str, int],
    earlier: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]],
    kept: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]],
) -> SeriesFile:
    """``file`` parsed, or the parse of the last scan when the file has not changed since.

    The identity is taken before reading: a file rewritten while it is read gets a new
    mtime, so the next scan reads it again rather than trusting a mixed copy."""
    try:
        info = file.stat()
    except OSError:
        identity = None
    else:
        identity = (info.st_size, info.st_mtime_ns, info.st_ino)
    key = (str(file.absolute()), kind, symbol)  # the name as given: it is the issues' path
    seen = earlier.get(key)
    if identity is not None and seen is not None and seen[0] == identity:
        kept[key] = seen
        return seen[1]
    series = read_series_file(file, SCHEMAS[kind], display_path=f"{kind}/{file.name}", symbol=symbol, ts_cache=ts_cache)
    if identity is not None:
        kept[key] = (identity, series)
    return series


def _keep_reads(kept: dict[_FileKey, tuple[tuple[int, int, int], SeriesFile]]) -> None:
    global _last_read
    _last_read = kept


def forget_reads() -> None:
    """Drop the files kept from the last scan (tests; a process done with its dataset)."""
    _keep_reads({})


def _case_hint(root: Path, folder: str) -> str:
    """``; found Candles/: rename it to candles/`` when only the case differs."""
    try:
        near = sorted(p.name for p in root.iterdir() if p.name.lower() == folder and p.name != folder)
    except OSError:
        return ""
    return f"; found {near[0]}/: rename it to {folder}/" if near else ""


def _csv_files(folder: Path, kind: str, issues: list[ValidationIssue]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        if not file.name.lower().endswith(".csv"):  # ETHTRY.CSV is a symbol file too
            continue
        if not file.is_file():
            if not file.name.startswith("."):
                issues.append(
                    ValidationIssue(
                        "not_a_file",
                        f"{kind}/{file.name}",
                        f"{file.name} is a folder, not a CSV file: not read",
                        symbol=canonical_symbol(file.stem) if is_pair_name(canonical_symbol(file.stem)) else None,
                    )
                )
            continue
        if file.name.startswith("."):  # editor and OS droppings (.~lock.ETHTRY.csv, .csv)
            issues.append(
                ValidationIssue(
                    "hidden_file_ignored",
                    f"{kind}/{file.name}",
                    f"{file.name} is hidden: not read as a symbol",
                    severity=WARNING,
                )
            )
            continue
        symbol = canonical_symbol(file.stem)
        if not is_pair_name(symbol):
            # Kept as a symbol that is never traded (invalid_data:invalid_symbol_name): one odd
            # file name must not reach an order id and stop the cycle at the intents gate.
            issues.append(
                ValidationIssue(
                    "invalid_symbol_name",
                    f"{kind}/{file.name}",
                    f"{file.stem!r} is not a pair name of ASCII letters and digits such as BTCTRY (separators _ - / "
                    "are dropped); rename the file",
                    symbol=symbol,
                )
            )
        if symbol in files:
            issues.append(
                ValidationIssue(
                    "duplicate_symbol_file",
                    f"{kind}/{file.name}",
                    f"{file.name} and {files[symbol].name} both hold {symbol}; keep one",
                    symbol=symbol,
                )
            )
            continue
        files[symbol] = file
    return files


def _read_rules(root: Path, symbols: tuple[str, ...], issues: list[ValidationIssue]) -> dict[str, SymbolRules]:
    file = root / EXCHANGE_INFO_FILE
    if not file.exists():
        return {}
    try:
        rules = load_exchange_info(file)
    except (ExchangeInfoError, OSError, UnicodeDecodeError) as exc:
        issues.append(ValidationIssue("invalid_exchangeinfo", EXCHANGE_INFO_FILE, str(exc)))
        return {}
    for symbol in symbols:
        rule = rules.get(symbol)
        if rule is None:
            issues.append(
                ValidationIssue(
                    "missing_symbol_rules",
                    EXCHANGE_INFO_FILE,
                    f"{symbol} is not listed; its snapshots carry no exchange rules",
                    WARNING,
                    symbol=symbol,
                )
            )
            continue
        problem = rules_problem(rule)
        unreadable = [
            name
            for name in ("tick_size", "min_notional_try", "price_scale", "quantity_scale")
            if getattr(rule, name) is None
        ]
        if problem is not None and (rule.out_of_range is not None or not unreadable):
            # Warned as doctor warns: the cycle excludes the symbol (rules_unavailable:invalid,
            # or invalid_data:out_of_range:<field> for a value the book cannot store).
            issues.append(
                ValidationIssue(
                    "invalid_symbol_rules",
                    EXCHANGE_INFO_FILE,
                    f"{symbol}: unusable rules ({problem}); the symbol is not traded",
                    WARNING,
                    symbol=symbol,
                )
            )
            continue
        if unreadable:
            issues.append(
                ValidationIssue(
                    "incomplete_symbol_rules",
                    EXCHANGE_INFO_FILE,
                    f"{symbol}: no readable {', '.join(unreadable)}",
                    WARNING,
                    symbol=symbol,
                )
            )
    return rules
