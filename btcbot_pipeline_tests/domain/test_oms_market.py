"""The simulated exchange: fill models row by row, the token bucket in cycle time, seeded draws."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.oms import Bar, OrderStatus, SimOrder, TokenBucket
from btcbot_pipeline.domain.oms.exchange import Match, draw, match, pick
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side

T0 = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
LIMIT = OmsParams(fill_model="limit")  # slippage 25 bps, fee 20 bps, 10% of the bar's volume
SEED = OmsParams()
BUY, SELL = Side.BUY, Side.SELL


def order(side: Side, *, qty: str = "3.00", filled: str = "0") -> SimOrder:
    return SimOrder(
        client_order_id=f"o-{side.value}",
        symbol="AAATRY",
        side=side,
        price_try=D("100"),
        qty=D(qty),
        placed_ts=T0,
        placed_cycle_id="c1",
        status=OrderStatus.ACKED,
        filled_qty=D(filled),
    )


def bar(
    mark: str,
    *,
    bid: str | None = None,
    ask: str | None = None,
    low: str | None = None,
    high: str | None = None,
    volume: str | None = "50",
) -> Bar:
    def dec(text: str | None) -> D | None:
        return D(text) if text is not None else None

    return Bar("AAATRY", D(mark), dec(bid), dec(ask), dec(low), dec(high), dec(volume))


# Limit 100 everywhere; qty 3.00; volume 50 × 10% = 5 ≥ 3, so the whole order fills.
LIMIT_ROWS = [
    # placement: marketable BUY pays min(limit, ask × 1.0025); slippage vs the mark
    (
        "buy_marketable_capped_at_limit",
        BUY,
        True,
        bar("99.8", ask="99.9"),
        Match(D("3.00"), D("99.8"), D("100"), D("0.600")),
    ),
    # 99.5 × 1.0025 = 99.748750 < 100; |99.74875 − 99.4| × 3 = 1.04625
    (
        "buy_marketable_under_limit",
        BUY,
        True,
        bar("99.4", ask="99.5"),
        Match(D("3.00"), D("99.4"), D("99.748750"), D("1.04625")),
    ),
    ("buy_ask_above_limit_rests", BUY, True, bar("100.05", ask="100.1", low="90"), None),  # the bar predates the order
    ("buy_no_ask_uses_mark", BUY, True, bar("99"), Match(D("3.00"), D("99"), D("99.2475"), D("0.7425"))),
    # 100.5 × 0.9975 = 100.248750 > 100; |100.24875 − 100.6| × 3 = 1.05375
    (
        "sell_marketable_over_limit",
        SELL,
        True,
        bar("100.6", bid="100.5"),
        Match(D("3.00"), D("100.6"), D("100.248750"), D("1.05375")),
    ),
    (
        "sell_marketable_capped_at_limit",
        SELL,
        True,
        bar("100.1", bid="100.05"),
        Match(D("3.00"), D("100.1"), D("100"), D("0.300")),
    ),
    ("sell_bid_below_limit_rests", SELL, True, bar("99.95", bid="99.9", high="120"), None),
    # mark 100.1 above the ask: the limit caps the price below the mark → a negative cost
    ("buy_taker_under_mark", BUY, True, bar("100.1", ask="99.9"), Match(D("3.00"), D("100.1"), D("100"), D("-0.300"))),
    # resting: touched by the bar's low/high or by the book → fills at the limit, which is
    # also its mark (the market traded there), no slippage
    (
        "buy_resting_low_touches",
        BUY,
        False,
        bar("100.8", ask="101", low="99.5"),
        Match(D("3.00"), D("100"), D("100"), D("0")),
    ),
    (
        "buy_resting_low_equal_limit",
        BUY,
        False,
        bar("100.8", ask="101", low="100"),
        Match(D("3.00"), D("100"), D("100"), D("0")),
    ),
    ("buy_resting_low_above", BUY, False, bar("100.8", ask="101", low="100.5"), None),
    (
        "buy_resting_no_low_ask_touches",
        BUY,
        False,
        bar("99.9", ask="100"),
        Match(D("3.00"), D("100"), D("100"), D("0")),
    ),
    (
        "sell_resting_high_touches",
        SELL,
        False,
        bar("99.5", bid="99.4", high="100.2"),
        Match(D("3.00"), D("100"), D("100"), D("0")),
    ),
    ("sell_resting_high_below", SELL, False, bar("99.5", bid="99.4", high="99.9"), None),
    # volume: none or zero → no fill; 10% of 12.345 = 1.2345 → floored to the qty's 0.01 → 1.23
    ("no_volume", BUY, False, bar("99", low="98", volume=None), None),
    ("zero_volume", BUY, False, bar("99", low="98", volume="0"), None),
    (
        "volume_cap_floored_to_lot",
        BUY,
        False,
        bar("99", low="98", volume="12.345"),
        Match(D("1.23"), D("100"), D("100"), D("0")),
    ),
    ("volume_cap_floors_to_zero", BUY, False, bar("99", low="98", volume="0.05"), None),  # 0.005 → 0.00
]


@pytest.mark.parametrize(
    ("side", "placing", "the_bar", "expected"), [r[1:] for r in LIMIT_ROWS], ids=[r[0] for r in LIMIT_ROWS]
)
def test_limit_model(side: Side, placing: bool, the_bar: Bar, expected: Match | None) -> None:
    assert match(order(side), the_bar, params=LIMIT, placing=placing) == expected


def test_limit_model_fills_only_what_remains() -> None:
    # 2.50 of 3.00 filled; the cap is 5 → 0.50
    got = match(order(BUY, filled="2.50"), bar("99", low="98"), params=LIMIT, placing=False)
    assert got == Match(D("0.50"), D("100"), D("100"), D("0"))


def test_limit_model_without_a_bar_fills_nothing() -> None:
    assert match(order(BUY), None, params=LIMIT, placing=True) is None


# Seed model: everything remaining at mark × (1 ± 0.0025), limit and volume ignored.
SEED_ROWS = [
    (
        "placing_uses_intent_mark",
        BUY,
        True,
        D("200"),
        bar("99"),
        Match(D("3.00"), D("200"), D("200.5000"), D("1.5000")),
    ),
    ("placing_without_bar", SELL, True, D("200"), None, Match(D("3.00"), D("200"), D("199.5000"), D("1.5000"))),
    (
        "later_uses_bar_mark",
        BUY,
        False,
        D("200"),
        bar("99", volume=None),
        Match(D("3.00"), D("99"), D("99.2475"), D("0.7425")),
    ),
    ("placing_no_hint_uses_bar", SELL, True, None, bar("99"), Match(D("3.00"), D("99"), D("98.7525"), D("0.7425"))),
    ("no_mark_at_all", BUY, False, D("200"), None, None),
]


@pytest.mark.parametrize(
    ("side", "placing", "hint", "the_bar", "expected"), [r[1:] for r in SEED_ROWS], ids=[r[0] for r in SEED_ROWS]
)
def test_seed_model(side: Side, placing: bool, hint: D | None, the_bar: Bar | None, expected: Match | None) -> None:
    assert match(order(side), the_bar, params=SEED, placing=placing, mark_hint=hint) == expected


# Token bucket: rps 0.002, burst 2 → 300 s of cycle time add 0.6 token.
RPS, BURST = D("0.002"), 2


def test_bucket_starts_full_and_takes_one() -> None:
    assert TokenBucket.full(10).take(T0, rps=D("5"), burst=10) == (TokenBucket(D("9"), T0), True)


def test_bucket_refills_in_cycle_time() -> None:
    empty = TokenBucket(D("0"), T0)
    after_300s, ok = empty.take(T0 + timedelta(seconds=300), rps=RPS, burst=BURST)
    assert (after_300s, ok) == (TokenBucket(D("0.6"), T0 + timedelta(seconds=300)), False)
    after_600s, ok = after_300s.take(T0 + timedelta(seconds=600), rps=RPS, burst=BURST)
    assert (after_600s, ok) == (TokenBucket(D("0.2"), T0 + timedelta(seconds=600)), True)  # 1.2 − 1


def test_bucket_refill_is_capped_at_burst_and_counts_microseconds() -> None:
    assert TokenBucket(D("0"), T0).refilled(T0 + timedelta(days=1), rps=RPS, burst=BURST) == TokenBucket(
        D("2"), T0 + timedelta(days=1)
    )
    # 1.5 s × 5/s = 7.5
    assert TokenBucket(D("0"), T0).refilled(T0 + timedelta(microseconds=1_500_000), rps=D("5"), burst=10).tokens == D(
        "7.5"
    )


def test_bucket_never_refills_backwards() -> None:
    later = T0 + timedelta(seconds=60)
    assert TokenBucket(D("0.5"), later).refilled(T0, rps=RPS, burst=BURST) == TokenBucket(D("0.5"), later)


def test_draws_are_seeded_fractions() -> None:
    assert draw(0, "a", 1, "transient").quantize(D("0.000001")) == D("0.459956")
    assert draw(1, "a", 1, "transient").quantize(D("0.000001")) == D("0.875736")  # another seed
    assert draw(0, "a", 2, "transient").quantize(D("0.000001")) == D("0.234765")  # another attempt
    assert draw(0, "a", 1, "reject").quantize(D("0.000001")) == D("0.820161")  # another purpose
    assert draw(0, "a", 1, "transient") == draw(0, "a", 1, "transient")


def test_pick_splits_the_unit_interval() -> None:
    options = ("x", "y", "z")
    assert [pick(options, D(f)) for f in ("0", "0.3333", "0.3334", "0.6667", "0.9999")] == ["x", "x", "y", "z", "z"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fill_model": "book"}, "OMS parameter fill_model must be one of seed, limit, was 'book'"),
        ({"volume_share": D("0")}, "OMS parameter volume_share must be in (0, 1], was Decimal('0')"),
        ({"reject_rate": D("1.5")}, "OMS parameter reject_rate must be in [0, 1], was Decimal('1.5')"),
        ({"rate_limit_rps": D("0")}, "OMS parameter rate_limit_rps must be above 0, was Decimal('0')"),
        ({"rate_limit_burst": 0}, "OMS parameter rate_limit_burst must be at least 1, was 0"),
        ({"retry_max_attempts": 0}, "OMS parameter retry_max_attempts must be at least 1, was 0"),
        ({"order_ttl_s": -1}, "OMS parameter order_ttl_s must be at least 0, was -1"),
    ],
)
def test_params_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        OmsParams(**changes)  # type: ignore[arg-type]
