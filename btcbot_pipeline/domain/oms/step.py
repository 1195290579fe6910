"""The simulated OMS (seed Stage 7 ``oms_service``): one pure step per cycle.

:func:`step` takes the open orders carried from the previous cycle (:class:`OmsState`) and
this cycle's PLANNED intents and returns an :class:`OmsStep`: the new state, this cycle's
fills, events, touched orders and idempotency rows. It first reconciles open orders
(expire, cancel, retry, fill), then submits the intents in the plan's order (idempotency,
token bucket, seeded failures and rejects, fill). The result depends only on its
arguments: times are the cycle's, draws are seeded hashes; no I/O, no clock. Prices,
volume caps and the sign of ``slippage_try`` are the fill models'
(:mod:`~btcbot_pipeline.domain.oms.exchange`). The exact rules: ``docs/oms.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, Mapping

from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ONE, ZERO, bps_factor, canonical
from btcbot_pipeline.domain.oms.caps import cap_refusal
from btcbot_pipeline.domain.oms.exchange import (
    REJECT_REASONS,
    TRANSIENT_ERRORS,
    Bar,
    TokenBucket,
    draw,
    match,
    pick,
)
from btcbot_pipeline.domain.oms.orders import (
    OmsEvent,
    OmsEventType,
    OrderStatus,
    SimOrder,
    advance,
)
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.vocabulary import Side

E = OmsEventType
NEW, DUPLICATE, CONFLICT = "NEW", "DUPLICATE_IGNORED", "IDEMPOTENCY_CONFLICT"


@dataclass(frozen=True, slots=True)
class OmsState:
    """What the OMS carries from one cycle to the next."""

    open_orders: tuple[SimOrder, ...] = ()
    bucket: TokenBucket | None = None
    keys: Mapping[str, str] = field(default_factory=dict)  # idempotency key → payload hash (open orders)
    # Live venue only (absent from a simulated state's payload): per symbol, the exchange
    # time (Unix ms) of the newest user trade read, and the ids of the fills recorded within
    # FILLS_POLL_LOOKBACK_MINUTES before it (a trade read again is not recorded twice).
    cursors: Mapping[str, int] = field(default_factory=dict)
    recent_fill_ids: tuple[str, ...] = ()

    def reserved_cash_try(self, fees_bps: Decimal) -> Decimal:
        """Cash the open BUYs may still spend: Σ remaining qty × limit × (1 + fee rate).

        An upper bound for the limit model (a BUY never pays above its limit). The seed
        model fills a deferred BUY at its later mark × (1 + slippage), which can exceed it.
        """
        fee = bps_factor(fees_bps)
        with localcontext(MONEY_CONTEXT):
            return sum(
                (o.remaining_qty * o.price_try * (ONE + fee) for o in self.open_orders if o.side is Side.BUY),
                ZERO,
            )

    def reserved_qty(self, symbol: str) -> Decimal:
        """Quantity of ``symbol`` the open SELLs may still sell."""
        with localcontext(MONEY_CONTEXT):
            return sum((o.remaining_qty for o in self.open_orders if o.side is Side.SELL and o.symbol == symbol), ZERO)


@dataclass(frozen=True, slots=True)
class OmsStep:
    state: OmsState
    fills: tuple[SimulatedFill, ...]
    events: tuple[OmsEvent, ...]
    orders: tuple[SimOrder, ...]
    keys: tuple[tuple[str, str, str], ...]  # (key, payload hash, NEW | DUPLICATE_IGNORED | IDEMPOTENCY_CONFLICT)


def payload_hash(intent: OrderIntent) -> str:
    """sha256 of the intent's order payload: ``symbol|side|price|qty``."""
    price = canonical(intent.price_try) if intent.price_try is not None else ""
    qty = canonical(intent.qty) if intent.qty is not None else ""
    return hashlib.sha256(f"{intent.symbol}|{intent.side.value}|{price}|{qty}".encode()).hexdigest()


def order_of(intent: OrderIntent, cycle_id: str, cycle_ts: datetime, digest: str) -> SimOrder:
    """The PLANNED order an intent becomes in ``cycle_id`` (a missing price or quantity as 0:
    refused before it is sent)."""
    return SimOrder(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        price_try=intent.price_try if intent.price_try is not None else ZERO,
        qty=intent.qty if intent.qty is not None else ZERO,
        placed_ts=cycle_ts,
        placed_cycle_id=cycle_id,
        status=OrderStatus.PLANNED,
        intent_hash=digest,
    )


