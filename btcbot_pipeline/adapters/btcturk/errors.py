"""Errors of the BTCTurk adapter.

::

    BtcturkError
    ├── TransportError          no HTTP response (connect error, timeout)        retryable
    ├── CircuitOpenError        the breaker refuses calls for a while            not retried
    ├── MalformedResponseError  the body is not the JSON/shape we expect         retryable (public reads)
    └── ApiError                an HTTP response that is an error (status, code, message)
        ├── ClientError         4xx
        │   ├── AuthError       401: key, signature, stamp, IP or permission
        │   ├── RateLimitError  429: carries ``retry_after`` seconds             retryable after the wait
        │   └── OrderRejectedError  a business reject of a private write, by ``message`` name
        └── ServerError         5xx (503: maintenance or stale order book)       retryable

Errors are matched by the ``message`` name (``FAILED_MIN_TOTAL_AMOUNT``), never by the numeric
``code``, which BTCTurk renumbered on 2024-05-06. No error text ever holds a credential: the
signature travels in headers, which are never put into a message.
"""

from __future__ import annotations

from btcbot_pipeline.errors import BtcbotError


class BtcturkError(BtcbotError):
    """Base of every adapter error."""


class TransportError(BtcturkError):
    """No response: connection refused/reset, DNS, or a timeout."""


class CircuitOpenError(BtcturkError):
    """The circuit breaker for this endpoint group is open; nothing was sent."""


class MalformedResponseError(BtcturkError):
    """The response body is not valid JSON or does not have the documented shape."""


class ApiError(BtcturkError):
    """An HTTP error response, described httpx-style.

    Attributes:
        status: HTTP status code.
        code: the envelope's business ``code`` (int) if present.
        name: the envelope's ``message`` (the error name, e.g. ``FAILED_MIN_TOTAL_AMOUNT``).
        url: the request URL (query included; never holds credentials).
    """

    kind = "API error"

    def __init__(self, status: int, reason: str, url: str, *, code: int | None = None, name: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.url = url
        self.code = code
        self.name = name
        detail = f" ({name})" if name else ""
        super().__init__(f"{self.kind} '{status} {reason}' for url '{url}'{detail}")


class ClientError(ApiError):
    kind = "Client error"


class AuthError(ClientError):
    kind = "Auth error"


class RateLimitError(ClientError):
    kind = "Rate limited"

    def __init__(self, status: int, reason: str, url: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(status, reason, url, **kw)  # type: ignore[arg-type]


class OrderRejectedError(ClientError):
    kind = "Rejected"


class ServerError(ApiError):
    kind = "Server error"


def should_retry(error: BtcturkError) -> bool:
    """Whether a *read* may be retried after ``error`` (private writes are never retried)."""
    return isinstance(error, TransportError | ServerError | RateLimitError | MalformedResponseError)
