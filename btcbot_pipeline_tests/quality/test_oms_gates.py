"""The OMS's gates: fills within their order's limit (limit model), legal event sequences."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal as D

from btcbot_pipeline.domain.params import CycleParams, OmsParams
from btcbot_pipeline.quality import rules as Q

TS = datetime(2026, 1, 1, 0, 30)
LIMIT = Q.GateParams(cycle=replace(CycleParams(), oms=OmsParams(fill_model="limit")))
SEED = Q.GateParams(cycle=CycleParams())


def _fill(side: str, price: str, mark: str = "100", cid: str = "c1") -> tuple:
    return (TS, "C", f"f:{cid}", cid, "BTCTRY", side, D("1"), D(mark), D(price), D(price), D("0.2"), D("0"), "{}")


def _order(side: str, limit: str, cid: str = "c1") -> tuple:
    return (
        TS,
        "C",
        cid,
        cid,
        "BTCTRY",
        side,
        "LIMIT",
        D(limit),
        D("1"),
        D("1"),
        "FILLED",
        "dry_run",
        D(limit),
        D("0.2"),
        D("0"),
        "C",
        1,
        None,
    )


def _event(cid: str, seq: int, kind: str, after: str) -> tuple:
    return (TS, "C", f"{cid}:{seq:04d}:{kind}", cid, kind, after, seq, None)


def test_limit_model_fills_never_cross_their_limit() -> None:
    fills = [
        _fill("BUY", "100"),
        _fill("BUY", "100.01", cid="c2"),
        _fill("SELL", "99.99", cid="c3"),
        _fill("SELL", "100", cid="c4"),
    ]
    orders = [
        _order("BUY", "100"),
        _order("BUY", "100", "c2"),
        _order("SELL", "100", "c3"),
        _order("SELL", "100", "c4"),
    ]

    result = Q.evaluate_exact(Q.FILLS_SUITE, Q.fills_frame(fills, LIMIT, orders))

    assert [(f.expectation, f.observed) for f in result.failures] == [("price_within_limit", 2)]
    assert [r["fill_price_try"] for r in result.failures[0].rows] == ["100.01", "99.99"]


def test_the_seed_model_is_held_to_the_mark_and_slippage_not_to_the_limit() -> None:
    # seed fills are marketable: above a BUY's limit by design, within 25 bps of the mark
    fills = [_fill("BUY", "100.25"), _fill("BUY", "100.26", cid="c2")]
    orders = [_order("BUY", "100.05"), _order("BUY", "100.05", "c2")]

    result = Q.evaluate_exact(Q.FILLS_SUITE, Q.fills_frame(fills, SEED, orders))

    assert [(f.expectation, f.observed) for f in result.failures] == [("price_within_slippage", 1)]


def test_an_order_event_sequence_must_be_gapless_and_legal() -> None:
    events = [
        _event("a", 1, "SUBMITTED", "SUBMITTED"),
        _event("a", 2, "ACKED", "ACKED"),
        _event("a", 3, "FILLED", "FILLED"),
        _event("b", 1, "THROTTLED", "PLANNED"),
        _event("b", 2, "SUBMITTED", "SUBMITTED"),
        _event("c", 1, "SUBMITTED", "SUBMITTED"),
        _event("c", 2, "FILLED", "FILLED"),  # never acknowledged
        _event("d", 4, "PARTIALLY_FILLED", "PARTIALLY_FILLED"),
        _event("d", 6, "FILLED", "FILLED"),  # seq 5 missing
        _event("e", 7, "EXPIRED", "EXPIRED"),  # its earlier events lie before the chunk
    ]

    recs = Q.order_events_frame(events)
    result = Q.evaluate_exact(Q.ORDER_EVENTS_SUITE, recs)

    assert [(r["client_order_id"], r["seq"]) for r in recs if not r["event_sequence_legal"]] == [("c", 2), ("d", 6)]
    assert result.blocking and [(f.expectation, f.observed) for f in result.failures] == [("event_sequence_legal", 2)]
