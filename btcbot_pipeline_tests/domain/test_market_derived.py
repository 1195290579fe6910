"""SymbolSnapshot.mark / .spread_bps: computed once per snapshot and decimal context, the
same Decimals (value and exponent) as mid_of / spread_bps_of, never part of the fields."""

from __future__ import annotations

import copy
import pickle
from dataclasses import fields, replace
from decimal import Context, localcontext
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain.market import SymbolSnapshot, mid_of, spread_bps_of, symbol_snapshot
from btcbot_pipeline.domain.payloads import symbol_payload

BOOKS = [
    (D("100.10"), D("100.20")),
    (D("0.000123"), D("0.000125")),
    (D("3"), D("7")),
    (D("123456789.123456789"), D("123456789.223456789")),
    (None, D("1")),
    (D("1"), None),
    (D("0"), D("1")),
    (D("-1"), D("1")),
    (None, None),
]


def _built(bid: D | None, ask: D | None, how: str) -> SymbolSnapshot:
    if how == "symbol_snapshot":
        return symbol_snapshot("BTCTRY", None, None, bid, ask, *([None] * 5), (), None, None, None, None, None)
    return SymbolSnapshot("BTCTRY", best_bid=bid, best_ask=ask)


def _same(got: D | None, want: D | None) -> bool:
    """Equal value and digits (exponent too), or both None."""
    if got is None or want is None:
        return got is None and want is None
    return got.as_tuple() == want.as_tuple()


@pytest.mark.parametrize("how", ["symbol_snapshot", "dataclass"])
@pytest.mark.parametrize(("bid", "ask"), BOOKS)
def test_mark_and_spread_equal_the_functions_read_after_read(bid: D | None, ask: D | None, how: str) -> None:
    s = _built(bid, ask, how)
    for _ in range(3):  # the first read computes, the next ones are kept
        assert _same(s.mark, mid_of(bid, ask))
        assert _same(s.spread_bps, spread_bps_of(bid, ask))
    t = _built(bid, ask, how)  # spread first, then the mark
    assert _same(t.spread_bps, spread_bps_of(bid, ask))
    assert _same(t.mark, mid_of(bid, ask))


def test_a_read_under_another_context_computes_in_that_context() -> None:
    bid, ask = D("100.10"), D("100.20")
    s = _built(bid, ask, "symbol_snapshot")
    default = s.spread_bps
    with localcontext(Context(prec=60)):
        wide = s.spread_bps
        assert _same(wide, spread_bps_of(bid, ask))
        assert _same(s.mark, mid_of(bid, ask))
    with localcontext(Context(prec=5)):
        assert _same(s.spread_bps, spread_bps_of(bid, ask))
        assert _same(s.mark, mid_of(bid, ask))  # 100.15: 5 digits
    assert wide != default and len(wide.as_tuple().digits) > len(default.as_tuple().digits)  # type: ignore[union-attr]
    assert _same(s.spread_bps, spread_bps_of(bid, ask))  # back in the default context
    assert _same(s.mark, mid_of(bid, ask))


def test_kept_values_are_not_fields_nor_payload_nor_equality() -> None:
    read = _built(D("100.10"), D("100.20"), "symbol_snapshot")
    unread = _built(D("100.10"), D("100.20"), "symbol_snapshot")
    before = symbol_payload(read)
    assert read.mark is not None and read.spread_bps is not None

    assert read == unread and hash(read) == hash(unread) and repr(read) == repr(unread)
    assert symbol_payload(read) == before == symbol_payload(unread)
    assert "_derived" not in {f.name for f in fields(SymbolSnapshot)}
    with pytest.raises(AttributeError):
        read.best_bid = D("1")  # type: ignore[misc]


def test_replaced_copied_and_unpickled_snapshots_compute_their_own() -> None:
    s = _built(D("100.10"), D("100.20"), "symbol_snapshot")
    assert s.mark == D("100.15")

    moved = replace(s, best_bid=D("99.10"))
    assert _same(moved.mark, mid_of(D("99.10"), D("100.20")))
    assert _same(moved.spread_bps, spread_bps_of(D("99.10"), D("100.20")))
    for other in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert other == s
        assert _same(other.mark, s.mark)
        assert _same(other.spread_bps, s.spread_bps)
