"""Fills of a live cycle from BTCTurk's user trades (step 4 of :mod:`.venue`).

Per symbol involved (the book's orders and those touched this cycle), the trades since the
symbol's cursor less ``FILLS_POLL_LOOKBACK_MINUTES`` are read, oldest first. A trade whose
fill id is among the recent ones (kept as ``<ms>:<fill id>`` in the OMS state, for the
lookback) is skipped; a new one becomes a fill of its order (by exchange order id, else
client order id; a trade of an order never seen is the account's too: that order is
imported as ``external``). Fees are ``-(fee + tax)`` (BTCTurk sends charges negative) in
the pair's denominator; a fee in another asset is left out of the ledger and marked
``AUDIT fee_not_try:<asset>:<amount>``. Slippage is measured from the cycle's mark, signed
as the simulation's (what a BUY paid above it, a SELL gave up below it).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from decimal import localcontext
from typing import Any

from btcbot_pipeline.adapters.btcturk import schemas as s
from btcbot_pipeline.domain.fills import SimulatedFill
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO
from btcbot_pipeline.domain.oms import OmsEventType, OrderStatus, SimOrder
from btcbot_pipeline.domain.oms.orders import TERMINAL
from btcbot_pipeline.domain.vocabulary import Side

E = OmsEventType
_MINUTE_MS = 60_000


def ms(ts: datetime) -> int:
    """Unix milliseconds of ``ts``."""
    return int(ts.timestamp() * 1000)


def fill_id_of(trade: s.UserTrade) -> str:
    """The exchange's trade id, else a deterministic composite (never the client order id)."""
    if trade.id is not None:
        return str(trade.id)
    text = f"{trade.orderid}|{trade.timestamp}|{trade.price}|{trade.amount}"
    return "composite:" + hashlib.sha256(text.encode()).hexdigest()[:24]


def ingest(run: Any) -> None:
    """Record the new fills of every symbol ``run`` (the venue's ``_LiveRun``) involves
    (see the module docstring)."""
    lookback = run.venue.limits.lookback_minutes * _MINUTE_MS
    recent = {entry.split(":", 1)[1]: int(entry.split(":", 1)[0]) for entry in run.recent}
    symbols = sorted({o.symbol for o in run.orders.values() if o.symbol} | set(run.cursors))
    for symbol in symbols:
        placed = [ms(o.placed_ts) for o in run.orders.values() if o.symbol == symbol]
        start = run.cursors.get(symbol, min(placed, default=ms(run.cycle_ts))) - lookback
        trades = run.venue.reader.user_trades(pair_symbol=symbol, start_ms=start)
        for trade in sorted(trades, key=lambda t: (t.timestamp or 0, str(t.id))):
            fid = fill_id_of(trade)
            if fid in recent:
                continue
            stamp = trade.timestamp or ms(run.cycle_ts)
            recent[fid] = stamp
            run.cursors[symbol] = max(run.cursors.get(symbol, 0), stamp)
            _fill(run, symbol, trade, fid)
    floor = min(run.cursors.values(), default=0) - lookback  # what no later read can return again
    run.recent = {f"{ms}:{fid}" for fid, ms in recent.items() if ms >= floor}


def _order_of(run: Any, symbol: str, trade: s.UserTrade) -> SimOrder:
    for order in run.orders.values():
        if trade.orderid is not None and order.exchange_order_id == trade.orderid:
            return order
    if trade.orderclientid and trade.orderclientid in run.orders:
        return run.orders[trade.orderclientid]
    qty = abs(trade.amount or ZERO)
    order = SimOrder(
        client_order_id=f"ext:{trade.orderid}",
        symbol=symbol,
        side=_trade_side(trade),
        price_try=trade.price or ZERO,
        qty=qty,
        placed_ts=run.cycle_ts,
        placed_cycle_id=run.cycle_id,
        status=OrderStatus.PLANNED,
        exchange_order_id=trade.orderid,
        origin="external",
    )
    return run._opened(order, "external")


def _trade_side(trade: s.UserTrade) -> Side:
    if trade.ordertype in ("buy", "sell"):
        return Side.SELL if trade.ordertype == "sell" else Side.BUY
    return Side.SELL if (trade.amount or ZERO) < ZERO else Side.BUY


def _fill(run: Any, symbol: str, trade: s.UserTrade, fid: str) -> None:
    order = _order_of(run, symbol, trade)
    quote = run.venue.limits.quote.upper()
    fee_asset = (trade.feesymbol or trade.denominatorsymbol or quote).upper()
    bar = run.request.bars.get(symbol)
    with localcontext(MONEY_CONTEXT):
        qty = abs(trade.amount or ZERO)
        price = trade.price or ZERO
        mark = bar.mark_try if bar is not None else price
        charged = -((trade.fee or ZERO) + (trade.tax or ZERO))
        fee = charged if fee_asset == quote else ZERO
        notional = price * qty
        side = order.side
        slippage = (price - mark) * qty if side is Side.BUY else (mark - price) * qty
        if fee_asset != quote:
            order = run.record(order, E.AUDIT, f"fee_not_try:{fee_asset}:{format(charged, 'f')}")
        run.fills.append(
            SimulatedFill(
                fill_id=fid,
                cycle_id=run.cycle_id,
                cycle_ts=run.cycle_ts,
                client_order_id=order.client_order_id,
                symbol=symbol,
                side=side,
                qty=qty,
                mark_price_try=mark,
                fill_price_try=price,
                notional_try=notional,
                fee_try=fee,
                slippage_try=slippage,
            )
        )
        filled = order.filled_qty + qty
        order = replace(
            order,
            qty=max(order.qty, filled) if order.origin == "external" else order.qty,
            filled_qty=filled,
            filled_notional_try=order.filled_notional_try + notional,
            fees_try=order.fees_try + fee,
            slippage_try=order.slippage_try + slippage,
        )
    if order.status in TERMINAL:  # a fill after our cancel (BTCTurk cancels asynchronously)
        run.record(order, E.AUDIT, f"late_fill:{fid}")
    elif order.status is OrderStatus.PLANNED:
        run.record(order, E.AUDIT, f"fill_before_ack:{fid}")
    else:
        run.record(order, E.FILLED if order.remaining_qty <= ZERO else E.PARTIALLY_FILLED)


__all__ = ["fill_id_of", "ingest", "ms"]
