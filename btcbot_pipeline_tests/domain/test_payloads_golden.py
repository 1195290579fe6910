"""Golden bytes of every payload kind: what the book and the backtest fingerprints hold.

The payloads' JSON text is stored (``ledger_state.state_json``, the trace's columns) and
hashed into run fingerprints, so a change of encoder must leave every byte as it is.
Each kind is pinned twice: the exact text of hand-built objects that reach the encoder's
corners (exponent Decimals, microseconds, a non-UTC clock, omitted and derived keys), and
the SHA-256 of all its payloads over two folds (the 30-cycle demo of ``test_cycle``, and
a limit-order run whose orders rest in the OMS). The kinds read back must round-trip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from functools import cache
from typing import Any

import pytest

from btcbot_pipeline.domain import payloads
from btcbot_pipeline.domain.cycle import CycleResult, run_cycles
from btcbot_pipeline.domain.ledger import Holding, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.domain.oms import OmsState, OrderStatus, SimOrder, TokenBucket
from btcbot_pipeline.domain.params import CycleParams, OmsParams, PolicyParams, UniverseParams
from btcbot_pipeline.domain.payloads import (
    ledger_state_from_payload,
    ledger_state_payload,
    risk_state_payload,
)
from btcbot_pipeline.domain.risk import RiskLimits, RiskState
from btcbot_pipeline.domain.universe import ScoredSymbol, UniverseSelection, select_universe
from btcbot_pipeline.domain.vocabulary import Mode, Side
from btcbot_pipeline.testing.builders import CYCLE_TS, rules, snapshot, symbol
from btcbot_pipeline_tests.domain.test_cycle import demo, inputs

LIMIT_PARAMS = CycleParams(
    universe=UniverseParams(size=1),
    policy=PolicyParams(
        max_orders_per_cycle=5, notional_cap_try_per_cycle=D("10000"), try_cash_target=D("0"), try_cash_max=D("0")
    ),
    start_capital_try=D("1000"),
    kill_switch=False,
    risk=RiskLimits(max_drawdown_pct=D("1"), max_daily_loss_try=D("1E9")),
    oms=OmsParams(fill_model="limit", volume_share=D("1"), reprice_bps=D("50")),
)
LIMIT_BARS = [  # bid, ask, bar low, bar high: a BUY rests, waits, fills, then the book holds
    ("100", "101", "100", "101"),
    ("100", "101", "100.5", "101"),
    ("99", "100", "99", "100.5"),
    ("102", "103", "101", "103"),
    ("104", "105", "103", "105"),
    ("104", "105", "104", "105"),
]
RETRY_TS = datetime(2026, 1, 1, 3, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=3)))  # 00:30:00.25 UTC


def _limit_snapshot(k: int, bid: str, ask: str, low: str, high: str) -> MarketSnapshot:
    ts = CYCLE_TS + timedelta(minutes=5 * k)
    s = replace(symbol("BTCTRY", bid=bid, ask=ask, data_ts=ts), bar_low=D(low), bar_high=D(high), bar_volume=D("1000"))
    return finalize_snapshot(snapshot(s, cycle_ts=ts), max_data_age_s=60)


@cache
def limit_run() -> tuple[tuple[MarketSnapshot, ...], tuple[CycleResult, ...]]:
    snaps = [_limit_snapshot(k, *bar) for k, bar in enumerate(LIMIT_BARS)]
    selections = [select_universe(s, LIMIT_PARAMS.universe) for s in snaps]
    return tuple(snaps), tuple(run_cycles(snaps, selections, LedgerState.opening(D("1000")), LIMIT_PARAMS))


def _snapshots() -> list[MarketSnapshot]:
    return [*inputs()[0], *limit_run()[0]]


def _selections() -> list[UniverseSelection]:
    snaps = limit_run()[0]
    return [*inputs()[1], *(select_universe(s, LIMIT_PARAMS.universe) for s in snaps)]


def _results() -> list[CycleResult]:
    return [*demo(), *limit_run()[1]]


def _states() -> list[LedgerState]:
    return [LedgerState.opening(D("10000")), *(r.state for r in _results())]


# -- hand-built corners --------------------------------------------------------------

EXPONENT_SYMBOL = replace(
    symbol(
        "ETHTRY",
        bid="1E+2",
        ask="100.50",
        volume="0E-8",
        last="-0.0",
        high="123.4500",
        low=None,
        change_pct="-1.25",
        closes=("99", "1E+2", "100.5"),
        staleness_s=3,
        data_ts=datetime(2026, 1, 1, 3, 29, 57, tzinfo=timezone(timedelta(hours=3))),
        symbol_rules=rules("ETHTRY", tick="0.01", lot="1E-8", min_notional=None, quantity_scale=None),
    ),
    bar_low=D("99"),
    bar_high=D("101"),
    bar_volume=D("12.5"),  # not in the payload
)
PLAIN_SNAPSHOT = MarketSnapshot(
    cycle_ts=CYCLE_TS,
    symbols=(EXPONENT_SYMBOL, symbol("XRPTRY", bid=None, ask=None, symbol_rules=None, skip_reason="no_book")),
    source="live",
    degraded_reason="stale:XRPTRY",
    fetched_at=CYCLE_TS + timedelta(seconds=2, microseconds=5),
)
SELECTION = UniverseSelection(
    cycle_ts=CYCLE_TS,
    selected=("BTCTRY",),
    ranked=(
        ScoredSymbol("BTCTRY", D("9E+6"), D("5.0"), None, D("1"), D("0.5"), D("0"), D("0.750")),
        ScoredSymbol("ETHTRY", None, None, D("0.0123"), D("0"), D("0"), D("1"), D("0.25")),
    ),
    rejected=(("XRPTRY", "no_book"), ("SOLTRY", "stale")),
)
RETRYING_ORDER = SimOrder(
    client_order_id="c-1",
    symbol="BTCTRY",
    side=Side.SELL,
    price_try=D("1.2E+6"),
    qty=D("0.00100"),
    placed_ts=CYCLE_TS,
    placed_cycle_id="20260101T003000Z",
    status=OrderStatus.SUBMITTED,
    filled_qty=D("0E-8"),
    attempts=2,
    next_attempt_ts=RETRY_TS,
    seq=3,
    intent_hash="abc",
    reason="rate_limited",
)
OMS_STATE = OmsState(
    open_orders=(RETRYING_ORDER,),
    bucket=TokenBucket(D("2.5000"), RETRY_TS),
    keys={"k2": "h2", "k1": "h1"},
)
LEDGER_STATE = LedgerState(
    start_capital_try=D("1E+3"),
    cash_try=D("880.0"),
    holdings={"ETHTRY": Holding(D("0.001"), D("100.10")), "BTCTRY": Holding(D("0"), D("0E-2"))},
    marks={"ETHTRY": D("100250"), "BTCTRY": D("1.2E+6")},
    realized_pnl_try=D("-0.5"),
    peak_equity_try=None,
    last_cycle_ts=RETRY_TS,
    oms=OMS_STATE,
)
RISK_STATE = RiskState(
    mode=Mode.REDUCE_RISK_ONLY,
    peak_equity_try=D("1.05E+4"),
    day="2026-01-01",
    day_start_equity_try=D("10000.00"),
    latches={"drawdown": CYCLE_TS + timedelta(hours=1)},
    last_equity_try=D("9500"),
    reasons=("risk:drawdown:breached",),
)

EXACT: dict[str, tuple[Callable[[], Any], str]] = {
    "symbol": (
        lambda: payloads.symbol_payload(EXPONENT_SYMBOL),
        '{"best_ask":"100.50","best_bid":"100","closes":["99","100","100.5"],"daily_change_pct":"-1.25",'
        '"data_ts":"2026-01-01T00:29:57Z","high_24h":"123.4500","last":"-0.0","low_24h":null,'
        '"quote_volume_try":"0.00000000","rules":{"lot_size":"0.00000001","min_notional_try":null,'
        '"price_scale":2,"quantity_scale":null,"status":"TRADING","symbol":"ETHTRY","tick_size":"0.01"},'
        '"skip_reason":null,"staleness_s":3,"symbol":"ETHTRY"}',
    ),
    "symbol without rules": (
        lambda: payloads.symbol_payload(PLAIN_SNAPSHOT.symbols[1]),
        '{"best_ask":null,"best_bid":null,"closes":[],"daily_change_pct":null,"data_ts":"2026-01-01T00:30:00Z",'
        '"high_24h":null,"last":null,"low_24h":null,"quote_volume_try":"1000000","rules":null,'
        '"skip_reason":"no_book","staleness_s":0,"symbol":"XRPTRY"}',
    ),
    "market cycle": (
        lambda: payloads.market_cycle_payload(PLAIN_SNAPSHOT),
        '{"cycle_ts":"2026-01-01T00:30:00Z","degraded_reason":"stale:XRPTRY","fetched_at":"2026-01-01T00:30:02.000005Z",'
        '"source":"live"}',
    ),
    "universe": (
        lambda: payloads.universe_payload(SELECTION),
        '{"cycle_ts":"2026-01-01T00:30:00Z","ranked":[{"liquidity_score":"1","quote_volume_try":"9000000",'
        '"spread_bps":"5.0","spread_score":"0.5","symbol":"BTCTRY","total_score":"0.750","volatility":null,'
        '"volatility_score":"0"},{"liquidity_score":"0","quote_volume_try":null,"spread_bps":null,'
        '"spread_score":"0","symbol":"ETHTRY","total_score":"0.25","volatility":"0.0123","volatility_score":"1"}],'
        '"rejected":[{"reason":"no_book","symbol":"XRPTRY"},{"reason":"stale","symbol":"SOLTRY"}],'
        '"selected":["BTCTRY"]}',
    ),
    "order": (
        lambda: payloads.order_payload(RETRYING_ORDER),
        '{"attempts":2,"client_order_id":"c-1","fees_try":"0","filled_notional_try":"0","filled_qty":"0.00000000",'
        '"intent_hash":"abc","next_attempt_ts":"2026-01-01T00:30:00.250000Z","placed_cycle_id":"20260101T003000Z",'
        '"placed_ts":"2026-01-01T00:30:00Z","price_try":"1200000","qty":"0.00100","reason":"rate_limited",'
        '"seq":3,"side":"SELL","slippage_try":"0","status":"SUBMITTED","symbol":"BTCTRY"}',
    ),
    "ledger state": (
        lambda: ledger_state_payload(LEDGER_STATE),
        '{"cash_try":"880.0","fees_try":"0","holdings":{"BTCTRY":{"cost_try":"0.00","qty":"0"},'
        '"ETHTRY":{"cost_try":"100.10","qty":"0.001"}},"last_cycle_ts":"2026-01-01T00:30:00.250000Z",'
        '"marks":{"BTCTRY":"1200000","ETHTRY":"100250"},"max_drawdown":"0","oms":{"bucket":{"tokens":"2.5000",'
        '"updated_ts":"2026-01-01T00:30:00.250000Z"},"keys":{"k1":"h1","k2":"h2"},"open_orders":[{"attempts":2,'
        '"client_order_id":"c-1","fees_try":"0","filled_notional_try":"0","filled_qty":"0.00000000",'
        '"intent_hash":"abc","next_attempt_ts":"2026-01-01T00:30:00.250000Z","placed_cycle_id":"20260101T003000Z",'
        '"placed_ts":"2026-01-01T00:30:00Z","price_try":"1200000","qty":"0.00100","reason":"rate_limited",'
        '"seq":3,"side":"SELL","slippage_try":"0","status":"SUBMITTED","symbol":"BTCTRY"}]},'
        '"peak_equity_try":null,"realized_pnl_try":"-0.5","slippage_try":"0","start_capital_try":"1000",'
        '"turnover_try":"0"}',
    ),
    "opening ledger state": (  # no OMS key while the OMS has never run
        lambda: ledger_state_payload(LedgerState.opening(D("10000"))),
        '{"cash_try":"10000","fees_try":"0","holdings":{},"last_cycle_ts":null,"marks":{},"max_drawdown":"0",'
        '"peak_equity_try":"10000","realized_pnl_try":"0","slippage_try":"0","start_capital_try":"10000",'
        '"turnover_try":"0"}',
    ),
    "risk state": (
        lambda: risk_state_payload(RISK_STATE),
        '{"day":"2026-01-01","day_start_equity_try":"10000.00","last_equity_try":"9500",'
        '"latches":{"drawdown":"2026-01-01T01:30:00+00:00"},"mode":"REDUCE_RISK_ONLY","peak_equity_try":"10500",'
        '"reasons":["risk:drawdown:breached"]}',
    ),
}


@pytest.mark.parametrize("kind", EXACT)
def test_hand_built_payloads_keep_their_exact_text(kind: str) -> None:
    make, text = EXACT[kind]
    assert payloads.dumps(make()) == text


# -- every payload of two folds -----------------------------------------------------


def _all(kind: str) -> Iterable[Any]:
    if kind == "symbol":
        return (payloads.symbol_payload(s) for snap in _snapshots() for s in snap.symbols)
    if kind == "market cycle":
        return (payloads.market_cycle_payload(snap) for snap in _snapshots())
    if kind == "universe":
        return (payloads.universe_payload(sel) for sel in _selections())
    if kind == "plan":
        return (payloads.plan_payload(r) for r in _results())
    if kind == "intent":
        return (payloads.intent_payload(i) for r in _results() for i in r.intents)
    if kind == "fill":
        return (payloads.fill_payload(f) for r in _results() for f in r.fills)
    if kind == "metrics":
        return (payloads.metrics_payload(r.metrics) for r in _results())
    if kind == "order":
        return (payloads.order_payload(o) for r in _results() for o in r.orders)
    if kind == "oms":
        return (payloads.oms_payload(s.oms) for s in _states())
    if kind == "ledger state":
        return (ledger_state_payload(s) for s in _states())
    assert kind == "risk state"
    return (risk_state_payload(r.risk.state) for r in _results() if r.risk is not None)


GOLDEN = {  # kind: (number of payloads, SHA-256 of their texts, one per line)
    "symbol": (156, "fb7ec3f2a3157e6b13fd51804d0ff7521c687de13af1cc685d22b44511e1a558"),
    "market cycle": (36, "28696a6bece892c05a5a29e8da275d455a8520eea42366e7ea4d23da1cd197eb"),
    "universe": (36, "cb8b1cda1cfac4c7a97a7002af0c91a51a7e417a78389efaaf11102ad038e88e"),
    "plan": (36, "05d445ee6053472ad1d1b31e3fd3f33b61aca8a50fbce2cfc33e4073a1dcd72f"),
    "intent": (97, "9c6ec7e5c49eca8cae7aeae5e501572d29c0826249a4ea94abbfd0c324cf790c"),
    "fill": (40, "4b9a7b415ab376d177752a1293f314c1f80a928f3cca16cf7ae819dfa47dd621"),
    "metrics": (36, "ec6c4bbae747a040954ef677b0bcc2af7e9ea83aa0bbd391569753ee0442c700"),
    "order": (42, "d9124406a0b9f3da43b21d92b9a5aef9ca27858ee884e23574c6bca9846e3617"),
    "oms": (37, "cd41135628100f6899fc4f4a4065539c7e897411049c7b5f8b564e229b894055"),
    "ledger state": (37, "aaa83483a6555cea87a46ca64593053a2812c1c1caea44f49e99c134a2413d31"),
    "risk state": (36, "0e62d469b14516d88a62e8c160be9e0d66eae355569c99418286b09554b94527"),
}


@pytest.mark.parametrize("kind", GOLDEN)
def test_every_payload_of_two_folds_keeps_its_bytes(kind: str) -> None:
    texts = [payloads.dumps(p) for p in _all(kind)]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    assert (len(texts), digest) == GOLDEN[kind]


def test_the_limit_run_leaves_orders_resting_in_the_oms() -> None:
    """The fold the digests cover does reach the OMS state's keys, bucket and open orders."""
    states = [r.state for r in limit_run()[1]]
    assert any(s.oms.open_orders and s.oms.keys and s.oms.bucket for s in states)
    assert any(o.status is OrderStatus.FILLED for r in limit_run()[1] for o in r.orders)