def step(
    state: OmsState,
    *,
    cycle_id: str,
    cycle_ts: datetime,
    intents: Sequence[OrderIntent],
    bars: Mapping[str, Bar],
    wanted: Collection[tuple[str, Side]],
    params: OmsParams,
    allow_buys: bool = True,
    cancel_ids: Collection[str] = (),
    frozen: bool = False,
    cancel_reasons: Mapping[str, str] | None = None,
) -> OmsStep:
    """One cycle of the OMS (see the module docstring). ``frozen`` (the kill switch):
    resting orders may fill, nothing is sent, cancelled or expired."""
    run = _Run(state, cycle_id=cycle_id, cycle_ts=cycle_ts, bars=bars, params=params, allow_buys=allow_buys)
    run.cancel_reasons = cancel_reasons or {}
    wanted_set, cancel_set = frozenset(wanted), frozenset(cancel_ids)
    for order in sorted(state.open_orders, key=lambda o: o.client_order_id):
        if not frozen:
            run.reconcile(order, wanted_set, cancel_set)
        elif order.status is not OrderStatus.PLANNED:  # resting on the exchange: the market may still fill it
            run.fill_resting(order)
    if frozen:
        return run.result()
    todo = [i for i in intents if i.status is IntentStatus.PLANNED and (allow_buys or i.side is not Side.BUY)]
    for intent in todo:  # in the plan's order: SELLs first, so their proceeds come before the BUYs
        run.submit_intent(intent)
    return run.result()


