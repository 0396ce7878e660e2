"""CLI tokens of the local environment: signed, short-lived, bound to one environment.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` where the
payload is compact JSON ``{"env", "exp", "jti"}``. Clients treat it as opaque.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

DEFAULT_TTL = 60.0


class TokenRejected(Exception):
    """The presented token is missing, malformed, forged, expired or for another env."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    env: str
    expires_at: float
    token_id: str  # safe to log; the token itself never is


class TokenSigner:
    """Issues and verifies CLI tokens with one secret key."""

    def __init__(self, secret: bytes, ttl: float = DEFAULT_TTL) -> None:
        self._secret = secret
        self.ttl = ttl

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def issue(self, env: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = {"env": env, "exp": round(now + self.ttl, 3), "jti": secrets.token_hex(8)}
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify(self, token: str, env: str, now: float | None = None) -> TokenClaims:
        """Return the claims of a valid token for ``env``; raise :class:`TokenRejected`."""
        try:
            payload_b64, sig_b64 = token.split(".")
            payload, sig = _unb64(payload_b64), _unb64(sig_b64)
        except (ValueError, UnicodeError) as exc:
            raise TokenRejected("malformed CLI token") from exc
        if not hmac.compare_digest(sig, self._sign(payload)):
            raise TokenRejected("invalid CLI token")
        claims = json.loads(payload)
        now = time.time() if now is None else now
        if claims.get("env") != env:
            raise TokenRejected("the CLI token was issued for another environment")
        if now >= float(claims["exp"]):
            raise TokenRejected("the CLI token has expired; request a new one")
        return TokenClaims(claims["env"], float(claims["exp"]), str(claims["jti"]))
