"""replay-import: real Freqtrade feather candles (and tiny CSV/JSON samples) → replay dataset.

The real files are /work/shared/data/binance-5m-2018 (10 BTC-quoted Binance pairs, 5-minute
bars, 2018-01-10 .. 2018-01-30, with real gaps). Most tests share one import of three pairs.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.importer import (
    MANIFEST,
    ReplayImportError,
    import_freqtrade_ohlcv,
    parse_pair_list,
)
from btcbot_pipeline.adapters.replay.importer_derive import (
    choose_rules,
    top_of_book,
    trailing_day,
)
from btcbot_pipeline.adapters.replay.importer_source import parse_timeframe
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.cli import main
from btcbot_pipeline.domain.exchange_rules import resolve_rules
from btcbot_pipeline.domain.params import RulesParams

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "binance-5m-2018"
ALL_PAIRS = "ADA/BTC, DASH/BTC, ETC/BTC, ETH/BTC, LTC/BTC, NXT/BTC, TRX/BTC, XLM/BTC, XMR/BTC, ZEC/BTC"
HOUR_US = 3_600_000_000

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared Binance sample data missing")


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # ETH: no gaps, literal rows; ADA: 5 real gaps; DASH: flat bars (high == low).
    out = tmp_path_factory.mktemp("import") / "three"
    import_freqtrade_ohlcv(DATA, out, quote="TRY", rate="100000", pairs=["ETH/BTC", "ADA_BTC", "dash/btc"])
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- real feather data -------------------------------------------------------------------------


def test_symbols_are_base_plus_target_quote(three: Path) -> None:
    files = {k: sorted(p.name for p in (three / k).iterdir()) for k in ("candles", "orderbook", "ticker")}

    assert files == {
        "candles": ["ADATRY.csv", "DASHTRY.csv", "ETHTRY.csv"],
        "orderbook": ["ADATRY.csv", "DASHTRY.csv", "ETHTRY.csv"],
        "ticker": ["ADATRY.csv", "DASHTRY.csv", "ETHTRY.csv"],
    }


def test_prices_are_source_times_rate_exactly(three: Path) -> None:
    table = feather.read_table(DATA / "ETH_BTC-5m.feather").slice(1, 1).to_pylist()[0]
    # The feather float is the one nearest 0.09946999; 15 significant digits read it back exactly.
    assert table["date"].isoformat() == "2018-01-10T05:00:00+00:00"
    assert repr(table["open"]) == "0.09946999000000001"

    lines = _lines(three / "candles" / "ETHTRY.csv")

    assert lines[0] == "ts,open,high,low,close,volume"
    # 0.0984 × 100000 = 9840, 0.0994766 × 100000 = 9947.66, 0.09828605 × 100000 = 9828.605
    assert lines[1] == "2018-01-10T05:00:00Z,9840,9947.66,9828.605,9947.66,1820.54447418"
    assert lines[2] == "2018-01-10T05:05:00Z,9946.999,9972.38,9900,9969,2527.92100293"
    assert Decimal("0.09946999") * 100000 == Decimal(lines[2].split(",")[1])


def test_candle_ts_is_bar_open_plus_timeframe(three: Path) -> None:
    dates = feather.read_table(DATA / "ETH_BTC-5m.feather").column("date")
    rows = _rows(three / "candles" / "ETHTRY.csv")

    # Freqtrade stamps the open: 04:55 .. 2018-01-30 04:50; the replay stamps the close.
    assert (dates[0].as_py().isoformat(), dates[-1].as_py().isoformat()) == (
        "2018-01-10T04:55:00+00:00",
        "2018-01-30T04:50:00+00:00",
    )
    assert (rows[0]["ts"], rows[-1]["ts"], len(rows)) == (
        "2018-01-10T05:00:00Z",
        "2018-01-30T04:55:00Z",
        5760,
    )


def test_a_real_gap_stays_a_gap(three: Path) -> None:
    # ADA/BTC has no bar opening at 2018-01-15 10:10, so nothing is stamped 10:15.
    source = feather.read_table(DATA / "ADA_BTC-5m.feather").column("date").cast(pa.int64()).to_pylist()
    opens = {
        datetime.fromtimestamp(ns // 10**9, UTC).strftime("%H:%M")
        for ns in source
        if 1516010400 <= ns // 10**9 < 1516012200
    }
    assert sorted(opens) == ["10:00", "10:05", "10:15", "10:20", "10:25"]  # 10:00 .. 10:25 UTC

    stamps = {k: [r["ts"] for r in _rows(three / k / "ADATRY.csv")] for k in ("candles", "orderbook", "ticker")}
    window = {k: [t for t in v if "2018-01-15T10:05:00Z" <= t <= "2018-01-15T10:25:00Z"] for k, v in stamps.items()}

    around_gap = [
        "2018-01-15T10:05:00Z",
        "2018-01-15T10:10:00Z",
        "2018-01-15T10:20:00Z",
        "2018-01-15T10:25:00Z",
    ]
    assert window == {"candles": around_gap, "orderbook": around_gap, "ticker": around_gap}


def test_replay_inside_the_gap_sees_stale_data_not_invented_prices(three: Path) -> None:
    dataset = ReplayDataset.load(three)

    ada = dataset.snapshot_at(datetime(2018, 1, 15, 10, 17, tzinfo=UTC), vol_lookback=5, max_data_age_s=300)
    ada = next(s for s in ada.symbols if s.symbol == "ADATRY")

    # The newest row is still the 10:10 bar: 7 minutes old.
    assert (ada.skip_reason, ada.staleness_s, ada.best_bid, ada.best_ask) == (
        "stale_data",
        420,
        Decimal("6.04"),
        Decimal("6.0403"),
    )


def test_manifest_counts_rows_gaps_and_names_the_sources(three: Path) -> None:
    manifest = json.loads((three / MANIFEST).read_text(encoding="utf-8"))

    assert (
        manifest["timeframe"],
        manifest["quote"],
        manifest["rate"],
        manifest["min_notional"],
    ) == ("5m", "TRY", "100000", "10")
    assert manifest["source"]["dir"] == str(DATA.resolve())
    assert sorted(manifest["source"]["files"]) == [
        "ADA_BTC-5m.feather",
        "DASH_BTC-5m.feather",
        "ETH_BTC-5m.feather",
    ]
    assert manifest["pairs"]["ADA/BTC"] == {
        "symbol": "ADATRY",
        "source_file": "ADA_BTC-5m.feather",
        "rows": 5720,
        "skipped": {},
        "skipped_total": 0,
        "missing_bars": 40,  # 5760 bars span the 20 days
        "first_ts": "2018-01-10T05:00:00Z",
        "last_ts": "2018-01-30T04:55:00Z",
        "tick_size": "0.00001",
        "quantity_scale": 3,
    }
    assert sorted(manifest["outputs"]) == [
        "candles/ADATRY.csv", "candles/DASHTRY.csv", "candles/ETHTRY.csv", "exchangeinfo.json",
        "orderbook/ADATRY.csv", "orderbook/DASHTRY.csv", "orderbook/ETHTRY.csv",
        "ticker/ADATRY.csv", "ticker/DASHTRY.csv", "ticker/ETHTRY.csv",
    ]  # fmt: skip


def test_book_and_ticker_rows_of_the_first_bars(three: Path) -> None:
    books = _lines(three / "orderbook" / "ETHTRY.csv")
    tickers = _lines(three / "ticker" / "ETHTRY.csv")

    # range 9947.66 - 9828.605 = 119.055, half-spread 5.95275: bid 9941.70725 → 9941.70;
    # ask 9953.61275 → 9953.62, clipped to the high 9947.66 (the bar closed at its high).
    assert books[1] == "2018-01-10T05:00:00Z,9941.7,9947.66"
    # A flat DASH bar (7558.93 all four prices): the one-tick book at the close.
    assert "2018-01-14T10:35:00Z,7558.93,7558.94" in _lines(three / "orderbook" / "DASHTRY.csv")
    # 24 h stats of the first two bars: volume 1820.54447418 + 2527.92100293,
    # quote volume 9947.66 × 1820.54447418 + 9969 × 2527.92100293.
    assert tickers[2] == "2018-01-10T05:05:00Z,9969,9972.38,9828.605,4348.46547711,43311001.9222305888"


def test_imported_dataset_passes_the_validator_without_issues(three: Path) -> None:
    report = validate_replay_dataset(three)

    assert report.ok
    assert report.issues == ()
    assert report.symbols == ("ADATRY", "DASHTRY", "ETHTRY")


def test_mid_run_snapshot_is_tradable_with_usable_rules(three: Path) -> None:
    snapshot = ReplayDataset.load(three).snapshot_at(
        datetime(2018, 1, 20, 12, 0, tzinfo=UTC), vol_lookback=20, max_data_age_s=300
    )
    effective = {s.symbol: resolve_rules(s.symbol, s.rules, RulesParams()) for s in snapshot.symbols}

    assert [(s.symbol, s.skip_reason, len(s.closes)) for s in snapshot.symbols] == [
        ("ADATRY", None, 21), ("DASHTRY", None, 21), ("ETHTRY", None, 21),
    ]  # fmt: skip
    eth = snapshot.symbols[2]
    assert (eth.best_bid, eth.best_ask, eth.last) == (
        Decimal("8962.03"),
        Decimal("8967.74"),
        Decimal("8964.888"),
    )
    assert {k: (e.status.value, e.price_step, e.quantity_step, e.min_notional_try) for k, e in effective.items()} == {
        "ADATRY": ("ok", Decimal("0.00001"), Decimal("0.001"), Decimal("10")),
        "DASHTRY": ("ok", Decimal("0.01"), Decimal("0.000001"), Decimal("10")),
        "ETHTRY": ("ok", Decimal("0.01"), Decimal("1E-7"), Decimal("10")),
    }


def test_exchangeinfo_has_btcturks_shape(three: Path) -> None:
    info = json.loads((three / "exchangeinfo.json").read_text(encoding="utf-8"))
    eth = info["data"]["symbols"][2]

    assert (info["success"], info["data"]["serverTime"]) == (
        True,
        1517288100000,
    )  # 2018-01-30T04:55Z
    keys = ("name", "nameNormalized", "status", "numerator", "denominator")
    keys += ("numeratorScale", "denominatorScale")
    assert {k: eth[k] for k in keys} == {
        "name": "ETHTRY", "nameNormalized": "ETH_TRY", "status": "TRADING", "numerator": "ETH",
        "denominator": "TRY", "numeratorScale": 7, "denominatorScale": 2,
    }  # fmt: skip
    assert eth["filters"] == [{
        "filterType": "PRICE_FILTER", "minPrice": "0.0000000000001", "maxPrice": "10000000",
        "tickSize": "0.01", "minExchangeValue": "10", "minAmount": None, "maxAmount": None,
    }]  # fmt: skip


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        import_freqtrade_ohlcv(DATA, tmp_path / name, quote="TRY", rate="100000", pairs=["XMR/BTC", "ZEC/BTC"])

    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")

    assert len(first) == 8
    assert first == second


def test_all_ten_pairs_import_validate_and_trade(tmp_path: Path) -> None:
    summary = import_freqtrade_ohlcv(DATA, tmp_path / "all", quote="TRY", rate="100000")
    report = validate_replay_dataset(tmp_path / "all")
    snapshot = ReplayDataset.load(tmp_path / "all").snapshot_at(
        datetime(2018, 1, 20, 12, 0, tzinfo=UTC), vol_lookback=20, max_data_age_s=300
    )

    assert ", ".join(p.pair for p in summary.pairs) == ALL_PAIRS
    assert {p.symbol: p.missing_bars for p in summary.pairs if p.missing_bars} == {
        "ADATRY": 40, "DASHTRY": 2, "TRXTRY": 6, "XMRTRY": 2, "ZECTRY": 2,
    }  # fmt: skip
    assert sum(p.rows for p in summary.pairs) == 57_546  # the ten files hold 57,546 bars
    assert report.issues == ()
    assert [s.symbol for s in snapshot.symbols if s.tradable] == [p.symbol for p in summary.pairs]
    assert all(resolve_rules(s.symbol, s.rules, RulesParams()).usable for s in snapshot.symbols)


# --- the rules, one function at a time ------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "close", "tick", "bid", "ask"),
    [
        # half-spread 5 % of 10 = 0.5 around 105
        pytest.param("100", "110", "105", "0.01", "104.5", "105.5", id="inside_the_range"),
        # half 0.5 around 110: the ask 110.5 is clipped to the high
        pytest.param("100", "110", "110", "0.01", "109.5", "110", id="ask_clipped_at_high"),
        # half 0.0102: 100.0898 rounds down, 100.1102 rounds up
        pytest.param("100.003", "100.207", "100.1", "0.01", "100.08", "100.12", id="rounded_outward"),
        # high == low: no two grid prices in the bar, one-tick book at the close
        pytest.param("7558.93", "7558.93", "7558.93", "0.01", "7558.93", "7558.94", id="flat_on_grid"),
        pytest.param("7419.999", "7419.999", "7419.999", "0.01", "7419.99", "7420.00", id="flat_off_grid"),
        # 50.001 .. 50.009 holds no grid price: clipping would cross, so the one-tick book
        pytest.param("50.001", "50.009", "50.005", "0.01", "50.00", "50.01", id="range_below_a_tick"),
    ],
)
def test_top_of_book(low: str, high: str, close: str, tick: str, bid: str, ask: str) -> None:
    assert top_of_book(Decimal(low), Decimal(high), Decimal(close), Decimal(tick)) == (
        Decimal(bid),
        Decimal(ask),
    )


@pytest.mark.parametrize(
    ("lowest", "highest", "min_notional", "tick", "scale", "max_price"),
    [
        # ETH/BTC × 100000: 8251 → tick 0.01; 10600 × 1e-7 = 0.00106 <= 0.01 (1e-6 gives 0.0106)
        pytest.param("8251", "10600", "10", "0.01", 7, "10000000", id="ethtry"),
        # NXT/BTC × 100000: 2.198 → tick 0.00001; 3.678 × 1e-3 = 0.003678 <= 0.01
        pytest.param("2.198", "3.678", "10", "0.00001", 3, "10000000", id="nxttry"),
        # 15,000,000 × 1e-8 = 0.15 > 0.1: capped at 8 decimals; maxPrice above the high
        pytest.param("3000000", "15000000", "100", "10", 8, "100000000", id="btc_like_capped"),
    ],
)
def test_choose_rules(lowest: str, highest: str, min_notional: str, tick: str, scale: int, max_price: str) -> None:
    rules = choose_rules(Decimal(lowest), Decimal(highest), Decimal(min_notional))

    assert (rules.tick_size, rules.quantity_scale, rules.max_price) == (
        Decimal(tick),
        scale,
        Decimal(max_price),
    )


def test_trailing_day_drops_bars_older_than_24h_and_skips_gaps() -> None:
    stamps = [0, 1 * HOUR_US, 24 * HOUR_US, 26 * HOUR_US]
    high = [Decimal(v) for v in ("5", "3", "4", "2")]
    low = [Decimal(v) for v in ("1", "2", "3", "1.5")]
    close = [Decimal(v) for v in ("4", "2.5", "3.5", "1.8")]
    volume = [Decimal(v) for v in ("1", "2", "3", "4")]

    day = trailing_day(stamps, high, low, close, volume)

    assert day == [
        (Decimal("4"), Decimal("5"), Decimal("1"), Decimal("1"), Decimal("4")),
        (Decimal("2.5"), Decimal("5"), Decimal("1"), Decimal("3"), Decimal("9")),  # 4 + 2×2.5
        # (0h, 24h]: the bar at 0h is out; 2×2.5 + 3×3.5 = 15.5
        (Decimal("3.5"), Decimal("4"), Decimal("2"), Decimal("5"), Decimal("15.5")),
        # (2h, 26h]: only 24h and 26h; 10.5 + 4×1.8 = 17.7
        (Decimal("1.8"), Decimal("4"), Decimal("1.5"), Decimal("7"), Decimal("17.7")),
    ]


@pytest.mark.parametrize(("text", "seconds"), [("1m", 60), ("5m", 300), ("1h", 3600), ("1d", 86_400), ("1w", 604_800)])
def test_parse_timeframe(text: str, seconds: int) -> None:
    assert parse_timeframe(text) == seconds


def test_parse_pair_list_accepts_slash_and_underscore() -> None:
    assert parse_pair_list("ETH/BTC, ltc_btc ETH_BTC") == ("ETH/BTC", "LTC/BTC")


# --- CSV and JSON samples ------------------------------------------------------------------

CSV_SAMPLE = """date,open,high,low,close,volume
2024-01-01T00:00:00Z,2000.5,2010,1990,2005.25,12.5
1704070800000,2005.25,2020,2000,2015,3
2024-01-01T02:00:00Z,NaN,2020,2000,2015,3
2024-01-01T03:00:00Z,2015,2020,0,2015,3
2024-01-01T04:00:00Z,2015,2000,2020,2015,3
2024-01-01T06:00:00Z,2015,2030,2010,2025,4
"""
JSON_SAMPLE = """[
 [1704070800000, 0.61, 0.62, 0.6, 0.615, 1000],
 [1704067200000, 0.6, 0.61, 0.59, 0.605, 2000],
 [1704067200000, 0.7, 0.71, 0.69, 0.705, 9],
 [1704074400000, null, 0.62, 0.6, 0.615, 1000],
 [1704078000000, 0.62, 0.63, 0.61, 0.625]
]"""


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    folder = tmp_path / "ohlcv"
    folder.mkdir()
    (folder / "ETH_USDT-1h.csv").write_text(CSV_SAMPLE, encoding="utf-8")
    (folder / "XRP_USDT-1h.json").write_text(JSON_SAMPLE, encoding="utf-8")
    (folder / "README.md").write_text("not candles\n", encoding="utf-8")
    return folder


def test_csv_and_json_samples_import_with_bad_rows_skipped(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_freqtrade_ohlcv(samples, out, quote="try", rate="35")
    pairs = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["pairs"]

    # 1704070800000 ms = 01:00; NaN, low 0 and high < low rows skipped; no row for 05:00.
    assert _lines(out / "candles" / "ETHTRY.csv") == [
        "ts,open,high,low,close,volume",
        "2024-01-01T01:00:00Z,70017.5,70350,69650,70183.75,12.5",  # 2000.5 × 35 = 70017.5
        "2024-01-01T02:00:00Z,70183.75,70700,70000,70525,3",
        "2024-01-01T07:00:00Z,70525,71050,70350,70875,4",
    ]
    # range 700, half 35: 70148.75 → 70148.7 and 70218.75 → 70218.8 on the 0.1 tick
    assert _lines(out / "orderbook" / "ETHTRY.csv")[1] == "2024-01-01T01:00:00Z,70148.7,70218.8"
    # JSON rows sorted; the repeated 00:00 row, the null and the 5-field row skipped.
    assert _lines(out / "candles" / "XRPTRY.csv") == [
        "ts,open,high,low,close,volume",
        "2024-01-01T01:00:00Z,21,21.35,20.65,21.175,2000",
        "2024-01-01T02:00:00Z,21.35,21.7,21,21.525,1000",
    ]
    assert {k: (v["rows"], v["skipped"], v["missing_bars"]) for k, v in pairs.items()} == {
        "ETH/USDT": (3, {"high_below_low": 1, "non_positive_price": 1, "not_a_number": 1}, 4),
        "XRP/USDT": (2, {"bad_row": 1, "duplicate_timestamp": 1, "not_a_number": 1}, 0),
    }
    assert validate_replay_dataset(out).ok


# --- errors -------------------------------------------------------------------------------


def _raises(message: str) -> pytest.RaisesExc[ReplayImportError]:
    return pytest.raises(ReplayImportError, match=f"^{re.escape(message)}$")


def test_missing_folder(tmp_path: Path) -> None:
    with _raises(f"OHLCV folder {tmp_path / 'nope'} does not exist"):
        import_freqtrade_ohlcv(tmp_path / "nope", tmp_path / "out", quote="TRY", rate="1")


def test_folder_without_candle_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("x", encoding="utf-8")
    (tmp_path / "BTC_USDT-1h-futures.feather").write_bytes(b"")  # futures: not a spot file

    with _raises(f"no Freqtrade OHLCV files (<BASE>_<QUOTE>-<timeframe>.feather, .json or .csv) in {tmp_path}"):
        import_freqtrade_ohlcv(tmp_path, tmp_path / "out", quote="TRY", rate="1")


@pytest.mark.parametrize("rate", ["0", "-5", "abc", "NaN"])
def test_rate_must_be_positive(samples: Path, tmp_path: Path, rate: str) -> None:
    with _raises(f"rate must be a positive decimal number, was '{rate}'"):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate=rate)


def test_bad_pair_name(samples: Path, tmp_path: Path) -> None:
    with _raises("pair 'ETHUSDT' is not like ETH/BTC or ETH_BTC"):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35", pairs=["ETHUSDT"])


def test_pair_without_a_file(tmp_path: Path) -> None:
    with _raises(f"no 5m file for XRP/BTC in {DATA}; pairs found: {ALL_PAIRS}"):
        import_freqtrade_ohlcv(DATA, tmp_path / "out", quote="TRY", rate="1", pairs=["ETH/BTC", "XRP/BTC"])


def test_several_timeframes_need_a_choice(samples: Path, tmp_path: Path) -> None:
    (samples / "ETH_USDT-5m.csv").write_text(CSV_SAMPLE, encoding="utf-8")

    with _raises(f"{samples} holds several timeframes (1h, 5m); choose one with --timeframe"):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")
    assert import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35", timeframe="5m").timeframe == "5m"


def test_pairs_of_two_quotes_cannot_share_one_rate(samples: Path, tmp_path: Path) -> None:
    (samples / "ETH_BTC-1h.csv").write_text(CSV_SAMPLE, encoding="utf-8")

    with _raises(
        "the pairs are quoted in BTC, USDT, but one rate converts one quote currency; "
        "choose pairs of one quote with --pairs"
    ):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_json_that_is_not_json(samples: Path, tmp_path: Path) -> None:
    (samples / "XRP_USDT-1h.json").write_text("{oops", encoding="utf-8")

    with _raises(
        f"cannot read {samples / 'XRP_USDT-1h.json'}: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    ):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_json_that_is_not_a_list_of_rows(samples: Path, tmp_path: Path) -> None:
    (samples / "XRP_USDT-1h.json").write_text('{"data": []}', encoding="utf-8")

    with _raises(
        f"cannot read {samples / 'XRP_USDT-1h.json'}: "
        "expected a JSON list of [ts_ms, open, high, low, close, volume] rows, was dict"
    ):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_csv_without_volume(samples: Path, tmp_path: Path) -> None:
    (samples / "ETH_USDT-1h.csv").write_text("date,open,high,low,close\n2024-01-01,1,1,1,1\n", encoding="utf-8")

    with _raises(
        f"cannot read {samples / 'ETH_USDT-1h.csv'}: missing columns ['volume']; header was "
        "['date', 'open', 'high', 'low', 'close'], expected date,open,high,low,close,volume"
    ):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_corrupt_feather_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ETH_BTC-5m.feather").write_bytes(b"not arrow at all")

    # The rest of the message is pyarrow's own wording, which changes between versions.
    with pytest.raises(ReplayImportError, match="^" + re.escape(f"cannot read {tmp_path / 'ETH_BTC-5m.feather'}: ")):
        import_freqtrade_ohlcv(tmp_path, tmp_path / "out", quote="TRY", rate="1")


def test_file_without_a_usable_row(samples: Path, tmp_path: Path) -> None:
    (samples / "XRP_USDT-1h.json").write_text("[[1704067200000, 0.6, 0.61, -1, 0.605, 2000]]", encoding="utf-8")

    with _raises(f"{samples / 'XRP_USDT-1h.json'} has no usable row (skipped 1 non_positive_price)"):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_dataset_holding_other_symbols_is_refused(samples: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "candles").mkdir(parents=True)
    (tmp_path / "out" / "candles" / "BTCTRY.csv").write_text("ts\n", encoding="utf-8")

    with _raises(
        f"{tmp_path / 'out'} already holds dataset files this import would not replace: "
        "candles/BTCTRY.csv; remove them or choose an empty folder"
    ):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35")


def test_month_timeframe_is_refused(samples: Path, tmp_path: Path) -> None:
    with _raises("timeframe '1M' is a month, which has no fixed length; import 1d or 1w bars"):
        import_freqtrade_ohlcv(samples, tmp_path / "out", quote="TRY", rate="35", timeframe="1M")


# --- CLI ----------------------------------------------------------------------------------


def test_cli_imports_and_prints_one_line_per_symbol(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"

    code = main(
        [
            "replay-import",
            "--ohlcv",
            str(samples),
            "--quote",
            "TRY",
            "--rate",
            "35",
            "--pairs",
            "ETH/USDT",
            "--dataset",
            str(out),
        ]
    )

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"imported 1h bars of ETHTRY (source prices × 35 TRY) from {samples} to {out}",
        "  ETHTRY     3 rows 2024-01-01T01:00:00Z … 2024-01-01T07:00:00Z, 4 missing bars, 3 bad rows skipped, tick 0.1",
    ]


def test_cli_error_exits_2_with_type_and_message(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay-import",
            "--ohlcv",
            str(samples),
            "--quote",
            "TRY",
            "--rate",
            "0",
            "--dataset",
            str(tmp_path / "out"),
        ]
    )

    assert code == 2
    assert capsys.readouterr().err == "ReplayImportError: rate must be a positive decimal number, was '0'\n"
