"""One OMS step: the seed model against ``domain.fills``, idempotency keys, throttling,
retries with backoff, seeded rejects, determinism.

Cycles are five minutes apart from 00:30 (``at(k)``, cycle id ``c{k}``). Events are listed
as ``(client_order_id, seq, event_type, status_after, reason)`` rows.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from typing import Mapping, Sequence

import pytest

from btcbot_pipeline.domain.fills import SimulatedFill, fill_intents
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent
from btcbot_pipeline.domain.oms import (
    Bar,
    IllegalTransition,
    OmsState,
    OmsStep,
    OrderStatus,
    SimOrder,
    TokenBucket,
    payload_hash,
    step,
)
from btcbot_pipeline.domain.params import ExecutionParams, OmsParams
from btcbot_pipeline.domain.vocabulary import Mode, Side

BUY, SELL = Side.BUY, Side.SELL
T0 = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)
SYMBOLS = ("AAATRY", "BBBTRY", "CCCTRY")
EVERYTHING = frozenset((s, side) for s in SYMBOLS for side in Side)


def at(k: int) -> datetime:
    return T0 + timedelta(minutes=5 * k)


def cid(n: int, side: Side = BUY, symbol: str = "AAATRY", k: int = 0) -> str:
    return f"s7:c{k}:{symbol}:{side.value}:{n:04d}"


def intent(
    n: int,
    side: Side = BUY,
    *,
    price: str = "100",
    qty: str = "1",
    mark: str = "100",
    symbol: str = "AAATRY",
    k: int = 0,
    status: IntentStatus = IntentStatus.PLANNED,
) -> OrderIntent:
    return OrderIntent(
        cycle_id=f"c{k}",
        cycle_ts=at(k),
        client_order_id=cid(n, side, symbol, k),
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        price_try=D(price),
        qty=D(qty),
        notional_try=D(price) * D(qty),
        mark_price_try=D(mark),
        status=status,
        reason="test",
        skip_reason=None if status is IntentStatus.PLANNED else "min_notional",
        rules_status="ok",
    )


def bar(mark: str, *, symbol: str = "AAATRY", **fields: str) -> Bar:
    return Bar(symbol, D(mark), **{name: D(value) for name, value in fields.items()})


def run(
    state: OmsState,
    k: int,
    intents: Sequence[OrderIntent] = (),
    *,
    bars: Sequence[Bar] = (),
    params: OmsParams = OmsParams(),
    wanted: frozenset[tuple[str, Side]] = EVERYTHING,
    **kwargs: object,
) -> OmsStep:
    return step(
        state,
        cycle_id=f"c{k}",
        cycle_ts=at(k),
        intents=intents,
        bars={b.symbol: b for b in bars},
        wanted=wanted,
        params=params,
        **kwargs,  # type: ignore[arg-type]
    )


def rows(result: OmsStep) -> list[tuple[str, int, str, str, str | None]]:
    return [(e.client_order_id, e.seq, e.event_type.value, e.status_after.value, e.reason) for e in result.events]


def lifecycle(order_id: str, first_seq: int = 1, *types: str) -> list[str]:
    return [f"{order_id}:{first_seq + i:04d}:{t}" for i, t in enumerate(types)]


# -- the seed model is today's simulator ----------------------------------------------------

SEED_INTENTS = (  # plan order: SELLs first; client ids sort differently
    intent(7, SELL, qty="0.00012345", mark="1234567.891", symbol="CCCTRY"),
    intent(3, SELL, qty="12.5", mark="0.04321"),
    intent(9, BUY, qty="0.333", mark="3001.7", symbol="BBBTRY"),
    intent(1, BUY, qty="2", mark="99.99", symbol="CCCTRY"),
    intent(5, BUY, qty="4", mark="10", status=IntentStatus.SKIPPED),
)


@pytest.mark.parametrize("mode", [Mode.NORMAL, Mode.REDUCE_RISK_ONLY])
@pytest.mark.parametrize(
    "execution",
    [ExecutionParams(), ExecutionParams(slippage_bps=D("7.5"), fees_bps=D("13"))],
    ids=["default_costs", "other_costs"],
)
def test_seed_model_gives_exactly_the_fills_of_domain_fills(mode: Mode, execution: ExecutionParams) -> None:
    params = OmsParams(slippage_bps=execution.slippage_bps, fees_bps=execution.fees_bps)
    result = run(OmsState(), 0, SEED_INTENTS, params=params, allow_buys=mode.allows_buy)
    today = fill_intents(SEED_INTENTS, execution, mode)  # in the plan's order, as the OMS submits them
    assert len(today) == (4 if mode is Mode.NORMAL else 2)
    assert [repr(f) for f in result.fills] == [repr(f) for f in today]  # same digits, not only equal values
    assert result.state.open_orders == ()
    assert [o.status for o in result.orders] == [OrderStatus.FILLED] * len(today)


def test_seed_model_events_and_order_figures() -> None:
    result = run(OmsState(), 0, [intent(3, SELL, qty="12.5", mark="0.04321")])
    order_id = cid(3, SELL)
    assert [e.event_id for e in result.events] == lifecycle(order_id, 1, "SUBMITTED", "ACKED", "FILLED")
    (order,) = result.orders
    # 0.04321 × 0.9975 = 0.043101975; × 12.5 = 0.5387746875; fee 20 bps = 0.001077549375
    assert (order.filled_qty, order.avg_fill_price_try) == (D("12.5"), D("0.043101975"))
    assert (order.fees_try, order.slippage_try) == (D("0.001077549375"), D("0.0013503125"))
    assert (order.seq, order.attempts) == (3, 1)


# -- idempotency --------------------------------------------------------------------------


def test_payload_hash_is_sha256_of_the_canonical_payload() -> None:
    expected = hashlib.sha256(b"AAATRY|BUY|100|1").hexdigest()
    assert payload_hash(intent(1)) == expected
    assert payload_hash(intent(1, price="100.00", qty="1.0")) == expected  # same numbers
    assert payload_hash(intent(1, price="100.01")) != expected


def test_same_key_same_payload_is_ignored() -> None:
    first = intent(1)
    result = run(OmsState(), 0, [first, first])
    h = payload_hash(first)
    assert result.keys == (
        (f"submit:{cid(1)}", h, "NEW"),
        (f"submit:{cid(1)}", h, "DUPLICATE_IGNORED"),
    )
    assert rows(result)[3:] == [
        (cid(1), 4, "DUPLICATE_IGNORED", "FILLED", f"submit:{cid(1)} already sent with this payload")
    ]
    assert [f.fill_id for f in result.fills] == [f"s7:c0:{cid(1)}"]  # one order, one fill
    assert len(result.orders) == 1


def test_same_key_other_payload_is_refused_and_the_holder_is_untouched() -> None:
    held, other = intent(1, price="100"), intent(1, price="101")
    result = run(OmsState(), 0, [held, other, intent(2)])
    h1, h2 = payload_hash(held), payload_hash(other)
    assert result.keys == (
        (f"submit:{cid(1)}", h1, "NEW"),
        (f"submit:{cid(1)}", h2, "IDEMPOTENCY_CONFLICT"),
        (f"submit:{cid(2)}", payload_hash(intent(2)), "NEW"),  # the next intent goes on
    )
    assert (
        cid(1),
        4,
        "IDEMPOTENCY_CONFLICT",
        "FILLED",
        f"submit:{cid(1)} holds payload {h1[:12]}, refused {h2[:12]}",
    ) in rows(result)
    assert [(o.client_order_id, o.price_try, o.status) for o in result.orders] == [
        (cid(1), D("100"), OrderStatus.FILLED),
        (cid(2), D("100"), OrderStatus.FILLED),
    ]


def test_a_key_of_an_open_order_is_kept_across_cycles() -> None:
    # limit model: a BUY at 100 under an ask of 101 rests; the same intent next cycle is a duplicate
    limit = OmsParams(fill_model="limit")
    resting = intent(1)
    first = run(OmsState(), 0, [resting], bars=[bar("100.9", best_ask_try="101", volume="10")], params=limit)
    assert first.state.keys == {f"submit:{cid(1)}": payload_hash(resting)}
    again = run(
        first.state, 1, [resting], bars=[bar("100.9", best_ask_try="101", low_try="100.5", volume="10")], params=limit
    )
    assert again.keys == ((f"submit:{cid(1)}", payload_hash(resting), "DUPLICATE_IGNORED"),)
    assert rows(again) == [(cid(1), 3, "DUPLICATE_IGNORED", "ACKED", f"submit:{cid(1)} already sent with this payload")]
    assert again.state.keys == first.state.keys


def test_keys_of_closed_orders_leave_the_state() -> None:
    result = run(OmsState(), 0, [intent(1)])
    assert result.state == OmsState(open_orders=(), bucket=TokenBucket(D("9"), at(0)), keys={})


@pytest.mark.parametrize(
    ("known_hash", "outcome"),
    [(payload_hash(intent(1)), "DUPLICATE_IGNORED"), ("hash-a", "IDEMPOTENCY_CONFLICT")],
)
def test_a_key_without_its_order_only_records_its_row(known_hash: str, outcome: str) -> None:
    state = OmsState(keys={f"submit:{cid(1)}": known_hash})
    result = run(state, 0, [intent(1), intent(2)])
    assert result.keys[0] == (f"submit:{cid(1)}", payload_hash(intent(1)), outcome)
    assert [o.client_order_id for o in result.orders] == [cid(2)]
    assert {e.client_order_id for e in result.events} == {cid(2)}


# -- throttling ---------------------------------------------------------------------------


def test_burst_plus_one_is_throttled_then_sent_next_cycle() -> None:
    eleven = [intent(n) for n in range(1, 12)]
    first = run(OmsState(), 0, eleven)
    assert len(first.fills) == 10
    assert rows(first)[-1] == (cid(11), 1, "THROTTLED", "PLANNED", "rate_limited")
    (waiting,) = first.state.open_orders
    assert (waiting.client_order_id, waiting.status, waiting.attempts) == (cid(11), OrderStatus.PLANNED, 0)
    assert first.state.bucket == TokenBucket(D("0"), at(0))
    # five minutes of cycle time refill the bucket (5/s, at most 10); the seed model now
    # fills at this cycle's mark: 101 × 1.0025 = 101.2525
    second = run(first.state, 1, bars=[bar("101")])
    assert [e.event_id for e in second.events] == lifecycle(cid(11), 2, "SUBMITTED", "ACKED", "FILLED")
    (fill,) = second.fills
    assert (fill.fill_id, fill.qty, fill.mark_price_try, fill.fill_price_try) == (
        f"s7:c1:{cid(11)}",
        D("1"),
        D("101"),
        D("101.2525"),
    )
    assert second.state.bucket == TokenBucket(D("9"), at(1))


def test_throttled_order_waits_until_the_bucket_refills_in_cycle_time() -> None:
    slow = OmsParams(rate_limit_rps=D("0.002"), rate_limit_burst=2)  # 300 s → 0.6 token
    first = run(OmsState(), 0, [intent(1), intent(2), intent(3)], params=slow)
    assert [r[2] for r in rows(first) if r[0] == cid(3)] == ["THROTTLED"]
    second = run(first.state, 1, bars=[bar("100")], params=slow)
    assert rows(second) == [(cid(3), 2, "THROTTLED", "PLANNED", "rate_limited")]
    assert second.state.bucket == TokenBucket(D("0.6"), at(1))
    third = run(second.state, 2, bars=[bar("100")], params=slow)
    assert [e.event_id for e in third.events] == lifecycle(cid(3), 3, "SUBMITTED", "ACKED", "FILLED")
    assert third.state.bucket == TokenBucket(D("0.2"), at(2))  # 0.6 + 0.6 − 1


# -- retries ------------------------------------------------------------------------------


def test_transient_failures_are_retried_with_backoff_then_given_up() -> None:
    always = OmsParams(transient_failure_rate=D("1"), retry_max_attempts=3, retry_base_delay_ms=500)
    first = run(OmsState(), 0, [intent(1)], params=always)
    assert rows(first) == [
        (cid(1), 1, "RETRY_SCHEDULED", "PLANNED", "SERVICE_UNAVAILABLE on attempt 1, retry in 500 ms")
    ]
    assert first.state.open_orders[0].next_attempt_ts == at(0) + timedelta(milliseconds=500)
    second = run(first.state, 1, params=always)
    assert rows(second) == [
        (cid(1), 2, "RETRY_SCHEDULED", "PLANNED", "TOO_MANY_REQUESTS on attempt 2, retry in 1000 ms")
    ]
    assert second.state.open_orders[0].next_attempt_ts == at(1) + timedelta(milliseconds=1000)
    third = run(second.state, 2, params=always)
    assert rows(third) == [
        (cid(1), 3, "RETRY_GIVEUP", "PLANNED", "SERVICE_UNAVAILABLE on attempt 3 of 3"),
        (cid(1), 4, "REJECTED", "REJECTED", "retry_budget_exhausted"),
    ]
    assert (third.orders[0].attempts, third.state.open_orders, third.fills) == (3, (), ())


def test_a_retry_waits_for_its_backoff() -> None:
    # base 400 s: attempt 1 at 00:30 → retry at 00:36:40, so 00:35 waits and 00:40 retries;
    # attempt 2 → retry after 800 s at 00:53:20
    slow = OmsParams(transient_failure_rate=D("1"), retry_base_delay_ms=400_000, order_ttl_s=3600)
    first = run(OmsState(), 0, [intent(1)], params=slow)
    assert first.state.open_orders[0].next_attempt_ts == datetime(2026, 1, 1, 0, 36, 40, tzinfo=timezone.utc)
    waiting = run(first.state, 1, params=slow)
    assert (waiting.events, waiting.orders) == ((), first.state.open_orders)
    retried = run(waiting.state, 2, params=slow)
    assert [(r[1], r[2]) for r in rows(retried)] == [(2, "RETRY_SCHEDULED")]
    assert retried.state.open_orders[0].next_attempt_ts == datetime(2026, 1, 1, 0, 53, 20, tzinfo=timezone.utc)


def test_a_transient_failure_then_success() -> None:
    # draws for cid 3: attempt 1 → 0.046 (< 0.1, fails), attempt 2 → 0.486 (goes through)
    flaky = OmsParams(transient_failure_rate=D("0.1"))
    first = run(OmsState(), 0, [intent(3)], params=flaky)
    assert rows(first) == [
        (cid(3), 1, "RETRY_SCHEDULED", "PLANNED", "SERVICE_UNAVAILABLE on attempt 1, retry in 500 ms")
    ]
    second = run(first.state, 1, bars=[bar("100")], params=flaky)
    assert [e.event_id for e in second.events] == lifecycle(cid(3), 2, "SUBMITTED", "ACKED", "FILLED")
    assert second.orders[0].attempts == 2


# -- rejects ------------------------------------------------------------------------------


def test_seeded_rejects_with_exchange_reasons() -> None:
    # reject draws on attempt 1: cid 1 → 0.710, 2 → 0.436, 3 → 0.035, 4 → 0.251, 5 → 0.402
    result = run(OmsState(), 0, [intent(n) for n in range(1, 6)], params=OmsParams(reject_rate=D("0.3")))
    assert [(o.client_order_id, o.status, o.reason) for o in result.orders] == [
        (cid(1), OrderStatus.FILLED, None),
        (cid(2), OrderStatus.FILLED, None),
        (cid(3), OrderStatus.REJECTED, "FAILED_ORDER_WITH_OPEN_ORDERS"),
        (cid(4), OrderStatus.REJECTED, "FAILED_ORDER_WITH_OPEN_ORDERS"),
        (cid(5), OrderStatus.FILLED, None),
    ]
    assert [r for r in rows(result) if r[0] == cid(3)] == [
        (cid(3), 1, "SUBMITTED", "SUBMITTED", None),
        (cid(3), 2, "REJECTED", "REJECTED", "FAILED_ORDER_WITH_OPEN_ORDERS"),
    ]


def test_an_intent_without_price_or_quantity_is_rejected() -> None:
    result = run(OmsState(), 0, [intent(1, qty="0")])
    assert rows(result) == [(cid(1), 1, "REJECTED", "REJECTED", "invalid_price_or_qty")]
    assert result.state.bucket is None  # no submission, no token


# -- determinism --------------------------------------------------------------------------


def _busy_day(intents_order: int) -> list[OmsStep]:
    """Six cycles of the limit model with every mechanism in play."""
    params = OmsParams(
        fill_model="limit",
        reject_rate=D("0.2"),
        transient_failure_rate=D("0.3"),
        rate_limit_burst=4,
        seed=7,
        order_ttl_s=1500,
    )
    batch = [intent(n, side, qty=f"{n}.5", symbol=s) for n in range(1, 4) for side in Side for s in SYMBOLS[:2]]
    random.Random(intents_order).shuffle(batch)
    quotes = [  # mark, bid, ask, low, high
        ("100", "99.9", "100.1", "99", "101"),
        ("99.5", "99.4", "99.6", "98", "100.5"),
        ("101", "100.9", "101.1", "99.5", "102"),
        ("100", "99.9", "100.1", "99.9", "100.1"),
        ("99", "98.9", "99.1", "98", "100"),
        ("100", "99.9", "100.1", "99", "101"),
    ]
    markets: Mapping[int, list[Bar]] = {
        k: [bar(m, symbol=s, best_bid_try=b, best_ask_try=a, low_try=lo, high_try=hi, volume="20") for s in SYMBOLS[:2]]
        for k, (m, b, a, lo, hi) in enumerate(quotes)
    }
    steps, state = [], OmsState()
    for k in range(len(quotes)):
        steps.append(run(state, k, batch if k == 0 else (), bars=markets[k], params=params))
        state = steps[-1].state
    return steps


def test_same_inputs_same_steps() -> None:
    one, two = _busy_day(0), _busy_day(0)
    assert one == two and [repr(s) for s in one] == [repr(s) for s in two]
    kinds = {e.event_type.value for s in one for e in s.events}  # the scenario is not vacuous
    assert {"THROTTLED", "RETRY_SCHEDULED", "REJECTED", "PARTIALLY_FILLED", "FILLED", "EXPIRED"} <= kinds


def test_every_status_change_goes_through_the_state_machine() -> None:
    # a (corrupt) carried order already FILLED that the plan drops: cancelling it is illegal
    filled = SimOrder(cid(1), "AAATRY", BUY, D("100"), D("1"), at(0), "c0", OrderStatus.FILLED, filled_qty=D("1"))
    with pytest.raises(IllegalTransition, match=f"illegal order transition FILLED → CANCELED \\({cid(1)}\\)"):
        run(OmsState(open_orders=(filled,)), 1, wanted=frozenset())


def test_a_state_holding_one_order_twice_is_refused() -> None:
    waiting = SimOrder(cid(1), "AAATRY", BUY, D("100"), D("1"), at(0), "c0", OrderStatus.PLANNED)
    with pytest.raises(ValueError, match=f"OMS state holds open order {cid(1)} twice"):
        run(OmsState(open_orders=(waiting, replace(waiting, seq=1))), 1)


def test_fills_are_simulated_fills() -> None:
    assert all(isinstance(f, SimulatedFill) for f in run(OmsState(), 0, [intent(1)]).fills)
