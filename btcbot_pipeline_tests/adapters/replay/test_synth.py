"""init_replay_dataset: determinism, a clean contract, realistic and exchange-valid prices."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.exchangeinfo import load_exchange_info
from btcbot_pipeline.adapters.replay.synth import DEFAULT_START, init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
from btcbot_pipeline.domain.money import is_multiple, scale_step


@pytest.fixture(scope="module")
def default_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "default"
    init_replay_dataset(root)
    return root


@pytest.fixture(scope="module")
def default_loaded(default_dataset: Path) -> ReplayDataset:
    return ReplayDataset.load(default_dataset)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kwargs = {"minutes": 90, "symbols": ["BTCTRY", "XRPTRY", "USDTTRY"]}
    init_replay_dataset(tmp_path / "a", seed=7, **kwargs)
    init_replay_dataset(tmp_path / "b", seed=7, **kwargs)
    init_replay_dataset(tmp_path / "c", seed=8, **kwargs)

    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")

    assert a == b
    assert sorted(a) == sorted(c)
    assert a["candles/BTCTRY.csv"] != c["candles/BTCTRY.csv"]
    assert a["exchangeinfo.json"] == c["exchangeinfo.json"]  # rules do not depend on the seed


def test_default_dataset_is_deterministic_to_the_byte(default_dataset: Path, tmp_path: Path) -> None:
    init_replay_dataset(tmp_path / "again")

    assert _files(tmp_path / "again") == _files(default_dataset)


def test_a_pair_does_not_depend_on_the_other_pairs_asked_for(default_dataset: Path, tmp_path: Path) -> None:
    init_replay_dataset(tmp_path / "one", symbols=["ethtry"], minutes=1440)

    assert (tmp_path / "one/candles/ETHTRY.csv").read_bytes() == (default_dataset / "candles/ETHTRY.csv").read_bytes()


def test_default_dataset_validates_clean(default_dataset: Path) -> None:
    report = validate_replay_dataset(default_dataset)

    assert report.ok, report.format_text()
    assert report.issues == ()


def test_default_dataset_loads_with_12_try_pairs_of_1440_rows(
    default_dataset: Path, default_loaded: ReplayDataset
) -> None:
    dataset = default_loaded
    report = validate_replay_dataset(default_dataset)

    assert len(dataset.symbols) >= 12
    assert all(s.endswith("TRY") for s in dataset.symbols)
    assert {"BTCTRY", "ETHTRY", "USDTTRY", "XRPTRY", "SOLTRY"} <= set(dataset.symbols)
    for kind in ("candles", "orderbook", "ticker"):
        assert set(report.row_counts[kind].values()) == {1440}, kind
    assert dataset.start == DEFAULT_START
    assert dataset.end == DEFAULT_START + timedelta(minutes=1439)
    assert dataset.issues == ()
    assert sorted(dataset.rules) == list(dataset.symbols)


def test_every_symbol_is_tradable_at_every_hour(default_loaded: ReplayDataset) -> None:
    dataset = default_loaded

    for hour in range(24):
        market = dataset.snapshot_at(DEFAULT_START + timedelta(hours=hour, seconds=30))
        assert [s.skip_reason for s in market.symbols] == [None] * len(dataset.symbols)
        for snap in market.symbols:
            assert snap.spread_bps is not None and Decimal(0) < snap.spread_bps < Decimal(30)


def test_price_levels_are_realistic_for_2026(default_loaded: ReplayDataset) -> None:
    market = default_loaded.snapshot_at(DEFAULT_START)
    marks = market.marks()

    # Within ±10 % of the intended level after the first minute.
    for symbol, level in {"BTCTRY": 3_800_000, "ETHTRY": 130_000, "USDTTRY": 42, "DOGETRY": 6}.items():
        assert Decimal(level) * Decimal("0.9") < marks[symbol] < Decimal(level) * Decimal("1.1"), symbol


def test_candles_are_consistent_and_on_the_exchange_grid(default_dataset: Path) -> None:
    rules = load_exchange_info(default_dataset / "exchangeinfo.json")

    for symbol, rule in rules.items():
        assert rule.tick_size is not None and rule.quantity_scale is not None
        price_step = scale_step(rule.price_scale)
        qty_step = scale_step(rule.quantity_scale)
        for row in _rows(default_dataset / "candles" / f"{symbol}.csv"):
            o, h, l, c = (Decimal(row[k]) for k in ("open", "high", "low", "close"))
            assert l <= min(o, c) and max(o, c) <= h, (symbol, row)
            for price in (o, h, l, c):
                assert is_multiple(price, rule.tick_size) and is_multiple(price, price_step)
                assert "E" not in row["close"] and "e" not in row["close"]
            assert Decimal(row["volume"]) > 0 and is_multiple(Decimal(row["volume"]), qty_step)
        for row in _rows(default_dataset / "orderbook" / f"{symbol}.csv"):
            bid, ask = Decimal(row["best_bid"]), Decimal(row["best_ask"])
            assert bid < ask
            assert is_multiple(bid, rule.tick_size) and is_multiple(ask, rule.tick_size)


def test_prices_are_written_with_the_tick_decimals(default_dataset: Path) -> None:
    first = {s: _rows(default_dataset / "candles" / f"{s}.csv")[0] for s in ("BTCTRY", "SOLTRY", "DOGETRY")}

    assert "." not in first["BTCTRY"]["close"]  # tick 1
    assert len(first["SOLTRY"]["close"].split(".")[1]) == 1  # tick 0.1
    assert len(first["DOGETRY"]["close"].split(".")[1]) == 4  # tick 0.0001
    assert len(first["BTCTRY"]["volume"].split(".")[1]) == 8  # numeratorScale 8


def test_exchangeinfo_has_the_real_btcturk_shape(default_dataset: Path) -> None:
    payload = json.loads((default_dataset / "exchangeinfo.json").read_text())

    assert payload["success"] is True and payload["code"] == 0
    btc = next(s for s in payload["data"]["symbols"] if s["name"] == "BTCTRY")
    assert btc["nameNormalized"] == "BTC_TRY"
    assert (btc["numerator"], btc["denominator"], btc["status"]) == ("BTC", "TRY", "TRADING")
    assert (btc["numeratorScale"], btc["denominatorScale"]) == (8, 0)
    (price_filter,) = btc["filters"]
    assert price_filter["filterType"] == "PRICE_FILTER"
    assert (price_filter["tickSize"], price_filter["minExchangeValue"]) == ("1", "99.91")
    assert {"minPrice", "maxPrice", "minAmount", "maxAmount"} <= set(price_filter)


def test_ticker_matches_24h_stats_derived_from_candles(tmp_path: Path) -> None:
    # The same seed with and without ticker/: candles are identical, and a reader deriving
    # the 24 h stats from candles must find what the ticker file says, past the first day.
    symbols = ["BTCTRY", "ADATRY"]
    init_replay_dataset(tmp_path / "t", seed=3, minutes=1500, symbols=symbols)
    init_replay_dataset(tmp_path / "n", seed=3, minutes=1500, symbols=symbols, with_ticker=False)
    with_ticker, without = ReplayDataset.load(tmp_path / "t"), ReplayDataset.load(tmp_path / "n")

    assert not (tmp_path / "n" / "ticker").exists()
    for minutes in (0, 59, 1439, 1440, 1499):
        at = DEFAULT_START + timedelta(minutes=minutes, seconds=20)
        a, b = with_ticker.snapshot_at(at).symbols, without.snapshot_at(at).symbols
        for x, y in zip(a, b, strict=True):
            assert (x.last, x.high_24h, x.low_24h) == (y.last, y.high_24h, y.low_24h)
            assert x.quote_volume_try == y.quote_volume_try
            assert x.daily_change_pct == y.daily_change_pct


def test_readme_and_schema_are_written(default_dataset: Path) -> None:
    readme = (default_dataset / "README.md").read_text()
    schema = json.loads((default_dataset / "schema.json").read_text())

    assert "`candles/<SYMBOL>.csv`" in readme and "seed 42" in readme
    assert schema["orderbook"] == ["ts", "best_bid", "best_ask"]


def test_summary(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)

    summary = init_replay_dataset(tmp_path, start=start, minutes=10, symbols=["BTC_TRY", "FOOTRY"])

    assert summary.path == tmp_path
    assert summary.symbols == ("BTCTRY", "FOOTRY")  # unknown pairs get a generic profile
    assert (summary.rows, summary.start, summary.end) == (10, start, start + timedelta(minutes=9))
    assert validate_replay_dataset(tmp_path).ok


def test_rewriting_the_same_dataset_is_allowed_mixing_is_not(tmp_path: Path) -> None:
    init_replay_dataset(tmp_path, minutes=5, symbols=["BTCTRY"])
    init_replay_dataset(tmp_path, minutes=5, symbols=["BTCTRY"], seed=9)

    with pytest.raises(FileExistsError, match="candles/BTCTRY.csv"):
        init_replay_dataset(tmp_path, minutes=5, symbols=["ETHTRY"])
    with pytest.raises(FileExistsError, match="ticker/BTCTRY.csv"):
        init_replay_dataset(tmp_path, minutes=5, symbols=["BTCTRY"], with_ticker=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2026, 1, 1)}, "start must be timezone-aware UTC"),
        ({"minutes": 0}, "minutes must be >= 1, was 0"),
        ({"symbols": []}, "symbols must name at least one pair"),
        ({"symbols": ["BTCXYZ"]}, "cannot tell the quote currency of 'BTCXYZ'"),
    ],
    ids=["naive_start", "no_minutes", "no_symbols", "unknown_quote"],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        init_replay_dataset(tmp_path, **kwargs)
