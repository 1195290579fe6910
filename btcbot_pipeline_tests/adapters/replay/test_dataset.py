"""ReplayDataset.snapshot_at: timestamps, no look-ahead, closes, 24 h stats, staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.csvio import TimestampParseError, parse_timestamp_us
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.testing.replay_builders import (
    BOOK_HEADER,
    CANDLES_HEADER,
    TICKER_HEADER,
    exchange_symbol,
    good_dataset,
    utc,
    write_dataset,
)

T0 = utc("2026-01-01T00:00:00Z")  # epoch 1767225600


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T03:00:00+03:00",  # Istanbul time, same instant
        "2026-01-01T00:00:00",  # naive = UTC
        "2026-01-01 00:00:00",
        "1767225600",  # epoch seconds
        "1767225600000",  # epoch milliseconds
    ],
    ids=["z", "offset0", "offset3", "naive", "space", "epoch_s", "epoch_ms"],
)
def test_every_timestamp_form_reads_as_the_same_instant(tmp_path: Path, stamp: str) -> None:
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": f"{CANDLES_HEADER}\n{stamp},100,110,90,105,2\n"},
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n{stamp},104,106\n"},
    )

    dataset = ReplayDataset.load(root)
    snap = dataset.snapshot_at(T0).by_symbol()["BTCTRY"]

    assert dataset.start == dataset.end == T0
    assert snap.data_ts == T0
    assert snap.staleness_s == 0
    assert snap.skip_reason is None


def test_sub_second_stamps_are_never_rounded_earlier() -> None:
    # 500 ms after the second: visible at 00:00:00.5, not at 00:00:00.
    assert parse_timestamp_us("1767225600500") == 1_767_225_600_500_000
    assert parse_timestamp_us("2026-01-01T00:00:00.000250Z") == 1_767_225_600_000_250


@pytest.mark.parametrize("token", ["", "abc", "20260101", "176722560", "17672256001234", "1.7e9"])
def test_ambiguous_or_malformed_timestamps_are_refused(token: str) -> None:
    with pytest.raises(TimestampParseError):
        parse_timestamp_us(token)


def test_no_look_ahead_a_row_one_second_later_is_invisible(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path,
        candles={
            "BTCTRY": f"""\
            {CANDLES_HEADER}
            2026-01-01T00:00:00Z,100,101,99,100,1
            2026-01-01T00:00:01Z,100,201,99,200,1
            """
        },
        orderbook={
            "BTCTRY": f"""\
            {BOOK_HEADER}
            2026-01-01T00:00:00Z,99,101
            2026-01-01T00:00:01Z,199,201
            """
        },
    )
    dataset = ReplayDataset.load(root)

    now = dataset.snapshot_at(T0).by_symbol()["BTCTRY"]
    later = dataset.snapshot_at(T0 + timedelta(seconds=1)).by_symbol()["BTCTRY"]
    before = dataset.snapshot_at(T0 - timedelta(microseconds=1)).by_symbol()["BTCTRY"]

    assert (now.best_bid, now.best_ask, now.closes, now.high_24h) == (
        Decimal("99"),
        Decimal("101"),
        (Decimal("100"),),
        Decimal("101"),
    )
    assert (later.best_bid, later.closes[-1], later.high_24h) == (Decimal("199"), Decimal("200"), Decimal("201"))
    assert before.data_ts is None
    assert before.skip_reason == "no_data"


def _minute_dataset(tmp_path: Path, closes: list[int]) -> Path:
    rows = [f"{(T0 + timedelta(minutes=i)).isoformat()},{c},{c},{c},{c},1" for i, c in enumerate(closes)]
    books = [f"{(T0 + timedelta(minutes=i)).isoformat()},{c - 1},{c + 1}" for i, c in enumerate(closes)]
    return write_dataset(
        tmp_path,
        candles={"BTCTRY": "\n".join([CANDLES_HEADER, *rows]) + "\n"},
        orderbook={"BTCTRY": "\n".join([BOOK_HEADER, *books]) + "\n"},
    )


def test_closes_are_the_last_lookback_plus_one_oldest_first(tmp_path: Path) -> None:
    dataset = ReplayDataset.load(_minute_dataset(tmp_path, list(range(100, 130))))
    at = T0 + timedelta(minutes=29, seconds=59)  # last bar 100+29 = 129

    snap = dataset.snapshot_at(at, vol_lookback=5).by_symbol()["BTCTRY"]
    short = dataset.snapshot_at(T0 + timedelta(minutes=2), vol_lookback=5).by_symbol()["BTCTRY"]
    zero = dataset.snapshot_at(at, vol_lookback=0).by_symbol()["BTCTRY"]

    assert snap.closes == tuple(Decimal(c) for c in (124, 125, 126, 127, 128, 129))
    assert short.closes == (Decimal(100), Decimal(101), Decimal(102))  # fewer bars than asked
    assert zero.closes == (Decimal(129),)


def test_24h_stats_from_candles_without_ticker_folder(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path,
        candles={
            "BTCTRY": f"""\
            {CANDLES_HEADER}
            2026-01-01T00:00:00Z,50,500,1,60,7
            2026-01-01T06:00:00Z,100,120,95,110,2
            2026-01-01T12:00:00Z,110,130,105,120,3
            2026-01-02T00:00:00Z,120,125,90,121,0.5
            """
        },
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n2026-01-02T00:00:00Z,120,122\n"},
    )
    dataset = ReplayDataset.load(root)

    snap = dataset.snapshot_at(utc("2026-01-02T00:00:30Z")).by_symbol()["BTCTRY"]

    # Window (2026-01-01T00:00:30, 2026-01-02T00:00:30]: the first bar (high 500) is out.
    assert snap.last == Decimal("121")
    assert snap.high_24h == Decimal("130")
    assert snap.low_24h == Decimal("90")
    assert snap.quote_volume_try == Decimal("640.5")  # 110×2 + 120×3 + 121×0.5
    assert snap.daily_change_pct == Decimal("21")  # (121 - 100) / 100 × 100
    assert snap.data_ts == utc("2026-01-02T00:00:00Z")


def test_24h_stats_come_from_the_candles_until_the_ticker_begins_and_are_worked_out_only_then(
    tmp_path: Path,
) -> None:
    """A cycle before a symbol's first ticker row takes its 24 h stats from the candles; the
    candles' windows are worked out on that first use, never for a symbol whose ticker
    covers every cycle (loading a dataset with ticker files does not pay for them)."""
    candles = f"""\
        {CANDLES_HEADER}
        2026-01-01T00:00:00Z,100,120,95,110,2
        2026-01-01T12:00:00Z,110,130,105,120,3
        """
    book = f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,109,111\n2026-01-01T12:00:00Z,119,121\n"
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": candles, "ETHTRY": candles},
        orderbook={"BTCTRY": book, "ETHTRY": book},
        ticker={
            "BTCTRY": f"{TICKER_HEADER}\n2026-01-01T12:00:00Z,121,140,80,10,5000\n",
            "ETHTRY": f"{TICKER_HEADER}\n2026-01-01T00:00:00Z,111,150,70,4,777\n",
        },
    )
    dataset = ReplayDataset.load(root)
    series = {s.symbol: s for s in dataset._series}
    assert (series["BTCTRY"].w_lo, series["ETHTRY"].w_lo) == (None, None)

    before, after = (
        dataset.snapshot_at(utc(at), max_data_age_s=86_400).by_symbol()
        for at in ("2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z")
    )

    btc = before["BTCTRY"]  # no ticker row yet: the candles of the 24 h to 06:00, the 00:00 one
    assert (btc.last, btc.high_24h, btc.low_24h, btc.quote_volume_try) == (110, 120, 95, Decimal("220"))
    assert after["BTCTRY"].quote_volume_try == Decimal("5000")  # the ticker's, from its first row
    assert before["ETHTRY"].quote_volume_try == after["ETHTRY"].quote_volume_try == Decimal("777")
    assert series["BTCTRY"].w_lo is not None and series["ETHTRY"].w_lo is None


def test_24h_window_ends_at_the_cycle_not_at_the_last_bar(tmp_path: Path) -> None:
    # 13 h after the last bar the 06:00 and 12:00 bars have left the window, although
    # they are within 24 h of that last bar.
    root = write_dataset(
        tmp_path,
        candles={
            "BTCTRY": f"""\
            {CANDLES_HEADER}
            2026-01-01T06:00:00Z,100,300,95,110,2
            2026-01-01T12:00:00Z,110,130,5,120,3
            2026-01-02T00:00:00Z,120,125,118,121,1
            """
        },
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n2026-01-02T00:00:00Z,120,122\n"},
    )
    dataset = ReplayDataset.load(root)

    snap = dataset.snapshot_at(utc("2026-01-02T13:00:00Z"), max_data_age_s=86_400).by_symbol()["BTCTRY"]
    gone = dataset.snapshot_at(utc("2026-01-03T00:00:00Z"), max_data_age_s=86_400).by_symbol()["BTCTRY"]

    assert (snap.high_24h, snap.low_24h, snap.quote_volume_try) == (Decimal(125), Decimal(118), Decimal(121))
    assert snap.daily_change_pct == Decimal("0.8333333333333333333333333333")  # (121-120)/120×100
    assert (gone.last, gone.high_24h, gone.low_24h, gone.quote_volume_try) == (Decimal(121), None, None, 0)


def test_ticker_quote_volume_or_volume_times_last(tmp_path: Path) -> None:
    root = good_dataset(
        tmp_path,
        "BTCTRY",
        "ETHTRY",
        ticker={
            "BTCTRY": f"""\
                {TICKER_HEADER}
                2026-01-01T00:00:00Z,105,110,90,10,999.5
                2026-01-01T00:01:00Z,101,110,90,12,
                """,
            # The capture tool's spelling, no quote volume column at all.
            "ETHTRY": "ts,last,high,low,volume,quoteVolume\n2026-01-01T00:00:00Z,105,110,90,4,77\n",
        },
    )
    dataset = ReplayDataset.load(root)

    first = dataset.snapshot_at(T0).by_symbol()
    second = dataset.snapshot_at(T0 + timedelta(minutes=1)).by_symbol()["BTCTRY"]

    assert first["BTCTRY"].quote_volume_try == Decimal("999.5")
    assert (first["BTCTRY"].last, first["BTCTRY"].high_24h) == (Decimal(105), Decimal(110))
    assert second.quote_volume_try == Decimal("1212")  # empty cell: 12 × 101
    assert first["ETHTRY"].quote_volume_try == Decimal("77")
    # The ticker has no open/change column: the change comes from the candles.
    assert second.daily_change_pct == Decimal(1)  # (101 - 100) / 100 × 100


def test_ticker_without_quote_volume_column(tmp_path: Path) -> None:
    root = good_dataset(tmp_path, ticker={"BTCTRY": "ts,last,high,low,volume,open\n1767225600,105,110,90,2,84\n"})

    snap = ReplayDataset.load(root).snapshot_at(T0).by_symbol()["BTCTRY"]

    assert snap.quote_volume_try == Decimal("210")  # 2 × 105
    assert snap.daily_change_pct == Decimal("25")  # ticker open 84 → last 105


def test_staleness_uses_the_older_of_book_and_candles(tmp_path: Path) -> None:
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": f"{CANDLES_HEADER}\n2026-01-01T00:00:00Z,100,101,99,100,1\n"},
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n2026-01-01T00:00:30Z,99,101\n"},
    )
    dataset = ReplayDataset.load(root)
    at = utc("2026-01-01T00:01:30Z")

    strict = dataset.snapshot_at(at, max_data_age_s=60).by_symbol()["BTCTRY"]
    lenient = dataset.snapshot_at(at, max_data_age_s=90).by_symbol()["BTCTRY"]

    assert strict.data_ts == T0  # the candle, older than the book
    assert strict.staleness_s == 90
    assert strict.skip_reason == "stale_data"
    assert lenient.skip_reason is None
    assert dataset.start == dataset.end == utc("2026-01-01T00:00:30Z")  # orderbook rows only


def test_staleness_counts_whole_seconds(tmp_path: Path) -> None:
    dataset = ReplayDataset.load(good_dataset(tmp_path))

    snap = dataset.snapshot_at(utc("2026-01-01T00:03:00.999999+00:00")).by_symbol()["BTCTRY"]

    assert snap.staleness_s == 60
    assert snap.skip_reason is None


def test_book_problems_are_left_to_assess_symbol(tmp_path: Path) -> None:
    # The domain's per-cycle checks still apply: here the book is older than the candles.
    root = write_dataset(
        tmp_path,
        candles={"BTCTRY": f"{CANDLES_HEADER}\n2026-01-01T00:05:00Z,100,101,99,100,1\n"},
        orderbook={"BTCTRY": f"{BOOK_HEADER}\n2026-01-01T00:00:00Z,99,101\n"},
    )

    snap = ReplayDataset.load(root).snapshot_at(utc("2026-01-01T00:05:00Z")).by_symbol()["BTCTRY"]

    assert (snap.data_ts, snap.staleness_s, snap.skip_reason) == (T0, 300, "stale_data")


def test_snapshot_shape_rules_and_order(tmp_path: Path) -> None:
    info = {"success": True, "data": {"symbols": [exchange_symbol("ETHTRY", tick="1")]}}
    root = good_dataset(tmp_path, "ETHTRY", "ADATRY", "BTCTRY", exchangeinfo=info)
    dataset = ReplayDataset.load(root)

    market = dataset.snapshot_at(utc("2026-01-01T00:02:00Z"))

    assert dataset.symbols == ("ADATRY", "BTCTRY", "ETHTRY")
    assert [s.symbol for s in market.symbols] == ["ADATRY", "BTCTRY", "ETHTRY"]
    assert market.source == "replay"
    assert market.cycle_ts == utc("2026-01-01T00:02:00Z")
    by = market.by_symbol()
    assert by["ETHTRY"].rules == SymbolRules("ETHTRY", Decimal(1), None, Decimal("99.91"), 2, 8)
    assert by["BTCTRY"].rules is None
    assert market.marks()["BTCTRY"] == Decimal(103)  # (102 + 104) / 2
    assert dataset.issues == ()


@pytest.mark.parametrize(
    "cycle_ts",
    [datetime(2026, 1, 1), datetime(2026, 1, 1, 3, tzinfo=timezone(timedelta(hours=3)))],
    ids=["naive", "istanbul"],
)
def test_cycle_ts_must_be_aware_utc(tmp_path: Path, cycle_ts: datetime) -> None:
    dataset = ReplayDataset.load(good_dataset(tmp_path))

    with pytest.raises(ValueError, match="cycle_ts must be timezone-aware UTC"):
        dataset.snapshot_at(cycle_ts)


def test_negative_lookback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vol_lookback must be >= 0, was -1"):
        ReplayDataset.load(good_dataset(tmp_path)).snapshot_at(T0.astimezone(UTC), vol_lookback=-1)
