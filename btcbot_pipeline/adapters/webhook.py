"""POSTing alerts to a webhook (``ALERT_WEBHOOK_URL``) with httpx.

:class:`WebhookPoster` sends one JSON body per call with a short timeout and a bounded
retry: a connection error, a timeout, a POST past its deadline (``deadline_s``: connect to
the response's last byte, however slowly the receiver sends it), HTTP 429 or a 5xx is tried
again after ``backoff_s`` × 2ⁿ, at most ``attempts`` times in all; a response over
``max_body_bytes`` ends the call at once (transient: tried again at the next cycle, not
now); any other status ≥ 300 fails at once (the receiver refused it). It never raises for
a failed delivery: it returns a :class:`Delivery` that says why, so the caller records it
and tries again later. An interrupt (``KeyboardInterrupt``, Dagster's
``DagsterExecutionInterruptedError``: ``BaseException``) is never caught: it ends the POST
under way and no further attempt starts.

A webhook URL often carries its token in the path or query, so the URL is a secret: it
is never part of an error text, and httpx's own request log line (``HTTP Request: POST
<url> ...`` on the ``httpx`` logger) shows ``<ALERT_WEBHOOK_URL>`` in its place.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import httpx

from btcbot_pipeline.adapters.bounded import (
    BodyTooLarge,
    DeadlineExceeded,
    ReadLimits,
    read_bounded,
)
from btcbot_pipeline.adapters.tls import shared_tls

REDACTED = "<ALERT_WEBHOOK_URL>"
USER_AGENT = "btcbot_pipeline-alerts"
# The defaults of ALERT_WEBHOOK_DEADLINE_SEC and ALERT_WEBHOOK_MAX_BODY_BYTES (see settings/alerts.py).
DEFAULT_DEADLINE_S = 10.0
DEFAULT_MAX_BODY_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one :meth:`WebhookPoster.post`: ``attempts`` POSTs were tried;
    ``transient``: it failed reaching the receiver (connection, timeout, 429, 5xx), not
    because the receiver refused this body."""

    ok: bool
    attempts: int
    error: str | None = None
    transient: bool = False


class _RedactUrls(logging.Filter):
    """Replaces registered secret URLs in the records of the ``httpx`` logger."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and isinstance(record.args, tuple):
            record.args = tuple(REDACTED if str(a) in self.secrets else a for a in record.args)
        return True


_REDACT = _RedactUrls()
logging.getLogger("httpx").addFilter(_REDACT)


class WebhookPoster:
    """POSTs JSON bodies to one webhook URL; use as a context manager (one connection pool).

    Args:
        url: the webhook URL (a secret: never logged, never in an error text).
        timeout_s: connect/read/write timeout of one attempt (each operation).
        deadline_s: one attempt from connect to the response's last byte.
        max_body_bytes: the largest response body read.
        attempts: POSTs per body at most (≥ 1).
        backoff_s: wait before the second attempt, doubled for each further one.
        transport: an httpx transport (tests); ``sleep``: how to wait (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 3.0,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        attempts: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._limits = ReadLimits(deadline_s, max_body_bytes, timeout_s)
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._sleep = sleep
        _REDACT.secrets.add(str(httpx.URL(url)))
        self._client = httpx.Client(
            timeout=timeout_s, transport=transport, headers={"User-Agent": USER_AGENT}, verify=shared_tls()
        )

    def __enter__(self) -> WebhookPoster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    @property
    def limits(self) -> ReadLimits:
        """Each POST's deadline, response cap and per-operation timeout."""
        return self._limits

    def post(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> Delivery:
        """POST ``body`` as JSON (keys sorted); ``idempotency_key`` goes in the
        ``Idempotency-Key`` header so a receiver can drop a repeat (a retry after a timeout
        whose first attempt did arrive)."""
        content = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        error = None
        # Only Exception subclasses are caught below: an interrupt propagates from the POST
        # or the backoff sleep, and no further attempt starts.
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff_s * 2 ** (attempt - 2))
            try:
                response = read_bounded(self._client, "POST", self._url, self._limits, content=content, headers=headers)
            except DeadlineExceeded as exc:  # as a timeout: try again
                error = str(exc)
                continue
            except BodyTooLarge as exc:  # the same receiver would answer the same: not now
                return Delivery(False, attempt, str(exc), transient=True)
            except httpx.TransportError as exc:  # connect error, timeout, protocol error: try again
                error = f"{type(exc).__name__}: {self._redact(str(exc)) or 'no detail'}"
                continue
            if response.status_code < 300:
                return Delivery(True, attempt)
            error = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            if response.status_code != 429 and response.status_code < 500:
                return Delivery(False, attempt, error + " (refused by the receiver, not retried now)")
        return Delivery(False, self._attempts, error, transient=True)

    def _redact(self, text: str) -> str:
        return text.replace(self._url, REDACTED).replace(str(httpx.URL(self._url)), REDACTED)