# -- the way back --------------------------------------------------------------------


def _both(payload: Any) -> list[Any]:
    """The payload as made, and as read back from its JSON text."""
    return [payload, json.loads(payloads.dumps(payload))]


@pytest.mark.parametrize("state", [LEDGER_STATE, *_states()[::5]], ids=lambda s: str(s.last_cycle_ts))
def test_ledger_state_round_trips(state: LedgerState) -> None:
    for p in _both(ledger_state_payload(state)):
        back = ledger_state_from_payload(p)
        assert back == state
        assert list(back.holdings) == sorted(state.holdings) and list(back.marks) == sorted(state.marks)
        assert list(back.oms.keys) == sorted(state.oms.keys)


def test_oms_state_and_orders_round_trip() -> None:
    for oms in [OMS_STATE, OmsState(), *(s.oms for s in _states())]:
        for p in _both(payloads.oms_payload(oms)):
            assert payloads.oms_from_payload(p) == oms
    for p in _both(payloads.order_payload(RETRYING_ORDER)):
        assert payloads.order_from_payload(p) == RETRYING_ORDER
    assert payloads.oms_from_payload(None) == OmsState()


def test_market_snapshots_round_trip_without_their_bars() -> None:
    bare = [replace(s, bar_low=None, bar_high=None, bar_volume=None) for s in PLAIN_SNAPSHOT.symbols]
    for snap in [replace(PLAIN_SNAPSHOT, symbols=tuple(bare)), *_snapshots()]:
        symbols = [replace(s, bar_low=None, bar_high=None, bar_volume=None) for s in snap.symbols]
        expected = replace(snap, symbols=tuple(symbols))
        for p in _both([payloads.symbol_payload(s) for s in snap.symbols]):
            cycle = json.loads(payloads.dumps(payloads.market_cycle_payload(snap)))
            assert payloads.snapshot_from_payloads(snap.cycle_ts, p, cycle) == expected
    assert payloads.parse_ts("2026-01-01T00:30:00.250000Z") == RETRY_TS
    assert payloads.parse_ts("2026-01-01T00:30:00Z") == CYCLE_TS and payloads.parse_ts(None) is None
