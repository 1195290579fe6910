"""Universe Selection v1 (seed PR-2): literal tables in, literal rankings out.

Prices are chosen so each metric is a round number: a book ``mid ± half-spread`` around
100 gives ``spread_bps = (ask - bid) / 100 × 10_000``, and ``high/low/last`` around 100
gives the fallback volatility ``(high - low) / 100``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal as D
from decimal import localcontext

import pytest

from btcbot_pipeline.domain.market import MarketSnapshot, SymbolSnapshot, finalize_snapshot
from btcbot_pipeline.domain.params import ScoreWeights, UniverseParams
from btcbot_pipeline.domain.universe import (
    ScoredSymbol,
    select_universe,
    select_universes,
    volatility,
)
from btcbot_pipeline.domain.vocabulary import canonical_symbol
from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol

# half-spread around a mid of 100 → spread in bps
_BOOKS = {
    "10": ("99.95", "100.05"),
    "50": ("99.75", "100.25"),
    "60": ("99.70", "100.30"),
    "110": ("99.45", "100.55"),
}
# high/low around last 100 → fallback volatility
_RANGES = {
    "0.02": ("101", "99"),
    "0.05": ("102.5", "97.5"),
    "0.06": ("103", "97"),
    "0.10": ("105", "95"),
}


def scored(name: str, *, volume: str | None, spread_bps: str, vol: str | None, **kw: object) -> SymbolSnapshot:
    """A symbol whose spread (bps) and fallback volatility are the given round numbers."""
    bid, ask = _BOOKS[spread_bps]
    high, low = _RANGES[vol] if vol is not None else (None, None)
    return symbol(name, bid=bid, ask=ask, volume=volume, last="100" if vol else None, high=high, low=low, **kw)  # type: ignore[arg-type]


# AAATRY: most liquid, widest spread, most volatile.
# BBBTRY: mid liquidity, tightest spread, mid volatility.
# CCCTRY: least liquid, mid spread, calmest.
THREE = snapshot(
    scored("AAATRY", volume="5000", spread_bps="110", vol="0.10"),
    scored("BBBTRY", volume="2000", spread_bps="10", vol="0.05"),
    scored("CCCTRY", volume="1000", spread_bps="50", vol="0.02"),
)


def row(
    symbol: str,
    volume: str | None,
    spread: str,
    vol: str | None,
    liq: str,
    spr: str,
    vty: str,
    total: str,
) -> ScoredSymbol:
    return ScoredSymbol(
        symbol=symbol,
        quote_volume_try=None if volume is None else D(volume),
        spread_bps=D(spread),
        volatility=None if vol is None else D(vol),
        liquidity_score=D(liq),
        spread_score=D(spr),
        volatility_score=D(vty),
        total_score=D(total),
    )


def test_min_max_scores_of_three_symbols() -> None:
    # liquidity  (v - 1000) / (5000 - 1000): AAA 4000/4000 = 1, BBB 1000/4000 = 0.25, CCC 0
    # spread     (110 - s) / (110 - 10):     AAA 0,   BBB 100/100 = 1,  CCC 60/100 = 0.6
    # volatility (0.10 - x) / (0.10 - 0.02): AAA 0,   BBB 0.05/0.08 = 0.625, CCC 1
    # total 0.5 L + 0.3 S + 0.2 V:
    #   AAA 0.5                       = 0.5
    #   BBB 0.125 + 0.3 + 0.125       = 0.55
    #   CCC 0     + 0.18 + 0.2        = 0.38
    selection = select_universe(THREE, UniverseParams())
    assert selection.ranked == (
        row("BBBTRY", "2000", "10", "0.05", "0.25", "1", "0.625", "0.55"),
        row("AAATRY", "5000", "110", "0.10", "1", "0", "0", "0.5"),
        row("CCCTRY", "1000", "50", "0.02", "0", "0.6", "1", "0.38"),
    )
    assert selection.selected == ("BBBTRY", "AAATRY", "CCCTRY")
    assert selection.rejected == ()
    assert selection.cycle_ts == CYCLE_TS


def test_custom_weights_are_normalised() -> None:
    assert ScoreWeights(D("2"), D("1"), D("1")).normalised() == ScoreWeights(D("0.5"), D("0.25"), D("0.25"))


def test_custom_weights_2_1_1_rank_like_half_quarter_quarter() -> None:
    # 0.5 L + 0.25 S + 0.25 V:
    #   AAA 0.5                        = 0.5
    #   BBB 0.125 + 0.25 + 0.15625     = 0.53125
    #   CCC 0     + 0.15 + 0.25        = 0.4
    raw = select_universe(THREE, UniverseParams(weights=ScoreWeights(D("2"), D("1"), D("1"))))
    fractions = select_universe(THREE, UniverseParams(weights=ScoreWeights(D("0.5"), D("0.25"), D("0.25"))))
    assert [(r.symbol, r.total_score) for r in raw.ranked] == [
        ("BBBTRY", D("0.53125")),
        ("AAATRY", D("0.5")),
        ("CCCTRY", D("0.4")),
    ]
    assert raw == fractions


def test_weights_summing_to_zero_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("score weights must sum to more than 0, was 0")):
        ScoreWeights(D("0"), D("0"), D("0")).normalised()


def test_missing_metric_scores_minus_one() -> None:
    # NOVOLTRY has no volume and no volatility source at all → -1 on both components.
    # liquidity over the present value only (AAA alone, width 0) → 1
    # spread (60 - s) / 50: AAA 0, NOVOL 1; volatility AAA alone → 1
    # AAA 0.5 + 0 + 0.2 = 0.7; NOVOL -0.5 + 0.3 - 0.2 = -0.4
    selection = select_universe(
        snapshot(
            scored("AAATRY", volume="5000", spread_bps="60", vol="0.10"),
            scored("NOVOLTRY", volume=None, spread_bps="10", vol=None),
        ),
        UniverseParams(),
    )
    assert selection.ranked == (
        row("AAATRY", "5000", "60", "0.10", "1", "0", "1", "0.7"),
        row("NOVOLTRY", None, "10", None, "-1", "1", "-1", "-0.4"),
    )


@pytest.mark.parametrize(
    ("name", "kw", "lookback", "expected"),
    [
        # returns +0.1 (100→110) and -0.1 (110→99): mean 0, variance 0.01 → 0.1
        (
            "closes",
            {"closes": ("100", "110", "99"), "high": "200", "low": "1", "last": "100"},
            20,
            D("0.1"),
        ),
        # lookback 2 keeps the last 3 closes (50 is dropped) → the same 0.1
        ("lookback_window", {"closes": ("50", "100", "110", "99")}, 2, D("0.1")),
        # 2 closes are too few → (high - low) / last = (110 - 90) / 100
        (
            "too_few_closes",
            {"closes": ("100", "110"), "high": "110", "low": "90", "last": "100"},
            20,
            D("0.2"),
        ),
        # a zero close is unusable → high/low/last
        (
            "zero_close",
            {"closes": ("100", "0", "99"), "high": "110", "low": "90", "last": "100"},
            20,
            D("0.2"),
        ),
        # high < low is unusable → |daily change| / 100 = 2.5 / 100
        (
            "bad_range",
            {"high": "90", "low": "110", "last": "100", "change_pct": "-2.5"},
            20,
            D("0.025"),
        ),
        # no last → daily change
        ("no_last", {"high": "110", "low": "90", "change_pct": "4"}, 20, D("0.04")),
        ("nothing", {}, 20, None),
    ],
)
def test_volatility_fallback_chain(name: str, kw: dict[str, object], lookback: int, expected: D | None) -> None:
    assert volatility(symbol("AAATRY", **kw), lookback) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("btc_try", "BTCTRY"),
        ("BTC-TRY", "BTCTRY"),
        (" eth/try ", "ETHTRY"),
        # one rule with settings and datasets: a space is not a separator, so "AVAX TRY" is
        # refused there (a typo guard) rather than silently read as AVAXTRY
        ("Avax Try", "AVAX TRY"),
        ("eth:try", "ETH:TRY"),
    ],
)
def test_canonical_symbol(text: str, canonical: str) -> None:
    assert canonical_symbol(text) == canonical


FOUR = snapshot(
    scored("BTCTRY", volume="5000", spread_bps="10", vol="0.02"),
    scored("ETHTRY", volume="2000", spread_bps="50", vol="0.05"),
    scored("XRPTRY", volume="1000", spread_bps="110", vol="0.10"),
    scored("BTCUSDT", volume="9000", spread_bps="10", vol="0.02"),
)


@pytest.mark.parametrize(
    ("name", "params", "selected", "rejected"),
    [
        # non-canonical spellings are canonicalised before matching
        (
            "whitelist",
            UniverseParams(whitelist=("btc_try", "eth-try")),
            ("BTCTRY", "ETHTRY"),
            (("BTCUSDT", "quote_ccy_not_TRY"), ("XRPTRY", "not_whitelisted")),
        ),
        (
            "blacklist",
            UniverseParams(blacklist=("xrp/try",)),
            ("BTCTRY", "ETHTRY"),
            (("BTCUSDT", "quote_ccy_not_TRY"), ("XRPTRY", "blacklisted")),
        ),
        # 1000 < 1500 → out; 2000 and 5000 stay
        (
            "min_quote_volume",
            UniverseParams(min_quote_volume_try=D("1500")),
            ("BTCTRY", "ETHTRY"),
            (("BTCUSDT", "quote_ccy_not_TRY"), ("XRPTRY", "min_quote_volume")),
        ),
        # spread 110 > 50 → out; 50 is not above the cap and stays
        (
            "max_spread",
            UniverseParams(max_spread_bps=D("50")),
            ("BTCTRY", "ETHTRY"),
            (("BTCUSDT", "quote_ccy_not_TRY"), ("XRPTRY", "max_spread")),
        ),
        # quote currency USDT keeps only BTCUSDT
        (
            "quote_usdt",
            UniverseParams(quote_ccy="usdt"),
            ("BTCUSDT",),
            (
                ("BTCTRY", "quote_ccy_not_USDT"),
                ("ETHTRY", "quote_ccy_not_USDT"),
                ("XRPTRY", "quote_ccy_not_USDT"),
            ),
        ),
        # size 2 cuts XRPTRY (ranked third) from the selection, but it is not rejected
        (
            "size_cut",
            UniverseParams(size=2),
            ("BTCTRY", "ETHTRY"),
            (("BTCUSDT", "quote_ccy_not_TRY"),),
        ),
    ],
)
def test_screens(
    name: str,
    params: UniverseParams,
    selected: tuple[str, ...],
    rejected: tuple[tuple[str, str], ...],
) -> None:
    selection = select_universe(FOUR, params)
    assert selection.selected == selected
    assert selection.rejected == rejected


def test_size_cut_keeps_the_full_ranking() -> None:
    selection = select_universe(FOUR, UniverseParams(size=1))
    assert selection.selected == ("BTCTRY",)
    assert [r.symbol for r in selection.ranked] == ["BTCTRY", "ETHTRY", "XRPTRY"]


def test_untradable_symbol_is_rejected_with_its_skip_reason() -> None:
    crossed = symbol("ETHTRY", bid="101", ask="100")  # bid above ask
    no_book = symbol("XRPTRY", bid=None, ask=None)
    stale = symbol("AVAXTRY", staleness_s=61)  # older than 60 s
    final = finalize_snapshot(snapshot(symbol("BTCTRY"), crossed, no_book, stale), max_data_age_s=60)
    selection = select_universe(final, UniverseParams())
    assert selection.selected == ("BTCTRY",)
    assert selection.rejected == (
        ("AVAXTRY", "stale_data"),
        ("ETHTRY", "crossed_book"),
        ("XRPTRY", "missing_book"),
    )


def test_ties_order_by_total_then_liquidity_then_symbol() -> None:
    # liquidity (v - 1000) / 1000, spread (110 - s) / 100, volatility (0.10 - x) / 0.08
    # ZZZ: L 1,   S 0,   V 0    → 0.5
    # AAA: L 0,   S 1,   V 1    → 0.3 + 0.2 = 0.5
    # JJJ: L 0.5, S 0.5, V 0.5  → 0.25 + 0.15 + 0.1 = 0.5  (KKK identical)
    # all totals tie → liquidity desc: ZZZ (1), then JJJ/KKK (0.5) by symbol, then AAA (0)
    tie = snapshot(
        scored("AAATRY", volume="1000", spread_bps="10", vol="0.02"),
        scored("KKKTRY", volume="1500", spread_bps="60", vol="0.06"),
        scored("ZZZTRY", volume="2000", spread_bps="110", vol="0.10"),
        scored("JJJTRY", volume="1500", spread_bps="60", vol="0.06"),
    )
    selection = select_universe(tie, UniverseParams())
    assert [(r.symbol, r.total_score, r.liquidity_score) for r in selection.ranked] == [
        ("ZZZTRY", D("0.5"), D("1")),
        ("JJJTRY", D("0.5"), D("0.5")),
        ("KKKTRY", D("0.5"), D("0.5")),
        ("AAATRY", D("0.5"), D("0")),
    ]


def test_selection_is_deterministic_and_independent_of_input_order() -> None:
    reversed_input = MarketSnapshot(cycle_ts=CYCLE_TS, symbols=tuple(reversed(THREE.symbols)))
    first = select_universe(THREE, UniverseParams())
    assert select_universe(THREE, UniverseParams()) == first
    assert select_universe(reversed_input, UniverseParams()) == first


# -- a range of snapshots ----------------------------------------------------------------

# One tuple of close objects, sliced cycle after cycle as the replay sweep does, so the
# range path reuses returns; "100.0" and "100" are equal values written differently.
_CLOSES = tuple(D(c) for c in ("100", "101", "99.5", "102", "100.0", "103", "104", "101", "100", "105"))
_WITH_ZERO = tuple(D(c) for c in ("100", "101", "102", "103", "0", "104", "103", "105", "104", "106"))
_RANGE_PARAMS = UniverseParams(size=2, vol_lookback=3)


def _with_closes(snap: SymbolSnapshot, closes: tuple[D, ...]) -> SymbolSnapshot:
    return replace(snap, closes=closes)


def _range() -> list[MarketSnapshot]:
    snaps = []
    for k in range(7):
        snaps.append(
            snapshot(
                _with_closes(symbol("AAATRY", bid="99.95", ask="100.05", volume="5000"), _CLOSES[k : k + 4]),
                # Equal values, new objects every cycle: nothing to reuse.
                _with_closes(
                    symbol("BBBTRY", bid="99.75", ask="100.25", volume="2000"),
                    tuple(D(str(c)) for c in _CLOSES[k : k + 4]),
                ),
                symbol(
                    "CCCTRY", volume="1000", closes=("100", "101", "100"), skip_reason="stale_data" if k == 2 else None
                ),
                # The same closes at two cycles in a row (a bar longer than the cycle).
                _with_closes(symbol("DDDTRY", bid="99.70", ask="100.30", volume="3000"), _CLOSES[k // 2 : k // 2 + 4]),
                # A zero close enters at cycle 1 and leaves at cycle 4: the range fallback in between.
                _with_closes(
                    symbol("EEETRY", bid="99.45", ask="100.55", volume="100", last="100", high="110", low="90"),
                    _WITH_ZERO[k : k + 4],
                ),
                cycle_ts=CYCLE_TS.replace(minute=k),
            )
        )
    return snaps


def test_select_universes_equals_one_snapshot_at_a_time() -> None:
    snaps = _range()

    assert select_universes(snaps, _RANGE_PARAMS) == [select_universe(s, _RANGE_PARAMS) for s in snaps]


def test_select_universes_volatility_of_reused_returns() -> None:
    # Cycle 1: closes 101, 99.5, 102, 100.0 → returns -1.5/101, 2.5/99.5, -2/102 (28 digits),
    # population standard deviation of the three; cycle 0's first two returns are reused.
    ranked = {r.symbol: r for r in select_universes(_range(), _RANGE_PARAMS)[1].ranked}

    assert ranked["AAATRY"].volatility == D("0.02006067457831084254542248015")
    assert ranked["BBBTRY"].volatility == ranked["AAATRY"].volatility  # computed afresh
    assert ranked["EEETRY"].volatility == D("0.2")  # a zero close: (110 - 90) / 100


def test_select_universes_selections_and_rejections() -> None:
    selections = select_universes(_range(), _RANGE_PARAMS)

    # At cycle 5 DDDTRY, whose closes lag two bars behind, is the most volatile of the three.
    assert [s.selected[1] for s in selections] == ["DDDTRY"] * 5 + ["BBBTRY", "DDDTRY"]
    assert {s.selected[0] for s in selections} == {"AAATRY"}  # tightest spread, most liquid
    assert [s.rejected for s in selections][1:4] == [(), (("CCCTRY", "stale_data"),), ()]


def test_select_universes_of_nothing() -> None:
    assert select_universes([], _RANGE_PARAMS) == []


def test_select_universe_reuses_returns_only_under_the_same_decimal_context() -> None:
    # select_universe keeps a module-level memo of returns; the same close objects selected
    # again under a 20-digit context must give the 20-digit volatility, not the cached one.
    snaps = _range()
    default = select_universe(snaps[1], _RANGE_PARAMS)
    with localcontext() as context:
        context.prec = 20
        short = select_universe(snaps[1], _RANGE_PARAMS)
        fresh = volatility(snaps[1].by_symbol()["AAATRY"], 3)

    assert {r.symbol: r for r in default.ranked}["AAATRY"].volatility == D("0.02006067457831084254542248015")
    assert {r.symbol: r for r in short.ranked}["AAATRY"].volatility == fresh == D("0.020060674578310842546")
