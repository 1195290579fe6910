"""The column-at-a-time CSV reader agrees with the row loop, and hands it every doubtful file.

``read_series_file`` has pyarrow split the file, then first tries ``_read_columns`` (whole
columns); it must give exactly what the row loop gives, and refuse any file on which the row
loop would report an issue, so that the issue is worded with its line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay import csvio
from btcbot_pipeline.adapters.replay.csvio import SCHEMAS, SeriesFile, read_series_file

CANDLES = "ts,open,high,low,close,volume"
ROW1 = "2026-01-01T00:00:00Z,100,110,90,105,2"
ROW2 = "2026-01-01T00:01:00Z,105,106,100,101,3"

# name, folder, file bytes, read by the column reader?
CASES = [
    ("lf", "candles", f"{CANDLES}\n{ROW1}\n{ROW2}\n", True),
    ("crlf", "candles", f"{CANDLES}\r\n{ROW1}\r\n{ROW2}\r\n", True),
    ("lone_cr", "candles", f"{CANDLES}\r{ROW1}\r{ROW2}\r", True),
    # A last line without a line end may be cut mid-number: the row loop drops it with a warning.
    ("no_final_newline", "candles", f"{CANDLES}\n{ROW1}\n{ROW2}", False),
    ("bom", "candles", f"\ufeff{CANDLES}\n{ROW1}\n{ROW2}\n", True),
    ("extra_column", "candles", f"{CANDLES},note\n{ROW1},a\n{ROW2},b\n", True),
    ("spaces_in_numbers", "candles", f"{CANDLES}\n{ROW1}\n2026-01-01T00:01:00Z, 105 ,106,100,101,3\n", True),
    ("upper_header", "candles", f"TS,Open,High,Low,Close,Volume\n{ROW1}\n", True),
    ("epoch_stamps", "orderbook", "ts,best_bid,best_ask\n1767225600,99,101\n1767225660000,98,100\n", True),
    ("blank_optional_cell", "ticker", "ts,last,high,low,volume,quote_volume\n1767225600,105,110,90,10,\n", True),
    ("blank_only_optional", "ticker", "ts,last,high,low,volume,quote_volume\n1767225600,105,110,90,10, \n", True),
    ("quoted_cells", "candles", f'{CANDLES}\n"2026-01-01T00:00:00Z","100",110,90,105,2\n', True),
    ("blank_line", "candles", f"{CANDLES}\n{ROW1}\n\n{ROW2}\n", False),
    ("short_row", "candles", f"{CANDLES}\n{ROW1}\n2026-01-01T00:01:00Z,105\n", False),
    ("duplicate_stamp", "candles", f"{CANDLES}\n{ROW1}\n{ROW1}\n", False),
    ("earlier_stamp", "candles", f"{CANDLES}\n{ROW2}\n{ROW1}\n", False),
    ("bad_stamp", "candles", f"{CANDLES}\nyesterday,100,110,90,105,2\n", False),
    ("bad_number", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,abc,110,90,105,2\n", False),
    ("infinite_number", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,Infinity,110,90,105,2\n", False),
    ("zero_price", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,100,110,0,105,2\n", False),
    ("negative_volume", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,100,110,90,105,-2\n", False),
    ("open_above_high", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,120,110,90,105,2\n", False),
    ("crossed_book", "orderbook", "ts,best_bid,best_ask\n1767225600,102,101\n", False),
    ("header_only", "candles", f"{CANDLES}\n", False),
    ("no_header", "candles", f"{ROW1}\n{ROW2}\n", False),
    ("missing_column", "candles", "ts,open,high,low,close\n2026-01-01T00:00:00Z,100,110,90,105\n", False),
    ("decimal_comma", "orderbook", "ts,best_bid,best_ask\n1767225600,1,5,2\n", False),
    ("digit_separator", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,100,110,90,105,1_000\n", False),
    ("non_ascii_digit", "candles", f"{CANDLES}\n2026-01-01T00:00:00Z,100,110,90,105,\u0662\n", False),
    ("out_of_range", "orderbook", "ts,best_bid,best_ask\n1767225600,1e25,1e26\n", False),
    ("implausible_spread", "orderbook", "ts,best_bid,best_ask\n1767225600,1,4563\n", False),
]


# Cases whose only row is refused.
NO_ROWS = {"decimal_comma", "digit_separator", "non_ascii_digit", "out_of_range"}


def _read(path: Path, folder: str) -> SeriesFile:
    return read_series_file(path, SCHEMAS[folder], display_path=f"{folder}/BTCTRY.csv", symbol="BTCTRY")


@pytest.mark.parametrize(("name", "folder", "text", "clean"), CASES, ids=[c[0] for c in CASES])
def test_column_reader_equals_row_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, folder: str, text: str, clean: bool
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode("utf-8"))

    answers: list[bool] = []
    column_reader = csvio._read_columns
    monkeypatch.setattr(csvio, "_read_columns", lambda *args: answers.append(column_reader(*args)) or answers[-1])
    fast = _read(path, folder)
    taken = answers == [True]
    monkeypatch.setattr(csvio, "_read_columns", lambda *args: False)
    slow = _read(path, folder)

    assert taken is clean
    assert (fast.ts, fast.columns, fast.issues) == (slow.ts, slow.columns, slow.issues)
    # Blank lines are fine but left to the row loop (a row of empty cells is not); any other refusal is an issue.
    assert (slow.issues == []) is (clean or name == "blank_line")
    assert slow.ts == ([] if name in NO_ROWS else slow.ts)


def test_unreadable_bytes_go_to_the_row_loop(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{CANDLES}\n{ROW1}\n".encode() + b"2026-01-01T00:01:00Z,10\xe9,106,100,101,3\n")

    series = _read(path, "candles")

    assert [i.code for i in series.issues] == ["unreadable_file"]


BOOK = "ts,best_bid,best_ask"

# Lines as csv.reader numbered them: pyarrow numbers records, and sets aside the rows of another
# width; the reader counts physical lines itself (blank lines, line ends inside quoted cells).
LINE_CASES = [
    (
        "quoted_line_end",
        f'{BOOK}\n1767225600,"1\n2",3\n1767225660,1,2,9\n1767225720,x,2\n',
        [("invalid_number", 3), ("extra_fields", 4), ("invalid_number", 5)],
        0,
    ),
    (
        "blank_lines",
        f"{BOOK}\r\n\r\n1767225600,1,2\r\n   \r\n,,\r\n1767225660,1,2,9\r\n1767225720,x,2\r\n",
        [("invalid_timestamp", 5), ("extra_fields", 6), ("invalid_number", 7)],
        1,
    ),
    (
        "set_aside_then_bad",
        f"{BOOK}\n1767225600,1\n1767225660,1,2,3\n1767225720,0,2\n",
        [("invalid_row", 2), ("extra_fields", 3), ("non_positive_price", 4)],
        0,
    ),
    # Short of an unused column only: the row is read (pyarrow set it aside, its cells are split again).
    (
        "short_but_enough",
        f"{BOOK},note\n1767225600,1,2\n1767225660,1,2,x\n1767225600,1,2,y\n",
        [("non_monotonic_timestamp", 4)],
        2,
    ),
    ("lone_cr_blank", f"{BOOK}\r1767225600,1,2\r\r1767225660,abc,2\r", [("invalid_number", 4)], 1),
]


@pytest.mark.parametrize(("name", "text", "issues", "rows"), LINE_CASES, ids=[c[0] for c in LINE_CASES])
def test_issue_lines_are_file_lines(
    tmp_path: Path, name: str, text: str, issues: list[tuple[str, int]], rows: int
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode("utf-8"))

    series = _read(path, "orderbook")

    assert [(i.code, i.line) for i in series.issues] == issues
    assert len(series.ts) == rows
