"""Money parsing and grids, mode combination, and exchange-rule resolution (seed PR-4)."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.exchange_rules import EffectiveRules, resolve_rules, rules_stats
from btcbot_pipeline.domain.market import RulesStatus
from btcbot_pipeline.domain.money import (
    MoneyParseError,
    ceil_to_step,
    combined_step,
    floor_to_step,
    to_decimal,
)
from btcbot_pipeline.domain.params import RulesParams
from btcbot_pipeline.domain.vocabulary import Mode, combine_modes
from btcbot_pipeline.testing.builders import rules

# -- to_decimal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        # floats are inexact: 0.1 is really 0.1000000000000000055…
        (0.1, "value", "value must be given as a string or int, was float 0.1"),
        (float("nan"), "price", "price must be given as a string or int, was float nan"),
        # bool is an int subclass, but True is never a price
        (True, "qty", "qty must be given as a string or int, was bool True"),
        ("NaN", "value", "value must be finite, was 'NaN'"),
        ("-Infinity", "fee", "fee must be finite, was '-Infinity'"),
        (D("NaN"), "value", "value must be finite, was Decimal('NaN')"),
        ("12,5", "value", "value is not a decimal number, was '12,5'"),
        (None, "value", "value must be a string, int or Decimal, was NoneType"),
    ],
)
def test_to_decimal_refuses(value: object, field: str, message: str) -> None:
    with pytest.raises(MoneyParseError, match=re.escape(message)):
        to_decimal(value, field=field)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99.91", D("99.91")),
        (" 1234567 ", D("1234567")),  # surrounding blanks are stripped
        (250, D("250")),
        (D("0.00000001"), D("0.00000001")),
    ],
)
def test_to_decimal_reads_exact_values(value: object, expected: D) -> None:
    assert to_decimal(value) == expected


# -- grids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tick", "scale_step", "expected", "text"),
    [
        ("btctry", D("10"), D("0.01"), D("10"), "10"),  # lcm(1000, 1) hundredths = 1000 → 10
        (
            "usdttry_scale2",
            D("0.001"),
            D("0.01"),
            D("0.01"),
            "0.01",
        ),  # lcm(1, 10) thousandths = 10 → 0.01
        ("tick_005", D("0.05"), D("0.01"), D("0.05"), "0.05"),  # lcm(5, 1) hundredths = 5 → 0.05
        (
            "tick_0025",
            D("0.025"),
            D("0.01"),
            D("0.05"),
            "0.05",
        ),  # lcm(25, 10) thousandths = 50 → 0.05
        ("tick_only", D("10"), None, D("10"), "10"),
        ("scale_only", None, D("0.01"), D("0.01"), "0.01"),
    ],
)
def test_combined_step(name: str, tick: D | None, scale_step: D | None, expected: D, text: str) -> None:
    step = combined_step(tick, scale_step)
    assert step == expected
    assert str(step) == text


def test_combined_step_of_nothing_is_none() -> None:
    assert combined_step(None, None) is None


@pytest.mark.parametrize(
    ("value", "step", "floor", "ceil"),
    [
        # 12345.678 / 10 = 1234.5678 → floor 1234 ×10, ceil 1235 ×10
        (D("12345.678"), D("10"), D("12340"), D("12350")),
        # already on the grid: unchanged both ways
        (D("12340"), D("10"), D("12340"), D("12340")),
        # 1.23456789123 on 1e-8: 123456789.123 steps → 123456789 / 123456790
        (D("1.23456789123"), D("0.00000001"), D("1.23456789"), D("1.23456790")),
        # 0.059 / 0.05 = 1.18 → 1 × 0.05 and 2 × 0.05
        (D("0.059"), D("0.05"), D("0.05"), D("0.10")),
        # 99.979985 (100.03 × 0.9995) on the cent grid
        (D("99.979985"), D("0.01"), D("99.97"), D("99.98")),
        # negative values still floor towards −∞: −1.5 → −2, ceil −1
        (D("-1.5"), D("1"), D("-2"), D("-1")),
    ],
)
def test_floor_and_ceil_to_step(value: D, step: D, floor: D, ceil: D) -> None:
    assert floor_to_step(value, step) == floor
    assert ceil_to_step(value, step) == ceil


def test_grid_results_show_the_grid_decimals() -> None:
    assert str(floor_to_step(D("1.5"), D("0.010"))) == "1.50"
    assert str(ceil_to_step(D("1234.5"), D("1E+1"))) == "1240"


# -- modes ---------------------------------------------------------------------------

N, R, O = Mode.NORMAL, Mode.REDUCE_RISK_ONLY, Mode.OBSERVE_ONLY  # noqa: E741


@pytest.mark.parametrize(
    ("base", "override", "final"),
    [
        (N, N, N),
        (N, R, R),
        (N, O, O),
        (R, N, R),  # an override never loosens the base
        (R, R, R),
        (R, O, O),
        (O, N, O),
        (O, R, O),
        (O, O, O),
    ],
)
def test_combine_modes_takes_the_most_restrictive(base: Mode, override: Mode, final: Mode) -> None:
    assert combine_modes(base, override) is final


@pytest.mark.parametrize(("base", "final"), [(N, N), (R, R), (O, O)])
def test_combine_modes_without_override_keeps_base(base: Mode, final: Mode) -> None:
    assert combine_modes(base, None) is final
    assert combine_modes(base) is final


@pytest.mark.parametrize(("mode", "buy", "sell"), [(N, True, True), (R, False, True), (O, False, False)])
def test_mode_permissions(mode: Mode, buy: bool, sell: bool) -> None:
    assert (mode.allows_buy, mode.allows_sell) == (buy, sell)


# -- resolve_rules -------------------------------------------------------------------

STRICT = RulesParams()  # require_metadata=True, safe floor 100
LENIENT = RulesParams(require_metadata=False)  # fallback tick 0.01, lot 1e-8, min 10


def test_btctry_rules_from_the_real_capture_are_ok() -> None:
    # exchangeinfo BTCTRY: tickSize 10, denominatorScale 2, numeratorScale 8, minExchangeValue 99.91
    published = rules("BTCTRY", tick="10", min_notional="99.91", price_scale=2, quantity_scale=8)
    assert resolve_rules("BTCTRY", published, STRICT) == EffectiveRules(
        symbol="BTCTRY",
        status=RulesStatus.OK,
        price_step=D("10"),
        quantity_step=D("0.00000001"),
        min_notional_try=D("99.91"),
        detail="",
        min_notional_source="exchange",
    )


def test_usdttry_rules_from_the_real_capture_are_ok() -> None:
    # exchangeinfo USDTTRY: tickSize 0.001, denominatorScale 3, numeratorScale 2
    published = rules("USDTTRY", tick="0.001", min_notional="99.91", price_scale=3, quantity_scale=2)
    resolved = resolve_rules("USDTTRY", published, STRICT)
    assert (resolved.status, resolved.price_step, resolved.quantity_step) == (
        RulesStatus.OK,
        D("0.001"),
        D("0.01"),
    )


def test_lot_size_and_quantity_scale_combine() -> None:
    # lot 0.5 with 8 decimals: lcm(50000000, 1) 1e-8 steps → 0.5
    published = rules("ETHTRY", tick="0.01", lot="0.5", quantity_scale=8)
    assert resolve_rules("ETHTRY", published, STRICT).quantity_step == D("0.5")


def test_missing_min_notional_takes_the_safe_floor() -> None:
    published = rules("BTCTRY", tick="10", min_notional=None)
    resolved = resolve_rules("BTCTRY", published, STRICT)
    assert (resolved.status, resolved.min_notional_try, resolved.min_notional_source) == (
        RulesStatus.OK,
        D("100"),
        "safe_floor",
    )
    assert resolved.usable


def test_missing_rules_with_required_metadata_are_unusable() -> None:
    resolved = resolve_rules("XRPTRY", None, STRICT)
    assert resolved == EffectiveRules(
        symbol="XRPTRY",
        status=RulesStatus.MISSING,
        price_step=None,
        quantity_step=None,
        min_notional_try=None,
        detail="no exchange metadata for symbol",
        min_notional_source="none",
    )
    assert not resolved.usable


@pytest.mark.parametrize(
    ("name", "published", "detail"),
    [
        ("zero_tick", rules("AAATRY", tick="0"), "invalid metadata: tick_size 0"),
        ("no_tick", rules("AAATRY", tick=None), "invalid metadata: tick_size None"),
        ("halted", rules("AAATRY", status="HALTED"), "invalid metadata: status HALTED"),
        (
            "no_lot_no_scale",
            rules("AAATRY", lot=None, quantity_scale=None),
            "invalid metadata: no lot size or quantity scale",
        ),
        ("zero_lot", rules("AAATRY", lot="0"), "invalid metadata: lot_size 0"),
        (
            "negative_price_scale",
            rules("AAATRY", price_scale=-1),
            "invalid metadata: price_scale -1",
        ),
        (
            "zero_min_notional",
            rules("AAATRY", min_notional="0"),
            "invalid metadata: min_notional 0",
        ),
    ],
)
def test_invalid_rules_are_unusable(name: str, published: object, detail: str) -> None:
    resolved = resolve_rules("AAATRY", published, STRICT)  # type: ignore[arg-type]
    assert (resolved.status, resolved.detail, resolved.usable) == (
        RulesStatus.INVALID,
        detail,
        False,
    )
    assert (resolved.price_step, resolved.quantity_step, resolved.min_notional_try) == (
        None,
        None,
        None,
    )


def test_status_is_read_case_insensitively() -> None:
    assert resolve_rules("AAATRY", rules("AAATRY", status="trading"), STRICT).status is RulesStatus.OK


@pytest.mark.parametrize(
    ("name", "published", "detail"),
    [
        ("missing", None, "missing: no exchange metadata for symbol"),
        (
            "invalid",
            rules("AAATRY", tick="0", status="HALTED"),
            "invalid: invalid metadata: status HALTED",
        ),
    ],
)
def test_without_required_metadata_fallback_values_are_used(name: str, published: object, detail: str) -> None:
    assert resolve_rules("AAATRY", published, LENIENT) == EffectiveRules(  # type: ignore[arg-type]
        symbol="AAATRY",
        status=RulesStatus.FALLBACK,
        price_step=D("0.01"),
        quantity_step=D("0.00000001"),
        min_notional_try=D("10"),
        detail=detail,
        min_notional_source="fallback",
    )


def test_rules_stats_counts_and_lists_every_status() -> None:
    resolved = [
        resolve_rules("BTCTRY", rules("BTCTRY", tick="10"), STRICT),
        resolve_rules("ETHTRY", rules("ETHTRY", min_notional=None), STRICT),  # ok, safe floor
        resolve_rules("XRPTRY", None, STRICT),
        resolve_rules("AVAXTRY", None, LENIENT),
        resolve_rules("SOLTRY", rules("SOLTRY", status="HALTED"), STRICT),
        resolve_rules("ADATRY", rules("ADATRY", tick="0"), STRICT),
    ]
    assert rules_stats(resolved) == {
        "ok_count": 2,
        "ok_symbols": ["BTCTRY", "ETHTRY"],
        "fallback_count": 1,
        "fallback_symbols": ["AVAXTRY"],
        "missing_count": 1,
        "missing_symbols": ["XRPTRY"],
        "invalid_count": 2,
        "invalid_symbols": ["ADATRY", "SOLTRY"],
        "safe_floor_symbols": ["ETHTRY"],
    }


def test_rules_stats_of_nothing_is_all_zero() -> None:
    stats = rules_stats([])
    assert [stats[f"{s}_count"] for s in ("ok", "fallback", "missing", "invalid")] == [0, 0, 0, 0]
    assert stats["safe_floor_symbols"] == []


def test_resolve_rules_is_memoised_by_identity_not_by_equality() -> None:
    # Equal values written differently: tick 0 and 0.00 are == but their details differ.
    zero, zeros = rules("ADATRY", tick="0"), rules("ADATRY", tick="0.00")
    assert zero == zeros

    first = resolve_rules("ADATRY", zero, STRICT)

    assert resolve_rules("ADATRY", zero, STRICT) is first  # resolved once per (symbol, rules)
    assert first.detail == "invalid metadata: tick_size 0"
    assert resolve_rules("ADATRY", zeros, STRICT).detail == "invalid metadata: tick_size 0.00"
    assert resolve_rules("ADATRY", zero, LENIENT).status is RulesStatus.FALLBACK  # other params
