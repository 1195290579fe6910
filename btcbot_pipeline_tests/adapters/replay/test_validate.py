"""validate_replay_dataset: one broken case per code, with exact code, path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.csvio import MAX_ISSUES_PER_CODE
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.validate import ISSUE_CODES, validate_replay_dataset
from btcbot_pipeline.testing.replay_builders import (
    BOOK_HEADER,
    CANDLES_HEADER,
    GOOD_BOOK,
    GOOD_CANDLES,
    good_dataset,
    utc,
    write_dataset,
    write_file,
)

C = CANDLES_HEADER + "\n"
B = BOOK_HEADER + "\n"
ROW = "2026-01-01T00:00:00Z,100,110,90,105,2\n"

# (id, files for ETHTRY on top of a clean BTCTRY, expected code, path, line, severity)
SYMBOL_CASES = [
    ("no_book", {"orderbook": {}}, "missing_orderbook_file", "orderbook/ETHTRY.csv", None, "error"),
    ("no_candles", {"candles": {}}, "missing_candles_file", "candles/ETHTRY.csv", None, "error"),
    ("empty_file", {"candles": {"ETHTRY": ""}}, "missing_header", "candles/ETHTRY.csv", 1, "error"),
    ("data_first", {"candles": {"ETHTRY": ROW}}, "missing_header", "candles/ETHTRY.csv", 1, "error"),
    ("repeated_col", {"orderbook": {"ETHTRY": "ts,best_bid,best_bid\n"}},
     "invalid_header", "orderbook/ETHTRY.csv", 1, "error"),
    ("missing_col", {"orderbook": {"ETHTRY": "ts,bid,best_ask\n1767225600,1,2\n"}},
     "invalid_schema", "orderbook/ETHTRY.csv", 1, "error"),
    ("no_rows", {"candles": {"ETHTRY": C}}, "insufficient_rows", "candles/ETHTRY.csv", None, "error"),
    ("short_row", {"candles": {"ETHTRY": C + ROW + "2026-01-01T00:01:00Z,1,2\n"}},
     "invalid_row", "candles/ETHTRY.csv", 3, "error"),
    ("bad_ts", {"candles": {"ETHTRY": C + ROW + "2026-13-01T00:00:00Z,1,1,1,1,1\n"}},
     "invalid_timestamp", "candles/ETHTRY.csv", 3, "error"),
    ("ts_backwards", {"orderbook": {"ETHTRY": B + "1767225660,1,2\n1767225600,1,2\n"}},
     "non_monotonic_timestamp", "orderbook/ETHTRY.csv", 3, "error"),
    ("ts_repeated", {"orderbook": {"ETHTRY": B + "1767225600,1,2\n1767225600000,1,2\n"}},
     "duplicate_timestamp", "orderbook/ETHTRY.csv", 3, "warning"),
    ("bad_number", {"candles": {"ETHTRY": C + "2026-01-01T00:00:00Z,100,110,90,1e,2\n"}},
     "invalid_number", "candles/ETHTRY.csv", 2, "error"),
    ("nan", {"candles": {"ETHTRY": C + "2026-01-01T00:00:00Z,100,110,90,NaN,2\n"}},
     "invalid_number", "candles/ETHTRY.csv", 2, "error"),
    ("zero_price", {"candles": {"ETHTRY": C + "2026-01-01T00:00:00Z,0,110,90,105,2\n"}},
     "non_positive_price", "candles/ETHTRY.csv", 2, "error"),
    ("neg_volume", {"candles": {"ETHTRY": C + "2026-01-01T00:00:00Z,100,110,90,105,-2\n"}},
     "negative_volume", "candles/ETHTRY.csv", 2, "error"),
    ("crossed", {"orderbook": {"ETHTRY": B + "2026-01-01T00:00:00Z,102,101\n"}},
     "crossed_book", "orderbook/ETHTRY.csv", 2, "error"),
    ("ohlc", {"candles": {"ETHTRY": C + "2026-01-01T00:00:00Z,100,104,90,105,2\n"}},
     "inconsistent_candle", "candles/ETHTRY.csv", 2, "warning"),
    ("dup_symbol", {"candles": {"ETHTRY": GOOD_CANDLES, "ETH_TRY": GOOD_CANDLES}},
     "duplicate_symbol_file", "candles/ETH_TRY.csv", None, "error"),
    ("ticker_cols", {"ticker": {"ETHTRY": "ts,last\n"}}, "invalid_schema", "ticker/ETHTRY.csv", 1, "error"),
]  # fmt: skip


def _build(root: Path, files: dict[str, dict[str, str]]) -> Path:
    """A clean BTCTRY plus ETHTRY; ETHTRY's candles/orderbook default to clean files
    unless ``files`` gives them (an empty dict = no file)."""
    candles = {"BTCTRY": GOOD_CANDLES, **files.get("candles", {"ETHTRY": GOOD_CANDLES})}
    orderbook = {"BTCTRY": GOOD_BOOK, **files.get("orderbook", {"ETHTRY": GOOD_BOOK})}
    return write_dataset(root, candles=candles, orderbook=orderbook, ticker=files.get("ticker"))


@pytest.mark.parametrize(
    ("files", "code", "path", "line", "severity"),
    [case[1:] for case in SYMBOL_CASES],
    ids=[case[0] for case in SYMBOL_CASES],
)
def test_symbol_level_issue(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    files: dict,
    code: str,
    path: str,
    line: int | None,
    severity: str,
) -> None:
    root = _build(tmp_path / request.node.callspec.id, files)

    report = validate_replay_dataset(root)

    found = [(i.code, i.path, i.line, i.severity) for i in report.issues if i.symbol == "ETHTRY"]
    assert found == [(code, path, line, severity)]
    assert report.ok is (severity == "warning")
    # The reader agrees: an error on the symbol's files skips it, a warning does not.
    at = utc("2026-01-01T00:02:00Z")
    snap = ReplayDataset.load(root).snapshot_at(at, max_data_age_s=3600).by_symbol()
    assert snap["ETHTRY"].skip_reason == (f"invalid_data:{code}" if severity == "error" else None)
    assert snap["BTCTRY"].skip_reason is None


@pytest.mark.parametrize(
    ("folders", "code", "path"),
    [
        (("orderbook",), "missing_candles_folder", "candles"),
        (("candles",), "missing_orderbook_folder", "orderbook"),
        (("candles", "orderbook"), "no_symbols", "."),
    ],
    ids=["candles", "orderbook", "empty"],
)
def test_dataset_level_issue(tmp_path: Path, folders: tuple[str, ...], code: str, path: str) -> None:
    report = validate_replay_dataset(write_dataset(tmp_path / "ds", folders=folders))

    assert [(i.code, i.path, i.severity) for i in report.issues] == [(code, path, "error")]
    assert not report.ok


def test_both_folders_missing_lists_both(tmp_path: Path) -> None:
    report = validate_replay_dataset(write_dataset(tmp_path / "ds", folders=()))

    assert [i.code for i in report.issues] == ["missing_candles_folder", "missing_orderbook_folder"]


def test_dataset_missing(tmp_path: Path) -> None:
    report = validate_replay_dataset(tmp_path / "absent")

    assert [(i.code, i.path) for i in report.issues] == [("dataset_missing", ".")]
    assert report.format_text().splitlines()[0].startswith("ERROR dataset_missing .: dataset folder")


def test_empty_orderbook_folder(tmp_path: Path) -> None:
    report = validate_replay_dataset(write_dataset(tmp_path, candles={"BTCTRY": GOOD_CANDLES}))

    assert [(i.code, i.path) for i in report.issues] == [("missing_orderbook_files", "orderbook")]


def test_invalid_exchangeinfo(tmp_path: Path) -> None:
    report = validate_replay_dataset(good_dataset(tmp_path, exchangeinfo={"serverTime": 1}))

    (issue,) = report.issues
    assert (issue.code, issue.path, issue.severity) == ("invalid_exchangeinfo", "exchangeinfo.json", "error")
    assert "not an exchangeinfo payload" in issue.detail


def test_exchangeinfo_symbol_warnings(tmp_path: Path) -> None:
    info = {"symbols": [{"name": "BTCTRY", "numeratorScale": 8}]}  # no tick, no min, no price scale

    report = validate_replay_dataset(good_dataset(tmp_path, "BTCTRY", "ETHTRY", exchangeinfo=info))

    assert [(i.code, i.symbol, i.severity) for i in report.issues] == [
        ("incomplete_symbol_rules", "BTCTRY", "warning"),
        ("missing_symbol_rules", "ETHTRY", "warning"),
    ]
    assert "tick_size, min_notional_try, price_scale" in report.issues[0].detail
    assert report.ok


def test_ticker_folder_warnings(tmp_path: Path) -> None:
    ticker = {"XRPTRY": "ts,last,high,low,volume\n2026-01-01T00:00:00Z,1,1,1,1\n"}

    report = validate_replay_dataset(good_dataset(tmp_path, ticker=ticker))

    assert [(i.code, i.path) for i in report.issues] == [
        ("orphan_ticker_file", "ticker/XRPTRY.csv"),
        ("missing_ticker_file", "ticker/BTCTRY.csv"),
    ]
    assert report.ok


def test_many_bad_rows_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"2026-01-01T00:{m:02d}:00Z,1,1,1,x,1\n" for m in range(MAX_ISSUES_PER_CODE + 3))
    report = validate_replay_dataset(good_dataset(tmp_path, candles={"BTCTRY": C + rows}))

    assert [i.code for i in report.issues] == ["invalid_number"] * MAX_ISSUES_PER_CODE + ["issues_truncated"]
    assert report.issues[-1].detail == "3 more invalid_number issues not listed"
    assert [i.line for i in report.issues[:2]] == [2, 3]


def test_unreadable_file(tmp_path: Path) -> None:
    root = good_dataset(tmp_path)
    (root / "orderbook" / "BTCTRY.csv").write_bytes(b"ts,best_bid,best_ask\n\xff\xfe,1,2\n")

    issues = [(i.code, i.path) for i in validate_replay_dataset(root).errors]

    assert ("unreadable_file", "orderbook/BTCTRY.csv") in issues


def test_format_text_lines_and_summary(tmp_path: Path) -> None:
    root = good_dataset(
        tmp_path,
        "BTCTRY",
        "ETHTRY",
        orderbook={"ETHTRY": B + "2026-01-01T00:00:00Z,102,101\n2026-01-01T00:00:00Z,101,102\n"},
    )

    text = validate_replay_dataset(root).format_text()

    assert text.splitlines() == [
        "ERROR crossed_book orderbook/ETHTRY.csv:2: best_bid 102 is above best_ask 101",
        f"FAILED {root}: 2 symbols, 1 errors, 0 warnings",
    ]


def test_clean_dataset_and_row_counts(tmp_path: Path) -> None:
    write_file(tmp_path, "ds/README.md", "not data")
    report = validate_replay_dataset(good_dataset(tmp_path / "ds", "BTCTRY", "ETHTRY"))

    assert report.ok and report.issues == ()
    assert report.symbols == ("BTCTRY", "ETHTRY")
    assert report.row_counts["candles"] == {"BTCTRY": 3, "ETHTRY": 3}
    assert report.format_text() == f"OK {tmp_path / 'ds'}: 2 symbols, 0 errors, 0 warnings"


def test_every_emitted_code_is_documented_with_its_severity(tmp_path: Path) -> None:
    for case_id, files, code, _path, _line, severity in SYMBOL_CASES:
        assert ISSUE_CODES[code][0] == severity, case_id
        report = validate_replay_dataset(_build(tmp_path / case_id, files))
        for issue in report.issues:
            assert ISSUE_CODES[issue.code][0] == issue.severity
