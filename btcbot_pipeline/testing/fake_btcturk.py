"""A fake BTCTurk on 127.0.0.1, for tests and demos (``btcbot fake-btcturk --port N``).

It speaks the real wire format: REST under ``/api/v2`` (public) and ``/api/v1`` (private,
signature verified with the documented recipe), the graph API's ``/v1/klines/history``
(UDF object) and ``/v1/ohlcs`` (bare array), the ``{success, message, code, data}``
envelope, and documented 429 bodies with ``Retry-After`` when a per-endpoint quota is used up.
Both hosts are served from one port: point ``BTCTURK_BASE_URL`` and
``BTCTURK_GRAPH_BASE_URL`` at the same ``http://127.0.0.1:N``.

The market it serves is a :class:`FakeMarket` (:mod:`.fake_market`): by default the recorded
payloads in ``payloads/`` (real 2022 captures), and tests set their own numbers with
:meth:`FakeMarket.set_symbol`. In trading mode (``FakeMarket.trading()``, ``FakeMarket.demo()``)
the private endpoints are an account's orders, fills and balances (:mod:`.fake_orders`, wire
format :mod:`.fake_private`), and ``POST /_fake/market`` ``{"symbol", "bid", "ask", "size"}``
moves a pair's top of book (:meth:`FakeMarket.move`: resting orders fill). Faults are queued
per path with :meth:`FakeBtcturk.inject` or ``POST /_fake/faults``
``{"path": "/api/v2/orderbook", "kind": "503", "times": 1}``:

==================  ========================================================================
``429``             429 + ``Retry-After`` + the documented ``TOO_MANY_REQUESTS`` body
``500`` / ``503``   5xx with an error envelope
``timeout``         holds the response ``delay_s`` seconds (longer than the client timeout)
``malformed``       200 with a truncated JSON body
``empty_book``      the order book has no levels
``crossed_book``    best bid above best ask
``drop_symbol``     ``symbol`` disappears from ticker, exchangeinfo, book and klines (until cleared)
``down``            the connection is closed without a response (exchange unreachable)
``drip``            the normal response, its body sent one byte every ``delay_s`` seconds (1 s)
``oversize``        200 with a body of ``size_bytes`` (100 MiB by default), chunked, no
                    ``Content-Length``: generated as it is sent, never held whole
``accept_drop``     the request is served (a submit or cancel takes effect), then the
                    connection is closed without a response
``accept_500``      the request is served (takes effect), then a 500 error envelope is returned
==================  ========================================================================

A ``429`` (or any fault answered before routing) on ``POST /api/v1/order`` never reaches the
engine: nothing is accepted.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from btcbot_pipeline.adapters.btcturk.schemas import encode_json as dumps
from btcbot_pipeline.adapters.btcturk.signing import signature
from btcbot_pipeline.domain import utc
from btcbot_pipeline.testing import fake_private
from btcbot_pipeline.testing.fake_market import FakeMarket, SymbolState, load_payload

FAKE_API_KEY = "fake-key"
FAKE_API_SECRET = "ZmFrZS1zZWNyZXQtYnl0ZXM="  # base64 of b"fake-secret-bytes"
FAULT_KINDS = (
    "429",
    "500",
    "503",
    "timeout",
    "malformed",
    "empty_book",
    "crossed_book",
    "drop_symbol",
    "down",
    "drip",
    "oversize",
    "accept_drop",
    "accept_500",
)
OVERSIZE_BYTES = 100 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass
class Fault:
    kind: str
    path: str
    times: int = 1
    retry_after: int = 1
    delay_s: float = 1.0
    symbol: str | None = None
    size_bytes: int = OVERSIZE_BYTES


@dataclass(frozen=True)
class Streamed:
    """A reply sent piece by piece: ``chunks`` with ``pause_s`` between them, declared with
    ``Content-Length`` (``length``) or sent chunked (``length=None``)."""

    status: int
    chunks: Iterator[bytes]
    length: int | None
    pause_s: float = 0.0


def oversize(size_bytes: int) -> Iterator[bytes]:
    """``size_bytes`` of an unterminated JSON array, one shared 64 KiB chunk at a time."""
    yield b'{"success":true,"message":null,"code":0,"data":['
    chunk = b"0," * (_CHUNK // 2)
    for _ in range(size_bytes // len(chunk)):
        yield chunk


@dataclass
class FakeLimits:
    """Per-endpoint quotas the fake enforces: path → (limit, period seconds)."""

    quotas: dict[str, tuple[int, float]] = field(
        default_factory=lambda: {
            "/api/v2/ticker": (600, 60.0),
            "/api/v2/orderbook": (180, 60.0),
            "/api/v2/trades": (90, 60.0),
            "/api/v1/users/balances": (120, 60.0),
            "/api/v1/openorders": (300, 60.0),
            "/api/v1/allorders": (300, 60.0),
            "/api/v1/users/transactions/trade": (120, 60.0),
            "/v1/ohlcs": (120, 60.0),
            "/v1/klines/history": (600, 600.0),
        }
    )
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def hit(self, path: str, now: float) -> int | None:
        """Count a call; the seconds to wait if the quota is used up, else ``None``."""
        spec = self.quotas.get(path)
        if spec is None:
            return None
        limit, period = spec
        start, count = self.windows.get(path, (now, 0))
        if now - start >= period:
            start, count = now, 0
        if count >= limit:
            return max(1, int(start + period - now + 0.999))
        self.windows[path] = (start, count + 1)
        return None


class FakeBtcturk:
    """The server. ``start()`` binds 127.0.0.1 on ``port`` (0 = ephemeral); ``url`` is its base."""

    def __init__(
        self,
        market: FakeMarket | None = None,
        *,
        port: int = 0,
        api_key: str = FAKE_API_KEY,
        api_secret: str = FAKE_API_SECRET,
        limits: FakeLimits | None = None,
        clock_offset_ms: int = 0,
    ) -> None:
        self.market = market or FakeMarket()
        self.market.server_clock = lambda: int(self.now() * 1000)
        # The exchange's clock minus this machine's (a skewed exchange, for `btcbot health`):
        # applied to server/time, live data stamps and the X-Stamp check alike.
        self.clock_offset_ms = clock_offset_ms
        self.api_key, self.api_secret = api_key, api_secret
        self.limits = limits or FakeLimits()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self._lock = threading.Lock()
        # Set by stop(): a streamed reply still being sent ends at its next piece.
        self.stopped = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """The exchange's clock, Unix seconds."""
        return time.time() + self.clock_offset_ms / 1000

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeBtcturk:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-btcturk", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBtcturk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(
        self,
        path: str,
        kind: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        delay_s: float = 1.0,
        symbol: str | None = None,
        size_bytes: int = OVERSIZE_BYTES,
    ) -> None:
        """Queue ``kind`` for the next ``times`` requests to ``path`` (``*`` = any path)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.append(Fault(kind, path.lower(), times, retry_after, delay_s, symbol, size_bytes))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def count(self, path: str) -> int:
        return sum(1 for _, p in self.requests if p == path.lower())

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in (path, "*") and fault.times != 0 and fault.kind != "drop_symbol":
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def _dropped(self) -> set[str]:
        with self._lock:
            return {f.symbol for f in self.faults if f.kind == "drop_symbol" and f.symbol and f.times != 0}

    # --- routing -------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes] | Streamed | None:
        split = urlsplit(raw_path)
        path = split.path.rstrip("/").lower()
        query = {k: v for k, v in parse_qs(split.query).items()}
        with self._lock:
            self.requests.append((method, path))
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        fault = self._take_fault(path)
        if fault is not None:
            if fault.kind == "down":
                return None
            if fault.kind == "timeout":
                time.sleep(fault.delay_s)
            elif fault.kind == "429":
                return self._too_many(fault.retry_after, 120)
            elif fault.kind in ("500", "503"):
                return self._server_error(int(fault.kind))
            elif fault.kind == "malformed":
                return 200, {}, b'{"success":true,"message":null,"code":0,"data":{"timestamp":16438'
            elif fault.kind == "oversize":
                return Streamed(200, oversize(fault.size_bytes), None)
        wait = self.limits.hit(path, time.monotonic())
        if wait is not None:
            limit, period = self.limits.quotas[path]
            return self._too_many(wait, limit, f"{int(period // 60)}m" if period >= 60 else f"{int(period)}s")
        if path.startswith("/api/v1/"):
            problem = self._check_signature(headers)
            if problem is not None:
                return 401, {}, dumps({"success": True, "message": problem, "code": 1037})
        try:
            status, extra, payload = self._route(method, path, query, body, fault)
        except _NotFound:
            return 404, {}, dumps({"success": False, "message": "NOT_FOUND", "code": 404})
        return self._served(fault, (status, extra, payload))

    def _served(
        self, fault: Fault | None, reply: tuple[int, dict[str, str], bytes]
    ) -> tuple[int, dict[str, str], bytes] | Streamed | None:
        """A served request's reply, as a fault that acts after serving changes it."""
        kind = fault.kind if fault is not None else None
        if kind == "accept_drop":
            return None  # served, then the connection closes: the client never hears the outcome
        if kind == "accept_500":
            return self._server_error(500)
        if fault is not None and kind == "drip":
            status, payload = reply[0], reply[2]
            return Streamed(
                status, (payload[i : i + 1] for i in range(len(payload))), len(payload), pause_s=fault.delay_s
            )
        return reply

    def _server_error(self, status: int) -> tuple[int, dict[str, str], bytes]:
        name = "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE"
        return status, {}, dumps({"success": False, "message": name, "code": status})

    def _too_many(self, wait: int, limit: int, period: str = "1m") -> tuple[int, dict[str, str], bytes]:
        body = {
            "message": "TOO_MANY_REQUESTS",
            "success": False,
            "code": 429,
            "details": f"Quota exceeded. Maximum allowed: {limit} per {period}. Please try again in {wait} second(s).",
            "limit": str(limit),
            "period": period,
            "policy": "ip",
        }
        return 429, {"Retry-After": str(wait)}, dumps(body)

    def _check_signature(self, headers: Any) -> str | None:
        key, stamp, sig = headers.get("X-PCK"), headers.get("X-Stamp"), headers.get("X-Signature")
        if key != self.api_key or not stamp or not sig:
            return "Unauthorized - Invalid Request"
        if not stamp.isdigit() or abs(int(stamp) - int(self.now() * 1000)) > 5000:
            return "Unauthorized - Invalid Nonce"
        if sig != signature(self.api_key, self.api_secret, stamp):
            return "Unauthorized - Invalid Request"
        return None

    def _ok(self, data: Any, message: str | None = None) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, dumps({"data": data, "success": True, "message": message, "code": 0})

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, fault: Fault | None
    ) -> tuple[int, dict[str, str], bytes]:
        m, dropped = self.market, self._dropped()
        arg = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        with m.lock:
            if method == "GET" and path == "/api/v2/server/exchangeinfo":
                info = copy.deepcopy(m.exchange_info)
                info["symbols"] = [e for e in info["symbols"] if e["name"] not in dropped]
                return self._ok(info)
            if method == "GET" and path == "/api/v2/ticker":
                pair = (arg("pairSymbol") or "").replace("_", "").upper()
                rows = [st.ticker for sym, st in m.symbols.items() if sym not in dropped and (not pair or sym == pair)]
                if m.live:
                    rows = [{**row, "timestamp": int(self.now() * 1000)} for row in rows]
                return self._ok(rows)
            if method == "GET" and path == "/api/v2/orderbook":
                pair = (arg("pairSymbol") or "").replace("_", "").upper()
                if pair not in m.symbols or pair in dropped:
                    return 400, {}, dumps({"success": False, "message": "PAIR_NOT_FOUND", "code": 400})
                book = copy.deepcopy(m.symbols[pair].book)
                if m.live:
                    book["timestamp"] = Decimal(int(self.now() * 1000))
                limit = int(arg("limit") or 100)
                book["bids"], book["asks"] = book["bids"][:limit], book["asks"][:limit]
                if fault is not None and fault.kind == "empty_book":
                    book["bids"], book["asks"] = [], []
                if fault is not None and fault.kind == "crossed_book" and book["bids"] and book["asks"]:
                    book["bids"][0], book["asks"][0] = (
                        [book["asks"][0][0], book["bids"][0][1]],
                        [book["bids"][0][0], book["asks"][0][1]],
                    )
                return self._ok(book)
            if method == "GET" and path == "/api/v2/server/time":
                now = self.now()
                return (
                    200,
                    {},
                    dumps(
                        {
                            "serverTime": int(now * 1000),
                            "serverTime2": utc.iso(datetime.fromtimestamp(now, tz=timezone.utc)),
                        }
                    ),
                )
            if method == "GET" and path == "/api/v2/trades":
                return self._ok(m.trades)
            if method == "GET" and path == "/v1/klines/history":
                return self._klines(arg, dropped)
            if method == "GET" and path == "/v1/ohlcs":
                return 200, {}, dumps(m.ohlc)
            account = self._account(method, path, arg, query, body)
            if account is not None:
                return account
        raise _NotFound

    def _klines(self, arg: Callable[[str], str | None], dropped: set[str]) -> tuple[int, dict[str, str], bytes]:
        m = self.market
        sym = (arg("symbol") or "").replace("_", "").upper()
        start, end = int(arg("from") or 0), int(arg("to") or 0)
        served = sym in m.symbols and sym not in dropped
        source = (
            (m.live_candles(sym, start, min(end, int(self.now()) - 60)) if m.live else m.symbols[sym].candles)
            if served
            else []
        )
        bars = [b for b in source if start <= b[0] <= end]
        if not bars:
            return 200, {}, dumps({"s": "no_data"})
        cols = list(zip(*bars))
        return (
            200,
            {},
            dumps(
                {
                    "s": "ok",
                    "t": list(cols[0]),
                    "o": list(cols[1]),
                    "h": list(cols[2]),
                    "l": list(cols[3]),
                    "c": list(cols[4]),
                    "v": list(cols[5]),
                }
            ),
        )

    def _account(
        self, method: str, path: str, arg: Callable[[str], str | None], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The private (signed) endpoints; ``None``: not one of them."""
        m = self.market
        if m.orders is not None:
            return fake_private.serve(m.orders, method, path, query, body)
        if method == "GET" and path == "/api/v1/users/balances":
            return self._ok(m.balances)
        if method == "GET" and path == "/api/v1/openorders":
            return self._ok(m.open_orders)
        if method == "GET" and path == "/api/v1/allorders":
            return self._ok(m.all_orders)
        if method == "GET" and path == "/api/v1/users/transactions/trade":
            return self._ok(m.user_trades, "SUCCESS")
        if method == "POST" and path == "/api/v1/order":
            return self._ok(m.submit_response, "OK")
        if method == "DELETE" and path == "/api/v1/order":
            if not arg("id"):
                return 400, {}, dumps({"success": False, "message": "NO_ORDER_MATCHES_YOUR_REQUEST", "code": 400})
            return 200, {}, dumps({"success": True, "message": "SUCCESS", "code": 0})
        return None

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path == "/_fake/faults":
            spec = json.loads(body or b"{}")
            try:
                self.inject(
                    spec["path"],
                    str(spec["kind"]),
                    times=int(spec.get("times", 1)),
                    retry_after=int(spec.get("retry_after", 1)),
                    delay_s=float(spec.get("delay_s", 1.0)),
                    symbol=spec.get("symbol"),
                    size_bytes=int(spec.get("size_bytes", OVERSIZE_BYTES)),
                )
            except (KeyError, ValueError) as exc:
                return 400, {}, dumps({"success": False, "message": f"bad fault: {exc}", "code": 400})
            return 200, {}, dumps({"success": True, "message": "OK", "code": 0})
        if method == "POST" and path == "/_fake/market":
            return self._move(body)
        if method == "DELETE" and path == "/_fake/faults":
            self.clear_faults()
            return 200, {}, dumps({"success": True, "message": "OK", "code": 0})
        return 404, {}, dumps({"success": False, "message": "NOT_FOUND", "code": 404})

    def _move(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """``POST /_fake/market`` ``{"symbol", "bid", "ask", "size"}``: :meth:`FakeMarket.move`."""
        try:
            spec = json.loads(body or b"{}")
            fills = self.market.move(
                str(spec["symbol"]).replace("_", "").upper(),
                bid=Decimal(str(spec["bid"])),
                ask=Decimal(str(spec["ask"])),
                size=Decimal(str(spec.get("size", "1"))),
            )
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            return 400, {}, dumps({"success": False, "message": f"bad move: {exc!r}", "code": 400})
        return 200, {}, dumps({"success": True, "message": "OK", "code": 0, "data": {"fills": len(fills)}})


class _NotFound(Exception):
    pass


__all__ = [
    "FAKE_API_KEY",
    "FAKE_API_SECRET",
    "FAULT_KINDS",
    "FakeBtcturk",
    "FakeLimits",
    "FakeMarket",
    "Fault",
    "Streamed",
    "SymbolState",
    "load_payload",
    "oversize",
]


def _handler(fake: FakeBtcturk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            result = fake.handle(self.command, self.path, self.headers, body)
            if isinstance(result, Streamed):
                self._stream(result)
                return
            if result is None:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            status, headers, payload = result
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _stream(self, reply: Streamed) -> None:
            chunked = reply.length is None
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header(
                    *(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(reply.length)))
                )
                self.end_headers()
                self.wfile.flush()
                for piece in reply.chunks:
                    # Framing written apart: a 64 KiB piece is sent as it is, never copied.
                    self.wfile.write(b"%x\r\n" % len(piece) if chunked else b"")
                    self.wfile.write(piece)
                    self.wfile.write(b"\r\n" if chunked else b"")
                    self.wfile.flush()
                    if fake.stopped.wait(reply.pause_s):  # stop() ends a drip without waiting it out
                        self.close_connection = True
                        return
                self.wfile.write(b"0\r\n\r\n" if chunked else b"")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up: what these faults are for

        do_GET = do_POST = do_DELETE = _serve

    return Handler