class _Run:
    """The working memory of one :func:`step` (never escapes it)."""

    def __init__(
        self,
        state: OmsState,
        *,
        cycle_id: str,
        cycle_ts: datetime,
        bars: Mapping[str, Bar],
        params: OmsParams,
        allow_buys: bool,
    ) -> None:
        self.cycle_id, self.cycle_ts, self.bars, self.params = cycle_id, cycle_ts, bars, params
        self.allow_buys = allow_buys
        self.cancel_reasons: Mapping[str, str] = {}
        self.bucket = state.bucket
        self.keys: dict[str, str] = dict(state.keys)
        self.orders: dict[str, SimOrder] = {}
        for order in state.open_orders:
            if order.client_order_id in self.orders:
                raise ValueError(f"OMS state holds open order {order.client_order_id} twice")
            self.orders[order.client_order_id] = order
            self.keys.setdefault(submit_key(order.client_order_id), order.intent_hash)
        self.events: list[OmsEvent] = []
        self.fills: list[SimulatedFill] = []
        self.key_rows: list[tuple[str, str, str]] = []

    # -- recording ---------------------------------------------------------------------

    def _record(self, order: SimOrder, event_type: OmsEventType, reason: str | None = None, **changes: Any) -> SimOrder:
        order, event = advance(
            order, event_type, cycle_id=self.cycle_id, cycle_ts=self.cycle_ts, reason=reason, **changes
        )
        self.events.append(event)
        self.orders[order.client_order_id] = order
        return order

    # -- 1. reconcile ------------------------------------------------------------------

    def reconcile(self, order: SimOrder, wanted: frozenset[tuple[str, Side]], cancel: frozenset[str]) -> None:
        if self.cycle_ts - order.placed_ts >= timedelta(seconds=self.params.order_ttl_s):
            self._record(order, E.EXPIRED, "ttl_expired")
        elif order.client_order_id in cancel:
            self._record(order, E.CANCELED, self.cancel_reasons.get(order.client_order_id, "replaced"))
        elif (order.symbol, order.side) not in wanted:
            self._record(order, E.CANCELED, "plan_dropped")
        elif order.status is OrderStatus.PLANNED:
            due = order.next_attempt_ts is None or order.next_attempt_ts <= self.cycle_ts
            if due and (self.allow_buys or order.side is not Side.BUY):
                self._attempt(order, mark_hint=None)
        else:
            self._fill(order, placing=False, mark_hint=None)

    def fill_resting(self, order: SimOrder) -> None:
        self._fill(order, placing=False, mark_hint=None)

    # -- 2. submit ---------------------------------------------------------------------

    def submit_intent(self, intent: OrderIntent) -> None:
        cid, digest = intent.client_order_id, payload_hash(intent)
        key = submit_key(cid)
        held = self.keys.get(key)
        if held is not None:
            outcome = DUPLICATE if held == digest else CONFLICT
            self.key_rows.append((key, digest, outcome))
            holder = self.orders.get(cid)
            if holder is not None and outcome == DUPLICATE:
                self._record(holder, E.DUPLICATE_IGNORED, f"{key} already sent with this payload")
            elif holder is not None:
                self._record(holder, E.IDEMPOTENCY_CONFLICT, f"{key} holds payload {held[:12]}, refused {digest[:12]}")
            return
        refusal = cap_refusal(self.orders.values(), intent.symbol, self.params)
        if refusal is None:
            self.keys[key] = digest
            self.key_rows.append((key, digest, NEW))
        order = order_of(intent, self.cycle_id, self.cycle_ts, digest)
        self.orders[cid] = order
        if refusal is not None:  # a cap on resting orders: never sent, its key never taken
            self._record(order, E.REJECTED, refusal)
            return
        if order.price_try <= ZERO or order.qty <= ZERO:
            self._record(order, E.REJECTED, "invalid_price_or_qty")
            return
        self._attempt(order, mark_hint=intent.mark_price_try)

    def _attempt(self, order: SimOrder, *, mark_hint: Decimal | None) -> None:
        p = self.params
        bucket = self.bucket if self.bucket is not None else TokenBucket.full(p.rate_limit_burst)
        self.bucket, taken = bucket.take(self.cycle_ts, rps=p.rate_limit_rps, burst=p.rate_limit_burst)
        if not taken:
            self._record(order, E.THROTTLED, "rate_limited", next_attempt_ts=None)
            return
        # the attempt's count is set in the copy its first event makes
        attempt = order.attempts + 1
        cid = order.client_order_id
        if p.transient_failure_rate > ZERO and draw(p.seed, cid, attempt, "transient") < p.transient_failure_rate:
            error = pick(TRANSIENT_ERRORS, draw(p.seed, cid, attempt, "transient_error"))
            if attempt < p.retry_max_attempts:
                delay_ms = p.retry_base_delay_ms * 2 ** (attempt - 1)
                retry_at = self.cycle_ts + timedelta(milliseconds=delay_ms)
                reason = f"{error} on attempt {attempt}, retry in {delay_ms} ms"
                self._record(order, E.RETRY_SCHEDULED, reason, attempts=attempt, next_attempt_ts=retry_at)
            else:
                reason = f"{error} on attempt {attempt} of {p.retry_max_attempts}"
                order = self._record(order, E.RETRY_GIVEUP, reason, attempts=attempt, next_attempt_ts=None)
                self._record(order, E.REJECTED, "retry_budget_exhausted")
            return
        order = self._record(order, E.SUBMITTED, attempts=attempt, next_attempt_ts=None)
        if p.reject_rate > ZERO and draw(p.seed, cid, attempt, "reject") < p.reject_rate:
            self._record(order, E.REJECTED, pick(REJECT_REASONS, draw(p.seed, cid, attempt, "reject_reason")))
            return
        order = self._record(order, E.ACKED)
        self._fill(order, placing=True, mark_hint=mark_hint)

    # -- fills -------------------------------------------------------------------------

    def _fill(self, order: SimOrder, *, placing: bool, mark_hint: Decimal | None) -> None:
        m = match(order, self.bars.get(order.symbol), params=self.params, placing=placing, mark_hint=mark_hint)
        if m is None:
            self.orders[order.client_order_id] = order
            return
        fee_rate = bps_factor(self.params.fees_bps)
        with localcontext(MONEY_CONTEXT):
            notional = m.fill_price_try * m.qty
            fee = notional * fee_rate
            self.fills.append(
                SimulatedFill(
                    fill_id=f"s7:{self.cycle_id}:{order.client_order_id}",
                    cycle_id=self.cycle_id,
                    cycle_ts=self.cycle_ts,
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=order.side,
                    qty=m.qty,
                    mark_price_try=m.mark_price_try,
                    fill_price_try=m.fill_price_try,
                    notional_try=notional,
                    fee_try=fee,
                    slippage_try=m.slippage_try,
                )
            )
            filled = order.filled_qty + m.qty
            amounts = {
                "filled_qty": filled,
                "filled_notional_try": order.filled_notional_try + notional,
                "fees_try": order.fees_try + fee,
                "slippage_try": order.slippage_try + m.slippage_try,
            }
        self._record(order, E.FILLED if order.qty - filled == ZERO else E.PARTIALLY_FILLED, **amounts)

    # -- result ------------------------------------------------------------------------

    def result(self) -> OmsStep:
        return step_result(self.orders, self.keys, self.events, self.fills, self.key_rows, OmsState(bucket=self.bucket))


def step_result(
    orders: Mapping[str, SimOrder],
    keys: Mapping[str, str],
    events: Sequence[OmsEvent],
    fills: Sequence[SimulatedFill],
    key_rows: Sequence[tuple[str, str, str]],
    carried: OmsState,
) -> OmsStep:
    """A venue's answer from its working memory: every touched order (by id), the open ones
    carried on with the idempotency keys that are still theirs, and ``carried``'s other
    fields (the token bucket, a live venue's cursors) as they are."""
    touched = tuple(sorted(orders.values(), key=lambda o: o.client_order_id))
    still_open = tuple(o for o in touched if o.is_open)
    open_keys = {submit_key(o.client_order_id) for o in still_open}
    kept = {k: keys[k] for k in sorted(keys) if k in open_keys}
    return OmsStep(
        state=replace(carried, open_orders=still_open, keys=kept),
        fills=tuple(fills),
        events=tuple(events),
        orders=touched,
        keys=tuple(key_rows),
    )


def submit_key(client_order_id: str) -> str:
    """The idempotency key of an order's submission."""
    return f"submit:{client_order_id}"
