"""The column-at-a-time CSV reader agrees with the row loop, and hands it every doubtful file.

``read_series_file`` first tries ``_read_clean_file`` (whole columns, C-level loops); it
must give exactly what the row loop gives, and refuse any file on which the row loop would
report an issue, so that the issue is worded with its line.
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
    ("quoted_cells", "candles", f'{CANDLES}\n"2026-01-01T00:00:00Z","100",110,90,105,2\n', False),
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

    taken = csvio._read_clean_file(path, SCHEMAS[folder], SeriesFile(folder, "", ""), {})
    fast = _read(path, folder)
    monkeypatch.setattr(csvio, "_read_clean_file", lambda *args: False)
    slow = _read(path, folder)

    assert taken is clean
    assert (fast.ts, fast.columns, fast.issues) == (slow.ts, slow.columns, slow.issues)
    # Quotes and blank lines are fine but left to csv.reader; any other refusal is an issue.
    assert (slow.issues == []) is (clean or name in {"quoted_cells", "blank_line"})
    assert slow.ts == ([] if name in NO_ROWS else slow.ts)


def test_unreadable_bytes_go_to_the_row_loop(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{CANDLES}\n{ROW1}\n".encode() + b"2026-01-01T00:01:00Z,10\xe9,106,100,101,3\n")

    series = _read(path, "candles")

    assert [i.code for i in series.issues] == ["unreadable_file"]
