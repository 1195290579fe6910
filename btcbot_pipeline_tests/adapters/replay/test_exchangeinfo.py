"""exchangeinfo → SymbolRules: the real 2022 capture, the envelope, old fixtures, bad entries."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot_pipeline.adapters.replay.exchangeinfo import (
    ExchangeInfoError,
    load_exchange_info,
    parse_exchange_info,
)
from btcbot_pipeline.domain.market import SymbolRules
from btcbot_pipeline.testing.replay_builders import exchange_symbol

# A copy of shared/data/btcturk-fixtures/public_exchange_info.json: the real 2022 capture
# (mss1451/btcturk sample.json, `data` object only, 3 symbols).
REAL_CAPTURE = Path(__file__).parents[2] / "fixtures" / "replay" / "public_exchange_info.json"


def _real_payload() -> object:
    return json.loads(REAL_CAPTURE.read_text(), parse_float=Decimal, parse_int=Decimal)


def test_real_capture_btctry_usdttry_xtzbtc() -> None:
    rules = load_exchange_info(REAL_CAPTURE)

    assert list(rules) == ["BTCTRY", "USDTTRY", "XTZBTC"]
    # BTCTRY: tick 10 but denominatorScale 2 (the domain combines both), no LOT_SIZE filter.
    assert rules["BTCTRY"] == SymbolRules(
        symbol="BTCTRY",
        tick_size=Decimal("10"),
        lot_size=None,
        min_notional_try=Decimal("99.91"),
        price_scale=2,
        quantity_scale=8,
        status="TRADING",
    )
    assert rules["USDTTRY"] == SymbolRules("USDTTRY", Decimal("0.001"), None, Decimal("99.91"), 3, 2, "TRADING")
    # A BTC-quoted pair keeps its own quote minimum; the caller decides it is not TRY.
    assert rules["XTZBTC"] == SymbolRules("XTZBTC", Decimal("0.000001"), None, Decimal("0.000291"), 7, 4, "TRADING")
    assert str(rules["BTCTRY"].tick_size) == "10"  # exact text, not 1E+1 or 10.0


def test_envelope_and_bare_data_give_the_same_rules() -> None:
    bare = _real_payload()
    envelope = {"success": True, "message": None, "code": 0, "data": bare}

    assert parse_exchange_info(envelope) == parse_exchange_info(bare)


def test_load_reads_an_enveloped_file(tmp_path: Path) -> None:
    path = tmp_path / "exchangeinfo.json"
    path.write_text('{"success": true, "code": 0, "data": ' + REAL_CAPTURE.read_text() + "}")

    assert load_exchange_info(path)["BTCTRY"].tick_size == Decimal("10")


def test_keys_are_matched_case_insensitively() -> None:
    entry = {
        "NAME": "ethtry",
        "STATUS": "TRADING",
        "NumeratorScale": 4,
        "denominatorscale": 2,
        "Filters": [{"FilterType": "price_filter", "TICKSIZE": "0.5", "MinExchangeValue": "100"}],
    }

    rules = parse_exchange_info({"Success": True, "DATA": {"Symbols": [entry]}})

    assert rules == {"ETHTRY": SymbolRules("ETHTRY", Decimal("0.5"), None, Decimal("100"), 2, 4)}


def test_old_fixture_fallbacks_for_name_and_min_notional() -> None:
    # name missing → nameNormalized without "_"; then pairSymbol, then symbol.
    by_normalized = {
        "nameNormalized": "ADA_TRY",
        "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.001", "minTotalAmount": "10"}],
    }
    by_pair_symbol = {"pairSymbol": "XRPTRY", "tickSize": "0.0001", "minNotional": "20"}
    by_symbol = {"symbol": "DOGE_TRY", "minQuoteAmount": "30"}

    rules = parse_exchange_info({"symbols": [by_normalized, by_pair_symbol, by_symbol]})

    assert rules["ADATRY"].min_notional_try == Decimal("10")
    assert rules["XRPTRY"].tick_size == Decimal("0.0001")  # symbol-level tickSize
    assert rules["XRPTRY"].min_notional_try == Decimal("20")
    assert rules["DOGETRY"].min_notional_try == Decimal("30")
    assert rules["DOGETRY"].tick_size is None
    assert rules["DOGETRY"].status == "TRADING"  # no status field in old fixtures


def test_lot_size_filter_when_present() -> None:
    entry = exchange_symbol("BTCTRY")
    entry["filters"].append({"filterType": "LOT_SIZE", "stepSize": "0.0001"})  # type: ignore[union-attr]

    assert parse_exchange_info({"symbols": [entry]})["BTCTRY"].lot_size == Decimal("0.0001")


def test_a_bad_symbol_entry_does_not_break_the_others() -> None:
    broken = exchange_symbol(
        "SOLTRY",
        tick="ten",  # unreadable → None
        numeratorScale="-1",  # negative scale → None
        denominatorScale=Decimal("2.5"),  # not an integer → None
        status=None,  # present but not text → UNKNOWN, so the domain refuses it
    )
    broken["filters"][0]["minExchangeValue"] = "NaN"  # type: ignore[index]
    floats = exchange_symbol("AVAXTRY")
    floats["filters"][0]["tickSize"] = 0.01  # type: ignore[index]  # inexact float → None
    payload = {"symbols": [broken, "not-an-object", {"id": 9}, floats, exchange_symbol("BTCTRY")]}

    rules = parse_exchange_info(payload)

    assert list(rules) == ["AVAXTRY", "BTCTRY", "SOLTRY"]
    assert rules["SOLTRY"] == SymbolRules("SOLTRY", None, None, None, None, None, "UNKNOWN")
    assert rules["AVAXTRY"].tick_size is None
    assert rules["BTCTRY"].tick_size == Decimal("0.01")
    assert rules["BTCTRY"].min_notional_try == Decimal("99.91")


def test_empty_symbols_list_is_valid() -> None:
    assert parse_exchange_info({"success": True, "data": {"symbols": []}}) == {}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("BTCTRY", "must be a JSON object, was str"),
        ({"serverTime": 1}, "not an exchangeinfo payload"),
        ({"symbols": {"BTCTRY": {}}}, "'symbols' must be a list, was dict"),
        ({"success": False, "code": 1123, "message": "FAILED"}, "not an exchangeinfo payload"),
        ({"success": False, "code": 429, "message": "TOO_MANY", "data": None}, "reports a failure"),
        ({"success": True, "data": 5}, "'data' must be an object"),
    ],
    ids=["string", "other_object", "symbols_not_list", "error_envelope", "failed", "bad_data"],
)
def test_not_exchangeinfo_raises(payload: object, message: str) -> None:
    with pytest.raises(ExchangeInfoError, match=message):
        parse_exchange_info(payload)


def test_exchangeinfo_error_is_a_value_error() -> None:
    assert issubclass(ExchangeInfoError, ValueError)


def test_load_names_the_file_for_broken_json(tmp_path: Path) -> None:
    path = tmp_path / "exchangeinfo.json"
    path.write_text('{"symbols": [')

    with pytest.raises(ExchangeInfoError, match="exchangeinfo.json: not valid JSON"):
        load_exchange_info(path)


def test_load_reads_numbers_as_exact_decimals(tmp_path: Path) -> None:
    # A JSON number 0.1 must stay 0.1, not 0.1000000000000000055511151231257827.
    path = tmp_path / "exchangeinfo.json"
    path.write_text(
        '{"symbols": [{"name": "TRXTRY", "tickSize": 0.1, "minExchangeValue": 99.91,'
        ' "numeratorScale": 1, "denominatorScale": 1}]}'
    )

    rules = load_exchange_info(path)["TRXTRY"]

    assert rules.tick_size == Decimal("0.1")
    assert rules.min_notional_try == Decimal("99.91")
    assert (rules.price_scale, rules.quantity_scale) == (1, 1)


def test_deeply_nested_json_is_refused_as_not_exchangeinfo_and_the_dataset_still_loads(tmp_path: Path) -> None:
    from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
    from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset

    path = tmp_path / "ei.json"
    path.write_text("[" * 100_000)
    with pytest.raises(ExchangeInfoError) as refused:
        load_exchange_info(path)
    assert str(refused.value) == f"{path}: not exchangeinfo: JSON nested too deeply to read"

    data = tmp_path / "data"
    init_replay_dataset(data, seed=1, minutes=30)
    (data / "exchangeinfo.json").write_text("[" * 100_000)
    report = validate_replay_dataset(data)
    assert [i.code for i in report.issues if i.code == "invalid_exchangeinfo"] == ["invalid_exchangeinfo"]
