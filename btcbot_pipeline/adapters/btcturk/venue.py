"""The BTCTurk venue: the cycle's execution stage against the real exchange (the seeds' Stage 4).

:class:`BtcturkVenue` answers :meth:`execute` with the same :class:`~btcbot_pipeline.domain.oms.OmsStep`
the simulation gives, so the ledger, trace, book and gates do not know which venue ran. One
cycle, in order:

1. **Reconcile** the open orders the book carries with the exchange's (``openOrders``): an
   order still open gets its exchange id (``AUDIT exchange_id:<id>``); one gone from the
   exchange is looked up in the day's ``allOrders`` (cancelled there: ``CANCELED
   canceled_on_exchange``; filled: its trades close it below; nowhere: ``CANCELED
   unknown_closed``). Open orders the book does not know are imported: ours (the bot's
   ``s7:`` client id, e.g. a submit whose record was lost in a crash) as ``adopted:<id>``,
   anyone else's as ``external`` (``no_client_id`` without a client id); external orders
   are never cancelled by the bot.
2. **Cancel** what the plan no longer wants (TTL, replaced, dropped), unless frozen.
3. **Submit** the cycle's intents, unless frozen: caps (``MAX_OPEN_ORDERS``,
   ``MAX_OPEN_ORDERS_PER_SYMBOL``, ``MAX_POSITION_NOTIONAL_TRY``, the canary's
   ``LIVE_CANARY_NOTIONAL_TRY`` per cycle), then **exactly once**: the client order id is
   looked up on the exchange (open orders, then all orders of the day) and a known one is
   adopted, never resent. An answer that does not say whether the order exists (a dropped
   connection, a 5xx) is answered by the same lookup; still unknown, the order waits for a
   retry, which looks it up again first.
4. **Fills** from the user trades of every symbol involved, read from each symbol's cursor
   less ``FILLS_POLL_LOOKBACK_MINUTES``; a fill's id is the exchange's trade id, else a
   deterministic composite of order id, time, price and amount (never the client order
   id); a trade already recorded is skipped by id. Fees in TRY enter the ledger; a fee in
   another asset is recorded as ``AUDIT fee_not_try:<asset>:<amount>`` and left out (the
   seeds' minimal mode).

Every submit and cancel asks ``gates()`` at that moment (the four gates re-read, so a
kill switch flipped between two actions of one cycle blocks the second): a refused submit
is ``REJECTED blocked:<reason>``, a refused cancel ``BLOCKED blocked:<reason>`` (the order
stays). ``frozen`` (the kill switch when the cycle started) places and cancels nothing.
Writes go through a :class:`BtcturkTradingClient` built only at the moment of a write,
from those gates. Errors of one order never end the cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from btcbot_pipeline.adapters.btcturk import schemas as s
from btcbot_pipeline.adapters.btcturk.client import BtcturkReadClient, BtcturkTradingClient, LiveArming
from btcbot_pipeline.adapters.btcturk.errors import (
    BtcturkError,
    OrderRejectedError,
    RateLimitError,
)
from btcbot_pipeline.adapters.btcturk.venue_fills import fill_id_of, ingest, ms
from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.oms import OmsEvent, OmsEventType, OmsState, OmsStep, OrderStatus, SimOrder, payload_hash
from btcbot_pipeline.domain.oms.caps import cap_refusal
from btcbot_pipeline.domain.oms.orders import advance
from btcbot_pipeline.domain.oms.step import order_of, step_result, submit_key
from btcbot_pipeline.domain.oms.venue import ExecutionRequest
from btcbot_pipeline.domain.vocabulary import Side

E = OmsEventType
OUR_PREFIX = "s7:"  # the bot's client order ids (domain.intents.client_order_id)
CANARY = "cap:LIVE_CANARY_NOTIONAL_TRY"
POSITION_CAP = "cap:MAX_POSITION_NOTIONAL_TRY"
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class LiveLimits:
    """What bounds a live cycle besides the OMS caps: ``canary_notional_try`` (TRY a cycle
    may submit in all), ``max_position_notional_try`` (a symbol's position plus its open
    BUYs after a BUY), ``lookback_minutes`` (fills read again behind each cursor)."""

    canary_notional_try: Decimal | None = None
    max_position_notional_try: Decimal | None = None
    lookback_minutes: int = 60
    quote: str = "TRY"


class BtcturkVenue:
    """The live venue (see the module docstring). ``reader``: private reads; ``writer``:
    builds the trading client for one write from the gates just read; ``gates``: the four
    gates as they are now."""

    name = "btcturk"

    def __init__(
        self,
        reader: BtcturkReadClient,
        writer: Callable[[LiveArming], BtcturkTradingClient],
        gates: Callable[[], LiveArming],
        limits: LiveLimits = LiveLimits(),
    ) -> None:
        self.reader, self.writer, self.gates, self.limits = reader, writer, gates, limits

    def execute(self, state: OmsState, request: ExecutionRequest) -> OmsStep:
        run = _LiveRun(self, state, request)
        run.reconcile()
        if not request.frozen:
            run.cancel_unwanted()
            run.submit_all()
        run.ingest_fills()
        return run.result()


def _day_start_ms(ts: datetime) -> int:
    return ms(ts) // _DAY_MS * _DAY_MS


def _same(order: SimOrder, row: s.Order) -> bool:
    """Whether the exchange's ``row`` is ``order``: the bot's order by its client order id
    (an exchange id alone never matches another client id); an external order, or a row
    without a client id, by the exchange id."""
    if row.orderclientid and order.origin == "bot":
        return row.orderclientid == order.client_order_id
    return order.exchange_order_id is not None and row.id == order.exchange_order_id


def _side(order: s.Order) -> Side:
    return Side.SELL if (order.type or "") == "sell" else Side.BUY


class _LiveRun:
    """The working memory of one live :meth:`BtcturkVenue.execute`."""

    def __init__(self, venue: BtcturkVenue, state: OmsState, request: ExecutionRequest) -> None:
        self.venue, self.request, self.state = venue, request, state
        self.cycle_id, self.cycle_ts = request.cycle_id, request.cycle_ts
        self.orders: dict[str, SimOrder] = {o.client_order_id: o for o in state.open_orders}
        # What the plan knew of: orders found on the exchange this cycle (adopted, external)
        # are not measured against a plan that did not see them.
        self.known = frozenset(self.orders)
        self.keys: dict[str, str] = dict(state.keys)
        self.events: list[OmsEvent] = []
        self.fills: list[SimulatedFill] = []
        self.key_rows: list[tuple[str, str, str]] = []
        self.cursors: dict[str, int] = dict(state.cursors)
        self.recent: set[str] = set(state.recent_fill_ids)
        self.exchange_open: dict[int, s.Order] = {}
        self.day_orders: dict[str, list[s.Order]] = {}  # pair → the day's orders (read once)
        self.submitted_notional = ZERO

    # -- recording -------------------------------------------------------------------

    def record(self, order: SimOrder, event: OmsEventType, reason: str | None = None) -> SimOrder:
        order, ev = advance(order, event, cycle_id=self.cycle_id, cycle_ts=self.cycle_ts, reason=reason)
        self.events.append(ev)
        self.orders[order.client_order_id] = order
        return order

    def _new_order(self, cid: str, row: s.Order, origin: str) -> SimOrder:
        return SimOrder(
            client_order_id=cid,
            symbol=(row.pairsymbol or "").upper(),
            side=_side(row),
            price_try=row.price or ZERO,
            qty=row.quantity or row.amount or ZERO,
            placed_ts=self.cycle_ts,
            placed_cycle_id=self.cycle_id,
            status=OrderStatus.PLANNED,
            exchange_order_id=row.id,
            origin=origin,
        )

    def _opened(self, order: SimOrder, reason: str) -> SimOrder:
        """An order found on the exchange: PLANNED → SUBMITTED → ACKED, the first saying why."""
        order = self.record(order, E.SUBMITTED, reason)
        self._count_if_this_cycles(order)
        return self.record(order, E.ACKED)

    def _count_if_this_cycles(self, order: SimOrder) -> None:
        """An order of this cycle found already sent (a rerun) counts against the canary cap."""
        if order.client_order_id.startswith(f"{OUR_PREFIX}{self.cycle_id}:"):
            with localcontext(MONEY_CONTEXT):
                self.submitted_notional += order.price_try * order.qty

    # -- 1. reconcile ----------------------------------------------------------------

    def reconcile(self) -> None:
        book = self.venue.reader.open_orders()
        rows = sorted([*book.bids, *book.asks], key=lambda r: r.id or 0)
        self.exchange_open = {r.id: r for r in rows if r.id is not None}
        by_cid = {r.orderclientid: r for r in rows if r.orderclientid}
        for cid in sorted(self.orders):
            order = self.orders[cid]
            if order.status is OrderStatus.PLANNED:
                continue  # waiting to be sent: the submit step looks it up first
            row = by_cid.get(cid) or self.exchange_open.get(order.exchange_order_id or -1)
            if row is not None and not _same(order, row):
                row = None
            if row is not None:
                if order.exchange_order_id is None:
                    self.record(replace(order, exchange_order_id=row.id), E.AUDIT, f"exchange_id:{row.id}")
                continue
            self._gone(order)
        for row in rows:
            cid = row.orderclientid or ""
            if cid in self.orders or any(_same(o, row) for o in self.orders.values()):
                continue
            if cid.startswith(OUR_PREFIX):  # ours, its record lost (a crash after the submit)
                self._opened(self._new_order(cid, row, "bot"), f"adopted:{row.id}")
            elif cid:
                self._opened(self._new_order(f"ext:{row.id}", row, "external"), "external")
            else:
                self._opened(self._new_order(f"ext:{row.id}", row, "external"), "no_client_id")

    def _gone(self, order: SimOrder) -> None:
        """An order the book holds open that the exchange no longer lists as open."""
        row = self._find_in_day(order)
        status = (row.status or "") if row is not None else ""
        if row is None:
            self.record(order, E.CANCELED, "unknown_closed")
        elif status == "canceled":
            self.record(order, E.CANCELED, "canceled_on_exchange")
        # closed (filled): its trades close it in ingest_fills

    def _day(self, symbol: str) -> list[s.Order]:
        if symbol not in self.day_orders:
            self.day_orders[symbol] = self.venue.reader.all_orders(
                symbol, start_ms=_day_start_ms(self.cycle_ts) - _DAY_MS, limit=1000
            )
        return self.day_orders[symbol]

    def _find_in_day(self, order: SimOrder) -> s.Order | None:
        for row in self._day(order.symbol):
            if _same(order, row):
                return row
        return None

    # -- 2. cancel -------------------------------------------------------------------

    def cancel_unwanted(self) -> None:
        req, wanted, cancel = self.request, frozenset(self.request.wanted), frozenset(self.request.cancel_ids)
        for cid in sorted(self.orders):
            order = self.orders[cid]
            if order.origin != "bot" or order.status not in (OrderStatus.ACKED, OrderStatus.PARTIALLY_FILLED):
                continue
            if cid not in self.known:
                continue
            if self.cycle_ts - order.placed_ts >= timedelta(seconds=req.params.order_ttl_s):
                self._cancel(order, E.EXPIRED, "ttl_expired")
            elif cid in cancel:
                self._cancel(order, E.CANCELED, req.cancel_reasons.get(cid, "replaced"))
            elif (order.symbol, order.side) not in wanted:
                self._cancel(order, E.CANCELED, "plan_dropped")

    def _cancel(self, order: SimOrder, event: OmsEventType, reason: str) -> None:
        arming = self.venue.gates()
        blocked = arming.block_reasons()
        if blocked:
            self.record(order, E.BLOCKED, "blocked:" + ",".join(blocked))
            return
        if order.exchange_order_id is None:
            self.record(order, E.AUDIT, "cancel_without_exchange_id")
            return
        try:
            with self.venue.writer(arming) as client:
                client.cancel_order(order.exchange_order_id)
        except OrderRejectedError as exc:  # closed meanwhile: its trades or the next reconcile say how
            self.record(order, E.AUDIT, f"cancel_refused:{exc.name or exc.status}")
            return
        except BtcturkError as exc:
            self.record(order, E.AUDIT, f"cancel_failed:{type(exc).__name__}")
            return
        self.record(order, event, reason)

    # -- 3. submit -------------------------------------------------------------------

    def submit_all(self) -> None:
        req = self.request
        for cid in sorted(self.orders):  # retries due first: they were planned before this cycle's intents
            order = self.orders[cid]
            if order.status is OrderStatus.PLANNED and order.origin == "bot":
                due = order.next_attempt_ts is None or order.next_attempt_ts <= self.cycle_ts
                if due and (req.allow_buys or order.side is not Side.BUY):
                    self._attempt(order)
        for intent in req.intents:
            if intent.status is IntentStatus.PLANNED and (req.allow_buys or intent.side is not Side.BUY):
                self._submit_intent(intent)

    def _submit_intent(self, intent: OrderIntent) -> None:
        cid, digest = intent.client_order_id, payload_hash(intent)
        key = submit_key(cid)
        held = self.keys.get(key)
        if held is not None or cid in self.orders:
            holder = self.orders.get(cid)
            self.key_rows.append(
                (key, digest, "DUPLICATE_IGNORED" if held in (None, digest) else "IDEMPOTENCY_CONFLICT")
            )
            if holder is not None:
                self.record(holder, E.DUPLICATE_IGNORED, f"{key} already known")
            return
        order = order_of(intent, self.cycle_id, self.cycle_ts, digest)
        self.orders[cid] = order
        refusal = self._refusal(order)
        if refusal is not None:
            self.record(order, E.REJECTED, refusal)
            return
        self.keys[key] = digest
        self.key_rows.append((key, digest, "NEW"))
        self._attempt(order)

    def _refusal(self, order: SimOrder) -> str | None:
        if order.price_try <= ZERO or order.qty <= ZERO:
            return "invalid_price_or_qty"
        others = [o for o in self.orders.values() if o.client_order_id != order.client_order_id]
        refusal = cap_refusal(others, order.symbol, self.request.params)
        if refusal is not None:
            return refusal
        limits = self.venue.limits
        with localcontext(MONEY_CONTEXT):
            notional = order.price_try * order.qty
            if (
                limits.canary_notional_try is not None
                and self.submitted_notional + notional > limits.canary_notional_try
            ):
                return CANARY
            if order.side is Side.BUY and limits.max_position_notional_try is not None:
                bar = self.request.bars.get(order.symbol)
                mark = bar.mark_try if bar is not None else order.price_try
                held = self.request.holdings.get(order.symbol, ZERO) * mark
                resting = sum(
                    (
                        o.remaining_qty * o.price_try
                        for o in others
                        if o.is_open and o.symbol == order.symbol and o.side is Side.BUY
                    ),
                    ZERO,
                )
                if held + resting + notional > limits.max_position_notional_try:
                    return POSITION_CAP
        return None

    def _attempt(self, order: SimOrder) -> None:
        arming = self.venue.gates()
        blocked = arming.block_reasons()
        if blocked:  # never reached the exchange
            self.record(order, E.REJECTED, "blocked:" + ",".join(blocked))
            return
        try:
            known = self._lookup(order)
        except BtcturkError as exc:  # cannot prove it is not there: do not send
            self._retry_or_give_up(order, f"lookup_failed:{type(exc).__name__}")
            return
        if known is not None:
            self._adopt(order, known)
            return
        order = replace(order, attempts=order.attempts + 1, next_attempt_ts=None)
        try:
            with self.venue.writer(arming) as client:
                sent = client.submit_limit_order(
                    pair_symbol=order.symbol,
                    side=order.side.value.lower(),
                    quantity=order.qty,
                    price=order.price_try,
                    client_order_id=order.client_order_id,
                )
        except RateLimitError as exc:
            self.record(order, E.THROTTLED, f"rate_limited (retry after {exc.retry_after or '?'} s)")
            return
        except OrderRejectedError as exc:
            order = self.record(order, E.SUBMITTED)
            self.record(order, E.REJECTED, exc.name or f"HTTP {exc.status}")
            return
        except BtcturkError as exc:  # the order may or may not exist: look again, never resend blind
            try:
                known = self._lookup(order, fresh=True)
            except BtcturkError:
                known = None
            if known is not None:
                self._adopt(order, known)
            else:
                self._retry_or_give_up(order, f"outcome_unknown:{type(exc).__name__}")
            return
        order = self.record(replace(order, exchange_order_id=sent.id), E.SUBMITTED)
        self._count_if_this_cycles(order)
        self.record(order, E.ACKED)

    def _retry_or_give_up(self, order: SimOrder, why: str) -> None:
        params = self.request.params
        attempt = max(order.attempts, 1)
        if attempt < params.retry_max_attempts:
            delay_ms = params.retry_base_delay_ms * 2 ** (attempt - 1)
            order = replace(order, attempts=attempt, next_attempt_ts=self.cycle_ts + timedelta(milliseconds=delay_ms))
            self.record(order, E.RETRY_SCHEDULED, f"{why} on attempt {attempt}, looked up before any resend")
        else:
            order = self.record(order, E.RETRY_GIVEUP, f"{why} on attempt {attempt} of {params.retry_max_attempts}")
            self.record(order, E.REJECTED, "retry_budget_exhausted")

    def _lookup(self, order: SimOrder, *, fresh: bool = False) -> s.Order | None:
        """The exchange's order with this client id: open orders, then the day's orders."""
        if fresh:
            book = self.venue.reader.open_orders()
            for row in [*book.bids, *book.asks]:
                if row.id is not None:
                    self.exchange_open[row.id] = row
            self.day_orders.pop(order.symbol, None)
        for row in self.exchange_open.values():
            if row.orderclientid == order.client_order_id:
                return row
        return self._find_in_day(order)

    def _adopt(self, order: SimOrder, row: s.Order) -> None:
        order = self._opened(replace(order, exchange_order_id=row.id), f"adopted:{row.id}")
        if (row.status or "") == "canceled":
            self.record(order, E.CANCELED, "canceled_on_exchange")

    # -- 4. fills --------------------------------------------------------------------

    def ingest_fills(self) -> None:
        ingest(self)

    # -- result ----------------------------------------------------------------------

    def result(self) -> OmsStep:
        carried = replace(
            self.state, cursors=dict(sorted(self.cursors.items())), recent_fill_ids=tuple(sorted(self.recent))
        )
        return step_result(self.orders, self.keys, self.events, self.fills, self.key_rows, carried)


__all__ = ["BtcturkVenue", "LiveLimits", "fill_id_of"]
