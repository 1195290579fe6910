"""Universe selection internals a backtest leans on: the fast ScoredSymbol builder, the
returns reused by identity, the two-key sort and the screen's name memo."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal as D

from btcbot_pipeline.domain import universe
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.params import UniverseParams
from btcbot_pipeline.domain.universe import ScoredSymbol, select_universe, select_universes, volatility
from btcbot_pipeline.testing.builders import CYCLE_TS, snapshot, symbol


def test_scored_equals_the_dataclass() -> None:
    values = ("BTCTRY", D("5000"), D("10.0"), D("0.02"), D("1"), D("0.5"), D("0.25"), D("0.600000000000"))

    built = universe._scored(*values)

    assert type(built) is ScoredSymbol
    assert built == ScoredSymbol(*values)
    assert [getattr(built, f.name) for f in fields(ScoredSymbol)] == list(values)


def test_shift_finds_the_reused_closes_by_identity() -> None:
    a, b, c, d = D("100"), D("100"), D("101"), D("102")  # a and b: equal values, two objects
    seen = (a, b, c)

    assert universe._shift(seen, seen) == 0
    assert universe._shift(seen, (b, c, d)) == 1
    assert universe._shift(seen, (c, d, D("103"))) == 2
    # An equal first close that is another object: nothing to reuse.
    assert universe._shift(seen, (D("100"), c, d)) is None
    assert universe._shift(seen, (b, c)) is None  # another length
    assert universe._shift((b, a, c), (b, c, d)) is None  # the object is there, the rest is not


def test_the_same_price_twice_still_reuses_returns() -> None:
    # Closes 100, 100, 101, ...: the next cycle's first close equals the previous cycle's
    # first. Reuse (found by identity) must give the volatility computed afresh.
    closes = tuple(D(c) for c in ("100", "100", "101", "99.5", "100", "100", "102.25", "101"))
    snaps = [
        snapshot(
            replace(symbol("AAATRY", bid="99.95", ask="100.05", volume="5000"), closes=closes[k : k + 4]),
            symbol("BBBTRY", bid="99.75", ask="100.25", volume="2000", closes=("100", "101", "100")),
            cycle_ts=CYCLE_TS.replace(minute=k),
        )
        for k in range(5)
    ]
    params = UniverseParams(size=1, vol_lookback=3)

    ranged = select_universes(snaps, params)

    assert ranged == [select_universe(s, params) for s in snaps]
    for k, selection in enumerate(ranged):
        aaa = {r.symbol: r for r in selection.ranked}["AAATRY"]
        fresh = volatility(
            replace(snaps[k].by_symbol()["AAATRY"], closes=tuple(D(str(c)) for c in closes[k : k + 4])), 3
        )
        assert aaa.volatility == fresh
        assert str(aaa.volatility) == str(fresh)


def test_ranking_breaks_ties_by_liquidity_then_symbol_in_any_input_order() -> None:
    # Equal books and no volatility: totals tie within each volume, liquidity decides,
    # then the symbol (the input order reversed must not matter).
    names = ("DDDTRY", "AAATRY", "CCCTRY", "BBBTRY")
    volumes = ("1000", "2000", "1000", "2000")
    symbols = [symbol(n, bid="99.95", ask="100.05", volume=v) for n, v in zip(names, volumes)]
    params = UniverseParams(size=4)

    forward = select_universe(MarketSnapshot(cycle_ts=CYCLE_TS, symbols=tuple(symbols)), params)
    backward = select_universe(MarketSnapshot(cycle_ts=CYCLE_TS, symbols=tuple(reversed(symbols))), params)

    assert forward.selected == backward.selected == ("AAATRY", "BBBTRY", "CCCTRY", "DDDTRY")


def test_name_reasons_are_remembered_per_screen() -> None:
    screen = universe._Screen.of(UniverseParams(blacklist=("ETH_TRY",)))
    snap = snapshot(symbol("ETHTRY"), symbol("BTCUSDT"), symbol("BTCTRY"))

    first = universe._select(snap, screen, {})
    again = universe._select(snap, screen, {})

    assert screen.names == {"ETHTRY": "blacklisted", "BTCUSDT": "quote_ccy_not_TRY", "BTCTRY": None}
    assert first == again
    assert first.rejected == (("BTCUSDT", "quote_ccy_not_TRY"), ("ETHTRY", "blacklisted"))
