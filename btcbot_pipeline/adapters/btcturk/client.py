"""Sync httpx clients of the BTCTurk REST and graph APIs.

Three types, so that what the pipeline can do is decided by the type it holds:
:class:`BtcturkPublicClient` (public market data, no credentials), :class:`BtcturkReadClient`
(plus private reads; the richest type the pipeline ever builds) and
:class:`BtcturkTradingClient` (submit and cancel; built only with an explicit
:class:`LiveArming`, never by a pipeline module, its writes never retried). Every request
goes rate limiter → circuit breaker → httpx within a deadline and a body cap → envelope →
error by ``message`` name (:mod:`.errors`, plus :class:`DeadlineExceededError`, retryable,
and :class:`ResponseTooLargeError`, not retried). Reads retry on timeouts, 5xx, 429 and
malformed bodies; :meth:`BtcturkPublicClient.time_budget` bounds a caller's calls by one
deadline. ``BaseException`` interrupts are never caught. More: ``docs/data.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import httpx

from btcbot_pipeline.adapters.bounded import (
    BodyTooLarge,
    BoundedResponse,
    DeadlineExceeded,
    ReadLimits,
    read_bounded,
)
from btcbot_pipeline.adapters.btcturk import schemas as s
from btcbot_pipeline.adapters.btcturk.errors import (
    ApiError,
    AuthError,
    BtcturkError,
    CircuitOpenError,
    ClientError,
    MalformedResponseError,
    OrderRejectedError,
    RateLimitError,
    ServerError,
    TransportError,
    should_retry,
)
from btcbot_pipeline.adapters.btcturk.limits import (
    GRAPH_HOST_KEY,
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    endpoint_key,
)
from btcbot_pipeline.adapters.btcturk.signing import Credentials
from btcbot_pipeline.adapters.tls import shared_tls

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_SUCCESS_NAMES = {None, "", "success", "ok"}
# The defaults of BTCTURK_CALL_DEADLINE_SEC and BTCTURK_MAX_BODY_BYTES (see settings/exchange.py).
DEFAULT_CALL_DEADLINE_S = 20.0
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class DeadlineExceededError(TransportError):
    """A call did not end within its deadline (``BTCTURK_CALL_DEADLINE_SEC``) or, with
    ``budget=True``, within the time left of :meth:`BtcturkPublicClient.time_budget`
    (then it may not have been sent at all)."""

    def __init__(self, message: str, *, budget: bool = False) -> None:
        self.budget = budget
        super().__init__(message)


class ResponseTooLargeError(BtcturkError):
    """The response body is over ``BTCTURK_MAX_BODY_BYTES`` (declared or counted); it was
    not read further nor parsed."""


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to call: base URLs (``BTCTURK_BASE_URL`` / ``BTCTURK_GRAPH_BASE_URL``),
    per-operation timeout, each call's deadline and body cap, retry policy and breaker thresholds."""

    base_url: str = "https://api.btcturk.com"
    graph_base_url: str = "https://graph-api.btcturk.com"
    timeout_s: float = 10.0
    retry: RetryPolicy | None = None
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    call_deadline_s: float = DEFAULT_CALL_DEADLINE_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


