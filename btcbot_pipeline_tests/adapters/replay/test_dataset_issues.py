"""ReplayDataset with broken data: whole-dataset errors raise, one symbol's problems do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset, ReplayDatasetError
from btcbot_pipeline.testing.replay_builders import (
    BOOK_HEADER,
    CANDLES_HEADER,
    GOOD_BOOK,
    GOOD_CANDLES,
    exchange_symbol,
    good_dataset,
    utc,
    write_dataset,
    write_file,
)

AT = utc("2026-01-01T00:02:00Z")


def _skip_reasons(dataset: ReplayDataset) -> dict[str, str | None]:
    return {s.symbol: s.skip_reason for s in dataset.snapshot_at(AT).symbols}


def test_missing_dataset_raises_dataset_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(ReplayDatasetError) as caught:
        ReplayDataset.load(missing)

    assert caught.value.code == "dataset_missing"
    assert caught.value.path == str(missing)
    assert str(caught.value).startswith("dataset_missing: dataset folder does not exist")
    assert str(caught.value).endswith(f"({missing})")


@pytest.mark.parametrize(
    ("folders", "code", "where"),
    [
        (("orderbook",), "missing_candles_folder", "candles"),
        (("candles",), "missing_orderbook_folder", "orderbook"),
        ((), "missing_candles_folder", "candles"),  # both missing: the first is raised
        (("candles", "orderbook"), "no_symbols", ""),
    ],
    ids=["no_candles", "no_orderbook", "neither", "empty_folders"],
)
def test_whole_dataset_problems_raise(tmp_path: Path, folders: tuple[str, ...], code: str, where: str) -> None:
    root = write_dataset(tmp_path / "ds", folders=folders)

    with pytest.raises(ReplayDatasetError) as caught:
        ReplayDataset.load(root)

    assert caught.value.code == code
    assert caught.value.path == str(root / where if where else root)


def test_no_candle_files_at_all_raises(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, orderbook={"BTCTRY": GOOD_BOOK})

    with pytest.raises(ReplayDatasetError, match="^missing_candles_files: ") as caught:
        ReplayDataset.load(root)
    assert caught.value.code == "missing_candles_files"


def test_no_readable_orderbook_row_raises(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, candles={"BTCTRY": GOOD_CANDLES}, orderbook={"BTCTRY": f"{BOOK_HEADER}\n"})

    with pytest.raises(ReplayDatasetError) as caught:
        ReplayDataset.load(root)
    assert caught.value.code == "no_orderbook_rows"


def test_a_dataset_path_that_is_a_file_raises(tmp_path: Path) -> None:
    file = write_file(tmp_path, "dataset.csv", "x")

    with pytest.raises(ReplayDatasetError) as caught:
        ReplayDataset.load(file)
    assert caught.value.code == "dataset_not_directory"


def test_missing_orderbook_file_skips_only_that_symbol(tmp_path: Path) -> None:
    root = good_dataset(tmp_path, "BTCTRY", candles={"ETHTRY": GOOD_CANDLES})

    dataset = ReplayDataset.load(root)

    assert dataset.symbols == ("BTCTRY", "ETHTRY")
    assert _skip_reasons(dataset) == {
        "BTCTRY": None,
        "ETHTRY": "invalid_data:missing_orderbook_file",
    }
    assert [(i.code, i.symbol) for i in dataset.issues] == [("missing_orderbook_file", "ETHTRY")]
    eth = dataset.snapshot_at(AT).by_symbol()["ETHTRY"]
    assert (eth.data_ts, eth.best_bid, eth.closes) == (None, None, ())


def test_non_monotonic_file_skips_only_that_symbol(tmp_path: Path) -> None:
    unordered = f"""\
        {CANDLES_HEADER}
        2026-01-01T00:00:00Z,100,110,90,105,2
        2026-01-01T00:02:00Z,101,104,99,103,1
        2026-01-01T00:01:00Z,105,106,100,101,3
        """
    root = good_dataset(tmp_path, "BTCTRY", "ETHTRY", candles={"ETHTRY": unordered})

    dataset = ReplayDataset.load(root)

    assert _skip_reasons(dataset) == {
        "BTCTRY": None,
        "ETHTRY": "invalid_data:non_monotonic_timestamp",
    }
    (issue,) = dataset.issues
    assert (issue.code, issue.symbol, issue.path, issue.line) == (
        "non_monotonic_timestamp",
        "ETHTRY",
        "candles/ETHTRY.csv",
        4,
    )


@pytest.mark.parametrize(
    ("kind", "text", "code"),
    [
        ("candles", f"{CANDLES_HEADER}\n2026-01-01T00:00:00Z,100,110,90,x,2\n", "invalid_number"),
        ("candles", f"{CANDLES_HEADER}\nyesterday,100,110,90,105,2\n", "invalid_timestamp"),
        ("candles", "ts,open,high,low,close\n2026-01-01T00:00:00Z,1,1,1,1\n", "invalid_schema"),
        ("candles", "", "missing_header"),
        ("orderbook", f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,105,104\n", "crossed_book"),
        ("orderbook", f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,0,104\n", "non_positive_price"),
        ("ticker", "ts,last,high,low,volume\n2026-01-01T00:00:00Z,1,1,1,-3\n", "negative_volume"),
    ],
    ids=["number", "timestamp", "schema", "empty", "crossed", "zero_bid", "ticker_volume"],
)
def test_bad_rows_skip_the_symbol_with_the_first_error_code(tmp_path: Path, kind: str, text: str, code: str) -> None:
    root = good_dataset(tmp_path, "BTCTRY", "ETHTRY", **{kind: {"ETHTRY": text}})

    dataset = ReplayDataset.load(root)

    assert _skip_reasons(dataset) == {"BTCTRY": None, "ETHTRY": f"invalid_data:{code}"}


def test_warnings_do_not_skip_the_symbol(tmp_path: Path) -> None:
    # Equal timestamps (later row wins) and a close above the high are warnings only.
    candles = f"""\
        {CANDLES_HEADER}
        2026-01-01T00:00:00Z,100,110,90,105,2
        2026-01-01T00:00:00Z,100,110,90,106,2
        2026-01-01T00:01:00Z,105,106,100,107,3
        """
    root = good_dataset(tmp_path, candles={"BTCTRY": candles})

    dataset = ReplayDataset.load(root)
    snap = dataset.snapshot_at(utc("2026-01-01T00:00:30Z")).by_symbol()["BTCTRY"]

    assert dataset.issues == ()
    assert snap.skip_reason is None
    assert snap.closes == (106,)  # the repeated 00:00 bar replaced the first one


def test_a_broken_exchangeinfo_is_an_issue_not_a_failure(tmp_path: Path) -> None:
    root = good_dataset(tmp_path, exchangeinfo='{"success": true, "data": ')

    dataset = ReplayDataset.load(root)

    assert dataset.rules == {}
    assert [(i.code, i.symbol, i.path) for i in dataset.issues] == [("invalid_exchangeinfo", None, "exchangeinfo.json")]
    assert _skip_reasons(dataset) == {"BTCTRY": None}


def test_rules_of_symbols_without_csvs_are_kept(tmp_path: Path) -> None:
    info = {"symbols": [exchange_symbol("BTCTRY"), exchange_symbol("XRPTRY", tick="0.001")]}

    dataset = ReplayDataset.load(good_dataset(tmp_path, exchangeinfo=info))

    assert sorted(dataset.rules) == ["BTCTRY", "XRPTRY"]
    assert dataset.symbols == ("BTCTRY",)


def test_symbol_names_are_canonicalised_from_file_stems(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, candles={"btc_try": GOOD_CANDLES}, orderbook={"BTCTRY": GOOD_BOOK})

    dataset = ReplayDataset.load(root)

    assert dataset.symbols == ("BTCTRY",)
    assert _skip_reasons(dataset) == {"BTCTRY": None}
