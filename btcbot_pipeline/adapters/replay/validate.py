"""Check a replay dataset against its contract and list every problem with file and line.

Inside: :func:`validate_replay_dataset` → :class:`ValidationReport` of
:class:`~btcbot_pipeline.adapters.replay.csvio.ValidationIssue`, and :data:`ISSUE_CODES`,
the documented codes. Parsing is the reader's own (``dataset.scan_dataset``), so a dataset
that validates is read the same way by ``ReplayDataset``: every ``error`` on a symbol's
files makes that symbol's snapshots ``invalid_data:<code>``, every dataset-level error
makes ``ReplayDataset.load`` raise.

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

from btcbot_pipeline.adapters.replay.csvio import ERROR, WARNING, ValidationIssue
from btcbot_pipeline.adapters.replay.dataset import scan_dataset

__all__ = ["ISSUE_CODES", "ValidationIssue", "ValidationReport", "validate_replay_dataset"]

ISSUE_CODES: dict[str, tuple[str, str]] = {
    # dataset level: ReplayDataset.load raises ReplayDatasetError with this code
    "dataset_missing": (ERROR, "the dataset folder does not exist"),
    "dataset_not_directory": (ERROR, "the dataset path is a file"),
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
    "unreadable_file": (ERROR, "the file cannot be opened or is not UTF-8 CSV"),
    "missing_header": (ERROR, "the file is empty or starts with a data row"),
    "invalid_header": (ERROR, "blank or repeated column names"),
    "invalid_schema": (ERROR, "a required column is missing"),
    "insufficient_rows": (ERROR, "a header but no rows"),
    "invalid_row": (ERROR, "a row with fewer fields than the header needs"),
    "invalid_timestamp": (ERROR, "ts is neither ISO-8601 nor 10/13-digit epoch"),
    "non_monotonic_timestamp": (ERROR, "ts earlier than the row before"),
    "invalid_number": (ERROR, "a value is not a finite decimal number"),
    "non_positive_price": (ERROR, "a price is zero or negative"),
    "negative_volume": (ERROR, "a volume is negative"),
    "crossed_book": (ERROR, "best_bid above best_ask"),
    "invalid_exchangeinfo": (ERROR, "exchangeinfo.json is not JSON or not exchangeinfo"),
    # warnings: replay works
    "duplicate_timestamp": (WARNING, "ts equal to the row before; the later row wins"),
    "inconsistent_candle": (WARNING, "open or close outside the bar's low..high"),
    "missing_ticker_file": (WARNING, "ticker/ exists but not for this symbol"),
    "orphan_ticker_file": (WARNING, "a ticker file for a symbol without candles/orderbook"),
    "missing_symbol_rules": (WARNING, "exchangeinfo.json does not list the symbol"),
    "incomplete_symbol_rules": (WARNING, "the symbol's tick/min notional/scales unreadable"),
    "issues_truncated": (WARNING, "more issues of one code in one file than listed"),
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
        lines = [
            f"{i.severity.upper()} {i.code} {i.location}: {i.detail}" for i in self.issues
        ]
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
    return ValidationReport(
        path=os.fspath(path), issues=scan.issues, symbols=scan.symbols, row_counts=counts
    )