class _Http:
    """The shared request path; holds no credentials itself."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.retry = config.retry or RetryPolicy()
        self.sleep = sleep
        self.local_ms = clock_ms
        self.monotonic = monotonic
        self.clock_offset_ms = 0
        # The time budget in force: (its length in seconds, the monotonic time it ends).
        self.budget: tuple[float, float] | None = None
        self.limiter = limiter or RateLimiter(sleep=sleep)
        self.breakers = {
            host: CircuitBreaker(failure_threshold=config.breaker_failures, reset_after_s=config.breaker_reset_s)
            for host in ("rest", "graph")
        }
        self.client = httpx.Client(
            timeout=httpx.Timeout(config.timeout_s),
            transport=transport,
            headers={"Accept": "application/json"},
            verify=shared_tls(),
        )

    def close(self) -> None:
        self.client.close()

    def clock_ms(self) -> int:
        """The ``X-Stamp``: local Unix ms corrected by the measured server offset."""
        return self.local_ms() + self.clock_offset_ms

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str = "rest",
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: dict[str, Any] | None = None,
        credentials: Credentials | None = None,
        retry: bool = True,
        envelope: bool = True,
    ) -> Any:
        base = self.config.base_url if host == "rest" else self.config.graph_base_url
        url = base.rstrip("/") + path
        breaker = self.breakers[host]
        attempts = self.retry.max_attempts if retry else 1
        # Only BtcturkError is caught: an interrupt (BaseException) leaves the loop at once,
        # so no further attempt starts after one.
        for attempt in range(1, attempts + 1):
            if not breaker.allow():
                raise CircuitOpenError(
                    f"circuit open for {host} API after repeated failures; not calling {method} {path}"
                )
            self._check_budget(method, path)
            self.limiter.acquire(endpoint_key(method, path))
            if host == "graph":
                self.limiter.acquire(GRAPH_HOST_KEY)
            try:
                result = self._once(method, url, params, json_body, credentials, envelope)
            except BtcturkError as exc:
                # A business reject or auth problem says nothing about the exchange's health.
                if isinstance(
                    exc, ServerError | TransportError | MalformedResponseError | RateLimitError | ResponseTooLargeError
                ):
                    breaker.record_failure()
                if attempt >= attempts or not should_retry(exc):
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
                delay = self.retry.delay(attempt, retry_after)
                if self.budget is not None and self.monotonic() + delay >= self.budget[1]:
                    raise  # the budget ends before the next attempt could start
                self.sleep(delay)
                continue
            breaker.record_success()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_budget(self, method: str, path: str) -> None:
        if self.budget is not None and self.monotonic() >= self.budget[1]:
            raise DeadlineExceededError(
                f"cycle deadline of {self.budget[0]:g} s spent; not calling {method} {path}", budget=True
            )

    def _limits(self) -> tuple[ReadLimits, bool]:
        """This call's limits, and whether its deadline is the budget's time left."""
        deadline, by_budget = self.config.call_deadline_s, False
        if self.budget is not None and self.budget[1] - self.monotonic() < deadline:
            deadline, by_budget = max(self.budget[1] - self.monotonic(), 0.001), True
        return ReadLimits(deadline, self.config.max_body_bytes, self.config.timeout_s), by_budget

    def _once(self, method, url, params, json_body, credentials, envelope) -> Any:  # type: ignore[no-untyped-def]
        headers = credentials.headers(self.clock_ms()) if credentials is not None else None
        limits, by_budget = self._limits()
        try:
            response = read_bounded(
                self.client, method, url, limits, clock=self.monotonic, params=params, json=json_body, headers=headers
            )
        except DeadlineExceeded as exc:
            if by_budget and self.budget is not None:
                raise DeadlineExceededError(
                    f"cycle deadline of {self.budget[0]:g} s exceeded for url '{_clean(url)}'", budget=True
                ) from None
            raise DeadlineExceededError(f"{exc} for url '{_clean(url)}'") from None
        except BodyTooLarge as exc:
            raise ResponseTooLargeError(f"{exc} for url '{_clean(url)}'") from None
        except httpx.DecodingError:  # a body whose Content-Encoding does not decode
            raise MalformedResponseError(f"response body cannot be decoded for url '{_clean(url)}'") from None
        except httpx.TimeoutException as exc:
            raise TransportError(f"timeout ({type(exc).__name__}) for url '{_clean(url)}'") from None
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__} for url '{_clean(url)}'") from None
        return _decode(response, envelope=envelope)


def _clean(url: str) -> str:
    return str(httpx.URL(url).copy_with(query=None))


def _small_code(code: object) -> bool:
    """An error code that reads as an int (a hostile 1e999999999 would not: int() of it never ends)."""
    if isinstance(code, bool):
        return False
    if isinstance(code, int):
        return abs(code) < 10**18
    if isinstance(code, Decimal):
        return code.is_finite() and code.adjusted() < 18
    return isinstance(code, str) and code.isascii() and code.isdigit() and len(code) < 18


def _decode(response: BoundedResponse, *, envelope: bool) -> Any:
    status, reason, url = response.status_code, response.reason_phrase, response.url
    try:
        body = s.decode_json(response.content) if response.content else None
    except MalformedResponseError:
        if status >= 500:
            raise ServerError(status, reason, url) from None
        if status >= 400:
            raise _client_error(status, reason, url, None, None, response) from None
        raise MalformedResponseError(f"response is not valid JSON for url '{url}' (HTTP {status})") from None
    fields = {k.lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
    name = fields.get("message") if isinstance(fields.get("message"), str) else None
    code = fields.get("code")
    code = int(code) if _small_code(code) else None
    if status >= 500:
        raise ServerError(status, reason, url, code=code, name=name)
    if status >= 400:
        raise _client_error(status, reason, url, code, name, response)
    if not envelope or body is None:
        return body  # graph API (no envelope), or an empty 2xx body (seen on DELETE)
    if not isinstance(body, dict) or ("success" not in fields and "data" not in fields):
        raise MalformedResponseError(f"response has no BTCTurk envelope for url '{url}'")
    # Auth failures have been seen with success=true and a 401: the status decides first,
    # then success=false, then an error-looking message.
    if fields.get("success") is False:
        raise OrderRejectedError(status, reason, url, code=code, name=name)
    return fields.get("data")


def _client_error(status, reason, url, code, name, response) -> ClientError:  # type: ignore[no-untyped-def]
    if status == 429:
        header = response.headers.get("Retry-After") or response.headers.get("X-Retry-After")
        try:
            retry_after = float(header) if header is not None else None
        except ValueError:
            retry_after = None
        return RateLimitError(status, reason, url, retry_after=retry_after, code=code, name=name)
    if status == 401:
        return AuthError(status, reason, url, code=code, name=name)
    if name and name.isupper():
        return OrderRejectedError(status, reason, url, code=code, name=name)
    return ClientError(status, reason, url, code=code, name=name)


class BtcturkPublicClient:
    """Public market data. ``close()`` (or ``with``) releases the connection pool."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = _Http(config or ClientConfig(), transport=transport, limiter=limiter, sleep=sleep)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def base_urls(self) -> tuple[str, str]:
        return self._http.config.base_url, self._http.config.graph_base_url

    @property
    def breaker_states(self) -> dict[str, str]:
        return {host: b.state for host, b in self._http.breakers.items()}

    @contextmanager
    def time_budget(self, seconds: float | None) -> Iterator[None]:
        """Every call inside ends within ``seconds`` from now, retries and their waits
        included: a call's deadline is cut to the time left, and a call once it is spent
        raises :class:`DeadlineExceededError` (``budget=True``) unsent. ``None``: no budget."""
        if seconds is None:
            yield
            return
        outer = self._http.budget
        self._http.budget = (seconds, self._http.monotonic() + seconds)
        try:
            yield
        finally:
            self._http.budget = outer

    def server_time_ms(self) -> int:
        """``serverTime`` of ``/api/v2/server/time``: the exchange's clock, Unix ms."""
        body = self._http.request("GET", "/api/v2/server/time", envelope=False)
        fields = {k.lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
        if isinstance(fields.get("data"), dict):  # with or without the envelope
            fields = {k.lower(): v for k, v in fields["data"].items()}
        server = fields.get("servertime")
        if not isinstance(server, int | Decimal):
            raise MalformedResponseError("server/time: no serverTime")
        return int(server)

    def exchange_info(self) -> Any:
        """The ``data`` object of ``/api/v2/server/exchangeinfo`` (decoded, Decimal numbers);
        turn it into rules with ``adapters.replay.exchangeinfo.parse_exchange_info``."""
        data = self._http.request("GET", "/api/v2/server/exchangeinfo")
        if not isinstance(data, dict):
            raise MalformedResponseError("exchangeinfo: data is not an object")
        return data

    def tickers(self, pair_symbol: str | None = None) -> list[s.Ticker]:
        params = {"pairSymbol": pair_symbol} if pair_symbol else None
        data = self._http.request("GET", "/api/v2/ticker", params=params)
        rows = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
        if rows is None:
            raise MalformedResponseError("ticker: data is not a list")
        # One unreadable row (a new pair with an odd field) must not hide the others.
        parsed = []
        for row in rows:
            try:
                parsed.append(s.parse(s.Ticker, row, what="ticker"))
            except MalformedResponseError:
                continue
        if rows and not parsed:
            raise MalformedResponseError(f"ticker: none of the {len(rows)} rows could be read")
        return parsed

    def order_book(self, pair_symbol: str, *, limit: int = 25) -> s.OrderBook:
        data = self._http.request("GET", "/api/v2/orderbook", params={"pairSymbol": pair_symbol, "limit": limit})
        return s.parse(s.OrderBook, data, what="orderbook")

    def trades(self, pair_symbol: str, *, last: int = 50) -> list[s.Trade]:
        data = self._http.request("GET", "/api/v2/trades", params={"pairSymbol": pair_symbol, "last": last})
        return s.parse(s.Trade, data if isinstance(data, list) else [], what="trades")

    def klines(self, symbol: str, *, resolution_min: int, start_s: int, end_s: int) -> list[s.Candle]:
        """Intraday candles (``t`` = bar open, seconds) from graph-api ``/v1/klines/history``."""
        body = self._http.request(
            "GET",
            "/v1/klines/history",
            host="graph",
            envelope=False,
            params={"symbol": symbol, "resolution": resolution_min, "from": start_s, "to": end_s},
        )
        return s.parse(s.KlineHistory, body, what="klines").candles()

    def ohlcs(self, pair: str, *, start_s: int, end_s: int) -> list[s.Ohlc]:
        """Daily bars from graph-api ``/v1/ohlcs`` (a bare array, no envelope)."""
        body = self._http.request(
            "GET", "/v1/ohlcs", host="graph", envelope=False, params={"pair": pair, "from": start_s, "to": end_s}
        )
        if not isinstance(body, list):
            raise MalformedResponseError("ohlcs: body is not a list")
        return s.parse(s.Ohlc, body, what="ohlcs")


class BtcturkReadClient(BtcturkPublicClient):
    """Public data plus private *reads*. Has no submit or cancel: holding this type cannot trade."""

    def __init__(self, credentials: Credentials, config: ClientConfig | None = None, **kw: Any) -> None:
        super().__init__(config, **kw)
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"BtcturkReadClient(base_url={self._http.config.base_url!r}, credentials=**********)"

    def _private(self, path: str, params: Any = None) -> Any:
        try:
            return self._http.request("GET", path, params=params, credentials=self._credentials)
        except AuthError as exc:
            # The stamp must be within ±5 s of the server's clock: on "Invalid Nonce", measure
            # the offset once from /api/v2/server/time and retry this read once.
            if "nonce" not in (exc.name or "").lower() or self._http.clock_offset_ms:
                raise
            self.sync_clock()
            return self._http.request("GET", path, params=params, credentials=self._credentials)

    def sync_clock(self) -> int:
        """Set the stamp offset to server time − local time (ms) and return it."""
        self._http.clock_offset_ms = self.server_time_ms() - self._http.local_ms()
        return self._http.clock_offset_ms

    def balances(self) -> list[s.Balance]:
        return s.parse(s.Balance, self._private("/api/v1/users/balances") or [], what="balances")

    def open_orders(self, pair_symbol: str | None = None) -> s.OpenOrders:
        data = self._private("/api/v1/openOrders", {"pairSymbol": pair_symbol} if pair_symbol else None)
        return s.parse(s.OpenOrders, data or {}, what="openOrders")

    def all_orders(
        self, pair_symbol: str, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[s.Order]:
        params: dict[str, Any] = {"pairSymbol": pair_symbol, "limit": limit}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        return s.parse(s.Order, self._private("/api/v1/allOrders", params) or [], what="allOrders")

    def user_trades(
        self, *, pair_symbol: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[s.UserTrade]:
        params: list[tuple[str, Any]] = [("type", "buy"), ("type", "sell")]
        if pair_symbol:
            params.append(("pairSymbol", pair_symbol))
        if start_ms is not None:
            params.append(("startDate", start_ms))
        if end_ms is not None:
            params.append(("endDate", end_ms))
        return s.parse(s.UserTrade, self._private("/api/v1/users/transactions/trade", params) or [], what="user trades")


LIVE_ACK = "I_UNDERSTAND"


class LiveArmingError(BtcturkError):
    """The trading client was asked for without every live gate open."""


@dataclass(frozen=True)
class LiveArming:
    """Proof that the operator armed live trading: DRY_RUN=false, KILL_SWITCH=false,
    LIVE_TRADING=true and LIVE_TRADING_ACK=I_UNDERSTAND. :meth:`check` raises otherwise."""

    dry_run: bool
    kill_switch: bool
    live_trading: bool
    ack: str | None

    def closed(self) -> list[str]:
        """The gates that are closed, by variable name (empty: armed)."""
        return [
            name
            for name, bad in (
                ("DRY_RUN", self.dry_run),
                ("KILL_SWITCH", self.kill_switch),
                ("LIVE_TRADING", not self.live_trading),
                ("LIVE_TRADING_ACK", self.ack != LIVE_ACK),
            )
            if bad
        ]

    def block_reasons(self) -> tuple[str, ...]:
        """The seeds' block reasons for a live action now: ``KILL_SWITCH``, ``DRY_RUN``,
        ``LIVE_NOT_ARMED`` (LIVE_TRADING or its acknowledgement missing); empty: allowed."""
        reasons = []
        if self.kill_switch:
            reasons.append("KILL_SWITCH")
        if self.dry_run:
            reasons.append("DRY_RUN")
        if not self.live_trading or self.ack != LIVE_ACK:
            reasons.append("LIVE_NOT_ARMED")
        return tuple(reasons)

    def check(self) -> None:
        closed = self.closed()
        if closed:
            raise LiveArmingError(f"live trading is not armed: {', '.join(closed)} gate(s) closed")


class BtcturkTradingClient(BtcturkReadClient):
    """Submit and cancel. Never built by the pipeline; each write is sent exactly once."""

    def __init__(
        self, credentials: Credentials, arming: LiveArming, config: ClientConfig | None = None, **kw: Any
    ) -> None:
        arming.check()
        super().__init__(credentials, config, **kw)

    def submit_limit_order(
        self, *, pair_symbol: str, side: str, quantity: Decimal, price: Decimal, client_order_id: str
    ) -> s.SubmittedOrder:
        body = {
            "quantity": format(quantity, "f"),
            "price": format(price, "f"),
            "orderMethod": "limit",
            "orderType": side.lower(),
            "pairSymbol": pair_symbol,
            "newOrderClientId": client_order_id,
        }
        data = self._http.request("POST", "/api/v1/order", json_body=body, credentials=self._credentials, retry=False)
        return s.parse(s.SubmittedOrder, data, what="submit")

    def cancel_order(self, order_id: int) -> None:
        """``DELETE /api/v1/order?id=…`` (asynchronous on the exchange since 2024-04-01)."""
        self._http.request(
            "DELETE", "/api/v1/order", params={"id": order_id}, credentials=self._credentials, retry=False
        )


__all__ = [
    "ApiError",
    "BtcturkPublicClient",
    "BtcturkReadClient",
    "BtcturkTradingClient",
    "ClientConfig",
    "DeadlineExceededError",
    "LiveArming",
    "LiveArmingError",
    "ResponseTooLargeError",
]
