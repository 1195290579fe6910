"""The private endpoints of the fake BTCTurk in trading mode: :class:`~.fake_orders.OrderEngine`
in BTCTurk's wire format (btcturk-api.md §3.2–3.8). The signature is checked before this is
reached (``fake_btcturk``); numbers go out as strings, ids and times as integers (ms).

=================================================  ===============================================
``GET /api/v1/users/balances``                     ``asset, assetname, balance, locked, free,
                                                   orderFund, requestFund, precision``
``GET /api/v1/openOrders[?pairSymbol=]``           ``{asks: [sells], bids: [buys]}``, oldest first
``GET /api/v1/allOrders?pairSymbol=[&startTime=``  orders created in the window (ms, inclusive),
``&endTime=&orderId=&limit=]``                     oldest first, the newest ``limit`` (100, ≤ 1000)
``GET /api/v1/order/{id}``                         one order; unknown: 400 ``Order not found`` 1152
``GET /api/v1/users/transactions/trade``           fills oldest first; ``type`` and ``symbol``
``[?type=&symbol=&pairSymbol=&startDate=``         repeatable; ``startDate`` defaults to 30 days
``&endDate=&orderId=]``                            before now, ``endDate`` to none
``POST /api/v1/order``                             submit (JSON or form body; the query string wins)
``DELETE /api/v1/order?id=N``                      cancel; ``{"success":true,"message":"SUCCESS"}``
=================================================  ===============================================

Business rejects are 400 ``{"success": false, "message": NAME, "code": CODE, "data": null}``.
A fill row is the documented one plus ``orderClientId``; with fees charged in the base asset it
also has ``feeSymbol`` (the fake's invention, BTCTurk documents none): ``fee``/``tax`` are then
in that asset's units. A submit without ``newOrderClientId`` gets a GUID made from the order id.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from btcbot_pipeline.adapters.btcturk.schemas import encode_json as dumps
from btcbot_pipeline.testing.fake_orders import FakeOrder, FakeTrade, OrderEngine, OrderRejected

Reply = tuple[int, dict[str, str], bytes]
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000
ASSET_NAMES = {"TRY": "Türk Lirası", "BTC": "Bitcoin", "USDT": "Tether", "ETH": "Ethereum"}


def _s(value: Decimal) -> str:
    return format(value, "f")


def _neg(value: Decimal) -> str:
    """A charge as BTCTurk writes it: negative (``"0"`` when none, never ``"-0"``)."""
    return _s(-value) if value else _s(abs(value))


def order_row(order: FakeOrder) -> dict[str, Any]:
    """An order as open orders, all orders and ``/order/{id}`` show it."""
    pair = order.pair
    return {
        "id": order.id,
        "price": _s(order.price),
        "amount": _s(order.quantity),
        "quantity": _s(order.quantity),
        "stopPrice": "0",
        "pairSymbol": pair.symbol,
        "pairSymbolNormalized": f"{pair.numerator}_{pair.denominator}",
        "type": order.side,
        "method": "limit",
        "orderClientId": order.client_id,
        "time": order.time_ms,
        "updateTime": order.update_ms,
        "status": order.status,
        "leftAmount": _s(order.left),
    }


def submitted_row(order: FakeOrder) -> dict[str, Any]:
    """The ``data`` of an accepted submit (current shape: lower-case enums, ``stopPrice`` null)."""
    pair = order.pair
    return {
        "id": order.id,
        "datetime": order.time_ms,
        "type": order.side,
        "method": "limit",
        "price": _s(order.price),
        "stopPrice": None,
        "quantity": _s(order.quantity),
        "pairSymbol": pair.symbol,
        "pairSymbolNormalized": f"{pair.numerator}_{pair.denominator}",
        "newOrderClientId": order.client_id,
    }


def trade_row(trade: FakeTrade) -> dict[str, Any]:
    """A fill: ``amount`` negative for sells, ``fee``/``tax`` negative charges."""
    row = {
        "price": _s(trade.price),
        "numeratorSymbol": trade.numerator,
        "denominatorSymbol": trade.denominator,
        "orderType": trade.side,
        "orderId": trade.order_id,
        "id": trade.id,
        "timestamp": trade.timestamp_ms,
        "amount": _s(trade.amount if trade.side == "buy" else -trade.amount),
        "fee": _neg(trade.fee),
        "tax": _neg(trade.tax),
        "orderClientId": trade.client_id,
    }
    if trade.fee_asset != trade.denominator:
        row["feeSymbol"] = trade.fee_asset
    return row


def balance_rows(engine: OrderEngine) -> list[dict[str, Any]]:
    locked = engine.locked()
    rows = []
    for asset in [*engine.balances, *(a for a in locked if a not in engine.balances)]:
        total, held = engine.balances.get(asset, Decimal(0)), locked.get(asset, Decimal(0))
        rows.append(
            {
                "asset": asset,
                "assetname": ASSET_NAMES.get(asset, asset),
                "balance": _s(total),
                "locked": _s(held),
                "free": _s(total - held),
                "orderFund": "0",
                "requestFund": "0",
                "precision": 2 if asset == "TRY" else 8,
            }
        )
    return rows


def _ok(data: Any, message: str | None = None) -> Reply:
    return 200, {}, dumps({"data": data, "success": True, "message": message, "code": 0})


def _rejected(name: str, code: int) -> Reply:
    return 400, {}, dumps({"success": False, "message": name, "code": code, "data": None})


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise OrderRejected("FAILED_ORDER_PARAMETER") from None


def _pair(value: str | None) -> str | None:
    return value.replace("_", "").upper() if value else None


def _fields(query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
    """A write's parameters: the JSON (or form) body, the query string over it; keys lower-cased."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    fields = {str(k).lower(): v for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    fields.update({k.lower(): v[0] for k, v in query.items() if v})
    return fields


