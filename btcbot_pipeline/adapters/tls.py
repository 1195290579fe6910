"""One TLS context per process for every outbound client.

httpx builds a new ``ssl.SSLContext`` for each ``httpx.Client`` and loads the CA bundle
into it (25–55 ms here), and a cycle builds its clients anew (the exchange's, the
webhook's): a scheduled cycle paid that on every run even for a plain-HTTP URL. An
``SSLContext`` is safe to share between clients and threads once configured.
"""

from __future__ import annotations

import ssl
import threading

import httpx

_LOCK = threading.Lock()
_CONTEXT: ssl.SSLContext | None = None


def shared_tls() -> ssl.SSLContext:
    """The process's TLS context: httpx's defaults (certifi's CA bundle, verification on)."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            _CONTEXT = httpx.create_ssl_context()
        return _CONTEXT
