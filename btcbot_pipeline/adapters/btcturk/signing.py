"""BTCTurk Authentication V1: ``X-PCK`` / ``X-Stamp`` / ``X-Signature``.

``X-Signature = base64(HMAC_SHA256(key=base64decode(secret), msg=utf8(api_key + stamp_ms)))``.
Only ``api_key + stamp`` is signed (not the method, path or body); the stamp is Unix time in
milliseconds and must equal the ``X-Stamp`` header (server tolerance ±5 s).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from pydantic import SecretStr


class CredentialsError(ValueError):
    """The API secret is not valid base64 (the message never shows it)."""


def signature(api_key: str, api_secret: str, stamp_ms: int | str) -> str:
    """The ``X-Signature`` header value for ``api_key`` at ``stamp_ms``."""
    try:
        key = base64.b64decode(api_secret, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError("BTCTURK_API_SECRET is not valid base64") from None
    digest = hmac.new(key, f"{api_key}{stamp_ms}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key pair; both parts are ``SecretStr`` so reprs and logs show ``**********``."""

    api_key: SecretStr
    api_secret: SecretStr

    def __repr__(self) -> str:
        return "Credentials(api_key=SecretStr('**********'), api_secret=SecretStr('**********'))"

    __str__ = __repr__

    def headers(self, stamp_ms: int) -> dict[str, str]:
        key = self.api_key.get_secret_value()
        return {
            "X-PCK": key,
            "X-Stamp": str(stamp_ms),
            "X-Signature": signature(key, self.api_secret.get_secret_value(), stamp_ms),
            "Content-Type": "application/json",
        }