def serve(engine: OrderEngine, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply | None:
    """Answer a private request (``path`` lower-cased); ``None``: not a private endpoint."""
    q = {k.lower(): v for k, v in query.items()}
    arg = lambda name: (q.get(name) or [None])[0]  # noqa: E731
    try:
        if method == "GET":
            return _read(engine, path, q, arg)
        if method == "POST" and path == "/api/v1/order":
            f = _fields(query, body)
            order = engine.submit(
                pair=str(f.get("pairsymbol") or ""),
                side=str(f.get("ordertype") or ""),
                method=str(f.get("ordermethod") or ""),
                quantity=f.get("quantity"),
                price=f.get("price"),
                client_id=str(f["neworderclientid"]) if f.get("neworderclientid") not in (None, "") else None,
            )
            return _ok(submitted_row(order), "OK")
        if method == "DELETE" and path == "/api/v1/order":
            try:
                order_id = _int(str(_fields(query, body).get("id") or ""))
            except OrderRejected:
                order_id = None
            if order_id is None:
                raise OrderRejected("NO_ORDER_MATCHES_YOUR_REQUEST")
            engine.cancel(order_id)
            return 200, {}, dumps({"success": True, "message": "SUCCESS", "code": 0})
    except OrderRejected as exc:
        return _rejected(exc.name, exc.code)
    return None


def _read(engine: OrderEngine, path: str, q: dict[str, list[str]], arg: Any) -> Reply | None:
    if path == "/api/v1/users/balances":
        return _ok(balance_rows(engine))
    if path == "/api/v1/openorders":
        rows = engine.open_orders(_pair(arg("pairsymbol")))
        return _ok(
            {
                "asks": [order_row(o) for o in rows if o.side == "sell"],
                "bids": [order_row(o) for o in rows if o.side == "buy"],
            }
        )
    if path == "/api/v1/allorders":
        limit = min(max(_int(arg("limit")) or 100, 1), 1000)
        rows = engine.all_orders(
            _pair(arg("pairsymbol")),
            start_ms=_int(arg("starttime")),
            end_ms=_int(arg("endtime")),
            from_id=_int(arg("orderid")),
            limit=limit,
        )
        return _ok([order_row(o) for o in rows])
    if path == "/api/v1/users/transactions/trade":
        start = _int(arg("startdate"))
        trades = engine.user_trades(
            sides=q.get("type") or ("buy", "sell"),
            symbol=_pair(arg("pairsymbol")),
            assets=q.get("symbol") or (),
            start_ms=start if start is not None else engine.market.now_ms() - THIRTY_DAYS_MS,
            end_ms=_int(arg("enddate")),
            order_id=_int(arg("orderid")),
        )
        return _ok([trade_row(t) for t in trades], "SUCCESS")
    if path.startswith("/api/v1/order/"):
        order = engine.orders.get(_int(path.rsplit("/", 1)[1]) or 0)
        if order is None:
            return _rejected("Order not found", 1152)
        return _ok(order_row(order))
    return None
