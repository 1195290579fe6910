"""One HTTP call with a deadline and a body cap: :func:`read_bounded`.

httpx's timeouts are per operation (connect, each read, each write), so a server that
sends one byte a second never trips one, and ``response.read()`` keeps whatever size it is
sent. Every outbound call of the bot (BTCTurk reads, the alert webhook) goes through
:func:`read_bounded` instead, which streams the response and ends the call:

- at the **deadline** (connect + send + headers + the whole body, across all reads): each
  operation's timeout is at most the deadline, the elapsed time is checked after every
  chunk, and a watchdog shuts the connection's socket down when the deadline passes, so a
  call that is stalled inside a read ends then too;
- at the **size cap**: a ``Content-Length`` above it is refused before the body is read,
  and the body is counted as it arrives (after content decoding: what would be parsed),
  so at most the cap plus one chunk is ever held.

Errors (neither carries the URL: the webhook's URL is a secret, callers add what they may)::

    ResponseLimitError
    ├── DeadlineExceeded   "deadline of 5 s exceeded"
    └── BodyTooLarge       "response larger than 65536 bytes"

Interrupts (``KeyboardInterrupt``, Dagster's ``DagsterExecutionInterruptedError``, both
``BaseException``) are never caught here: they close the response and propagate.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from btcbot_pipeline.errors import BtcbotError

Clock = Callable[[], float]


class ResponseLimitError(BtcbotError):
    """A call broke one of its :class:`ReadLimits`."""


class DeadlineExceeded(ResponseLimitError):
    """The call was not over (response read to its end) within ``deadline_s``."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        super().__init__(f"deadline of {deadline_s:g} s exceeded")


class BodyTooLarge(ResponseLimitError):
    """The body is larger than ``max_bytes`` (``declared``: its ``Content-Length``, if it said so)."""

    def __init__(self, max_bytes: int, declared: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.declared = declared
        said = f" (Content-Length {declared})" if declared is not None else ""
        super().__init__(f"response larger than {max_bytes} bytes{said}")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How long one call may take and how much it may read.

    Attributes:
        deadline_s: seconds from the start of the call to the last byte of the body (> 0).
        max_body_bytes: the largest body accepted, bytes after content decoding (≥ 0).
        timeout_s: the per-operation timeout (connect, each read or write); capped at
            ``deadline_s``.
    """

    deadline_s: float
    max_body_bytes: int
    timeout_s: float

    def __post_init__(self) -> None:
        if not self.deadline_s > 0:
            raise ValueError(f"'deadline_s' must be > 0, was {self.deadline_s}")
        if self.max_body_bytes < 0:
            raise ValueError(f"'max_body_bytes' must be >= 0, was {self.max_body_bytes}")


@dataclass(frozen=True, slots=True)
class BoundedResponse:
    """A response read in full within its limits (``content`` decoded as httpx decodes it)."""

    status_code: int
    reason_phrase: str
    url: str
    headers: httpx.Headers
    content: bytes


class _Watchdog:
    """Shuts the call's socket down at the deadline, which makes a read blocked in it return.

    The socket is known from the ``trace`` extension when the call opens a connection, and
    from the response's ``network_stream`` once the headers are in (a pooled connection).
    Before either, the per-operation timeouts (≤ the deadline) bound the call.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._stream: Any = None
        self._over = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore's trace events: "connection.connect_tcp.complete" / "connection.start_tls.complete"
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is not None:
            with self._lock:
                self._stream = stream

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        """The call is over: the socket (back in the pool, maybe) is no longer the watchdog's."""
        with self._lock:
            self._over = True
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.fired = True
            sock = self._stream.get_extra_info("socket") if self._stream is not None else None
            if isinstance(sock, socket.socket):
                try:
                    # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would
                    # drop the SSL object the reading thread is using.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


def read_bounded(
    client: httpx.Client, method: str, url: str, limits: ReadLimits, *, clock: Clock = time.monotonic, **request: Any
) -> BoundedResponse:
    """Send one request and read its whole response within ``limits``.

    Args:
        client: the httpx client (its pool, transport and default headers are used).
        method, url: what to call; ``request``: ``params``, ``json``, ``content``, ``headers``.
        limits: the deadline, the body cap and the per-operation timeout.
        clock: monotonic seconds (tests).

    Returns:
        The status, headers and body, whatever the status.

    Raises:
        DeadlineExceeded: the response was not read to its end within ``limits.deadline_s``.
        BodyTooLarge: the body (declared or counted) is over ``limits.max_body_bytes``.
        httpx.TransportError: any other transport failure before the deadline (connect
            error, a read timeout, the peer closing the connection).
    """
    start = clock()
    step = min(limits.timeout_s, limits.deadline_s)
    watchdog = _Watchdog(limits.deadline_s)
    built = client.build_request(
        method, url, timeout=httpx.Timeout(step), extensions={"trace": watchdog.trace}, **request
    )

    def late() -> bool:
        return watchdog.fired or clock() - start >= limits.deadline_s

    watchdog.start()
    try:
        response = client.send(built, stream=True)
        try:
            watchdog.watch(response.extensions.get("network_stream"))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limits.max_body_bytes:
                raise BodyTooLarge(limits.max_body_bytes, int(declared))
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise BodyTooLarge(limits.max_body_bytes)
                if clock() - start > limits.deadline_s:
                    raise DeadlineExceeded(limits.deadline_s)
                chunks.append(chunk)
            if clock() - start > limits.deadline_s:  # headers (and an empty body) after the deadline
                raise DeadlineExceeded(limits.deadline_s)
            return BoundedResponse(
                response.status_code,
                response.reason_phrase,
                str(response.request.url),
                response.headers,
                b"".join(chunks),
            )
        finally:
            watchdog.stop()  # before the connection goes back to the pool
            response.close()
    except ResponseLimitError:
        raise
    except Exception:
        # Whatever a cut socket surfaces as (the peer "closed" the connection, a read
        # error, a read timeout at the deadline), it is the deadline.
        if late():
            raise DeadlineExceeded(limits.deadline_s) from None
        raise
    finally:
        watchdog.stop()
