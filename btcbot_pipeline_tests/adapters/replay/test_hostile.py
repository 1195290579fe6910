"""Hostile replay files: each bad value or row is one symbol's problem, with its code, file and line.

Every case edits one file of a copy of the synthetic dataset (12 pairs, 180 one-minute rows),
then checks what ``replay-validate`` says and what the reader makes of the symbol at a cycle:
the symbol is excluded with its reason and every other symbol is still tradable.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay import csvio, exchangeinfo
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset, ReplayDatasetError
from btcbot_pipeline.adapters.replay.validate import ISSUE_CODES, validate_replay_dataset

AT = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
LINE = 11  # the data row stamped 00:09 (line 1 is the header)


@pytest.fixture
def data(replay_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(replay_dir, target)
    return target


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def reasons(data: Path) -> dict[str, str | None]:
    snapshot = ReplayDataset.load(data).snapshots([AT])[0]
    return {s.symbol: s.skip_reason for s in snapshot.symbols}


def only_eth_excluded(data: Path, reason: str) -> None:
    seen = reasons(data)
    assert seen.pop("ETHTRY") == reason
    assert set(seen.values()) == {None}  # the 11 other pairs are tradable
    assert len(seen) == 11


@pytest.mark.parametrize(
    ("folder", "column", "value", "field"),
    [
        ("orderbook", "best_bid", "1e25", "best_bid"),  # the issue's 1e25 best bid (ask below it too)
        ("ticker", "last", "1e25", "last"),
        ("ticker", "quote_volume", "1e25", "quote_volume"),
        ("candles", "volume", "1e40", "volume"),
        ("candles", "close", "1e30", "close"),
        ("orderbook", "best_bid", "1e-25", "best_bid"),  # the book at 1e-25
        ("orderbook", "best_bid", "1e-30", "best_bid"),  # a bid of 1e-30 under an ask of ~130000
    ],
)
def test_a_number_out_of_bounds_is_an_error_with_file_line_and_field_and_excludes_only_its_symbol(
    data: Path, folder: str, column: str, value: str, field: str
) -> None:
    set_cell(data / folder / "ETHTRY.csv", LINE, column, value)

    report = validate_replay_dataset(data)

    errors = [(i.code, i.location, i.field, i.symbol) for i in report.errors]
    assert errors == [("out_of_range", f"{folder}/ETHTRY.csv:{LINE}", field, "ETHTRY")]
    assert report.errors[0].detail.startswith(f"{column} {Decimal(value)} is outside [")
    only_eth_excluded(data, f"invalid_data:out_of_range:{field}")


def test_a_close_of_1e30_with_its_high_is_refused_before_any_daily_change_is_derived(data: Path) -> None:
    for line in range(2, 40):
        set_cell(data / "candles" / "ETHTRY.csv", line, "high", "1e30")
        set_cell(data / "candles" / "ETHTRY.csv", line, "close", "1e30")

    only_eth_excluded(data, "invalid_data:out_of_range:high")


def test_a_derived_daily_change_out_of_bounds_excludes_the_symbol_at_the_cycle(data: Path) -> None:
    # Without a ticker, the change comes from the candles: an open of 1e-9 and a close of
    # ~130000 are both in range, but their change, +1.3e16 %, is not (bound 1e9 %).
    shutil.rmtree(data / "ticker")
    path = data / "candles" / "ETHTRY.csv"
    set_cell(path, 2, "open", "1e-9")
    set_cell(path, 2, "low", "1e-9")

    assert validate_replay_dataset(data).ok
    snapshot = ReplayDataset.load(data).snapshots([AT])[0]

    eth = snapshot.by_symbol()["ETHTRY"]
    assert (eth.skip_reason, eth.daily_change_pct, eth.best_bid is not None) == (
        "invalid_data:out_of_range:daily_change_pct",
        None,
        True,
    )
    assert all(s.skip_reason is None for s in snapshot.symbols if s.symbol != "ETHTRY")


def test_an_implausible_spread_is_warned_and_excluded_only_while_it_is_the_book(data: Path) -> None:
    set_cell(data / "orderbook" / "ETHTRY.csv", LINE, "best_bid", "1")  # ask ~130000

    report = validate_replay_dataset(data)
    at_row, later = ReplayDataset.load(data).snapshots([datetime(2026, 1, 1, 0, 9, tzinfo=timezone.utc), AT])

    assert [(i.code, i.severity, i.location) for i in report.issues] == [
        ("implausible_spread", "warning", f"orderbook/ETHTRY.csv:{LINE}"),
    ]
    assert at_row.by_symbol()["ETHTRY"].skip_reason == "implausible_spread"
    assert later.by_symbol()["ETHTRY"].skip_reason is None


def test_a_decimal_comma_is_extra_fields_never_bid_1_ask_5(data: Path) -> None:
    path = data / "orderbook" / "ETHTRY.csv"
    lines = path.read_text().splitlines()
    lines[LINE - 1] = "2026-01-01T00:09:00Z,1,5,130000"
    path.write_text("\n".join(lines) + "\n")

    report = validate_replay_dataset(data)

    assert [(i.code, i.location) for i in report.errors] == [("extra_fields", f"orderbook/ETHTRY.csv:{LINE}")]
    assert "a decimal comma (1,5)?" in report.errors[0].detail
    only_eth_excluded(data, "invalid_data:extra_fields")


def test_a_last_row_cut_mid_number_is_warned_and_not_used(data: Path) -> None:
    path = data / "orderbook" / "ETHTRY.csv"
    text = path.read_text()
    lines = text.splitlines()
    assert (len(lines), lines[-1][:20]) == (181, "2026-01-01T02:59:00Z")  # header + 180 one-minute rows
    path.write_text(text[: text.rstrip("\n").rfind(",") + 3])  # the last ask cut after two digits

    report = validate_replay_dataset(data)
    at_last_row = ReplayDataset.load(data).snapshot_at(datetime(2026, 1, 1, 2, 59, tzinfo=timezone.utc))

    assert [(i.code, i.severity, i.location) for i in report.issues] == [
        ("truncated_last_row", "warning", "orderbook/ETHTRY.csv:181"),
    ]
    eth = at_last_row.by_symbol()["ETHTRY"]
    assert (eth.best_bid, eth.best_ask) == tuple(Decimal(c) for c in lines[-2].split(",")[1:])  # the 02:58 row


@pytest.mark.parametrize("value", ["1_000", "NaN", "inf", "-Infinity", "sNaN", "١٢", "0x10", "1e5e5"])
def test_a_number_that_is_not_a_plain_decimal_is_invalid_number(data: Path, value: str) -> None:
    set_cell(data / "candles" / "ETHTRY.csv", LINE, "volume", value)

    report = validate_replay_dataset(data)

    assert [(i.code, i.location) for i in report.errors] == [("invalid_number", f"candles/ETHTRY.csv:{LINE}")]
    only_eth_excluded(data, "invalid_data:invalid_number")


def test_exponents_are_plain_decimals(data: Path) -> None:
    # 3.1E+0 is exact decimal notation (str(Decimal) writes small values so): accepted.
    set_cell(data / "candles" / "ETHTRY.csv", LINE, "volume", "3.1E+0")

    assert validate_replay_dataset(data).issues == ()


def test_ticker_as_a_file_is_a_warning_and_the_candles_stand_in(data: Path) -> None:
    shutil.rmtree(data / "ticker")
    (data / "ticker").write_text("not a folder\n")

    report = validate_replay_dataset(data)

    assert [(i.code, i.severity, i.path) for i in report.issues] == [("ticker_not_a_folder", "warning", "ticker")]
    assert set(reasons(data).values()) == {None}


def test_candles_as_a_file_is_refused_naming_it(data: Path) -> None:
    shutil.rmtree(data / "candles")
    (data / "candles").write_text("x\n")

    report = validate_replay_dataset(data)

    assert [(i.code, i.path) for i in report.errors] == [("not_a_folder", "candles")]
    with pytest.raises(ReplayDatasetError, match="not_a_folder: candles is a file"):
        ReplayDataset.load(data)


def test_a_wrong_case_folder_is_named_in_the_missing_folder_error(data: Path) -> None:
    (data / "orderbook").rename(data / "OrderBook")

    report = validate_replay_dataset(data)

    assert [i.code for i in report.errors] == ["missing_orderbook_folder"]
    assert report.errors[0].detail.endswith("; found OrderBook/: rename it to orderbook/")


def test_a_symbol_file_that_is_a_folder_is_an_error_of_that_symbol(data: Path) -> None:
    (data / "candles" / "ETHTRY.csv").unlink()
    (data / "candles" / "ETHTRY.csv").mkdir()

    report = validate_replay_dataset(data)

    assert [(i.code, i.path, i.symbol) for i in report.errors] == [
        ("not_a_file", "candles/ETHTRY.csv", "ETHTRY"),
        ("missing_candles_file", "candles/ETHTRY.csv", "ETHTRY"),
    ]
    only_eth_excluded(data, "invalid_data:not_a_file")


def test_a_csv_past_the_size_bound_is_refused_unread(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvio, "MAX_FILE_BYTES", 20_000)  # the synthetic files are 6-10 kB
    path = data / "candles" / "ETHTRY.csv"
    path.write_text(path.read_text() + "x" * 20_000)

    report = validate_replay_dataset(data)

    assert [(i.code, i.location) for i in report.errors] == [("file_too_large", "candles/ETHTRY.csv")]
    only_eth_excluded(data, "invalid_data:file_too_large")


def test_an_exchangeinfo_past_the_size_bound_is_not_exchangeinfo(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exchangeinfo, "MAX_FILE_BYTES", 100)

    report = validate_replay_dataset(data)

    assert [i.code for i in report.errors] == ["invalid_exchangeinfo"]
    assert "bytes, more than the 100 bytes read at most" in report.errors[0].detail


def _edit_rules(data: Path, symbol: str, **changes: object) -> None:
    path = data / "exchangeinfo.json"
    info = json.loads(path.read_text())
    for entry in info["data"]["symbols"]:
        if entry["name"] == symbol:
            for key, value in changes.items():
                if key == "tickSize" or key == "minExchangeValue":
                    entry["filters"][0][key] = value
                else:
                    entry[key] = value
    path.write_text(json.dumps(info))


@pytest.mark.parametrize(
    ("changes", "problem", "reason"),
    [
        ({"numeratorScale": 60}, "quantity_scale out of range", "invalid_data:out_of_range:quantity_scale"),
        ({"tickSize": "1e30"}, "tick_size out of range", "invalid_data:out_of_range:tick_size"),
        ({"tickSize": "0"}, "tick_size 0", "rules_unavailable:invalid"),
        (
            {
                "filters": [
                    {"filterType": "PRICE_FILTER", "tickSize": "1", "minExchangeValue": "10"},
                    {"filterType": "LOT_SIZE", "stepSize": "0"},
                ]
            },
            "lot_size 0",
            "rules_unavailable:invalid",
        ),
        ({"minExchangeValue": "-5"}, "min_notional -5", "rules_unavailable:invalid"),
        ({"status": "HALTED"}, "status HALTED", "rules_unavailable:invalid"),
    ],
)
def test_unusable_exchange_rules_are_warned_by_validate_and_exclude_only_that_symbol(
    data: Path, changes: dict, problem: str, reason: str
) -> None:
    from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
    from btcbot_pipeline.domain.params import RulesParams

    _edit_rules(data, "ETHTRY", **changes)

    report = validate_replay_dataset(data)
    snapshot = exclude_unusable_rules(ReplayDataset.load(data).snapshots([AT])[0], RulesParams())

    assert [(i.code, i.severity, i.detail) for i in report.issues] == [
        ("invalid_symbol_rules", "warning", f"ETHTRY: unusable rules ({problem}); the symbol is not traded"),
    ]
    seen = {s.symbol: s.skip_reason for s in snapshot.symbols}
    assert seen.pop("ETHTRY") == reason
    assert set(seen.values()) == {None}


def test_every_code_the_reader_can_emit_is_documented() -> None:
    for code in (
        "out_of_range",
        "extra_fields",
        "truncated_last_row",
        "implausible_spread",
        "not_a_file",
        "not_a_folder",
        "ticker_not_a_folder",
        "file_too_large",
        "invalid_symbol_rules",
        "invalid_number",
    ):
        assert code in ISSUE_CODES
