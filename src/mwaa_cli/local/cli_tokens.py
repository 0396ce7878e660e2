"""Tokens of the local environment: signed, short-lived, bound to one environment and one use.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` (unpadded,
canonical: any other spelling of the same bytes is refused) where the payload is compact
JSON ``{"env", "exp", "jti", "use"}`` (web tokens also carry ``role``, the Airflow role the
login is for); ``use`` is ``cli`` (CreateCliToken) or ``web`` (CreateWebLoginToken), and a
token is accepted only for its own use. Clients treat it as opaque.
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
    data = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    if _b64(data) != text:  # padding, other alphabets, stray bits: not how we wrote it
        raise ValueError("non-canonical encoding")
    return data


@dataclass(frozen=True)
class TokenClaims:
    env: str
    expires_at: float
    token_id: str  # safe to log; the token itself never is
    use: str = "cli"
    role: str | None = None  # web tokens: the Airflow role to log in as


class TokenSigner:
    """Issues and verifies CLI tokens with one secret key."""

    def __init__(self, secret: bytes, ttl: float = DEFAULT_TTL) -> None:
        self._secret = secret
        self.ttl = ttl

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def issue(
        self, env: str, now: float | None = None, use: str = "cli", role: str | None = None
    ) -> str:
        now = time.time() if now is None else now
        claims = {
            "env": env,
            "exp": round(now + self.ttl, 3),
            "jti": secrets.token_hex(8),
            "use": use,
        }
        if role is not None:
            claims["role"] = role
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify(
        self, token: str, env: str, now: float | None = None, use: str = "cli"
    ) -> TokenClaims:
        """Return the claims of a valid ``use`` token for ``env``; raise :class:`TokenRejected`."""
        kind = "CLI" if use == "cli" else "web login"
        try:
            payload_b64, sig_b64 = token.split(".")
            payload, sig = _unb64(payload_b64), _unb64(sig_b64)
        except (ValueError, UnicodeError) as exc:
            raise TokenRejected(f"malformed {kind} token") from exc
        if not hmac.compare_digest(sig, self._sign(payload)):
            raise TokenRejected(f"invalid {kind} token")
        try:
            claims = json.loads(payload)
            expires = float(claims["exp"])
        except (ValueError, KeyError, TypeError) as exc:  # only if the key leaked
            raise TokenRejected(f"invalid {kind} token") from exc
        now = time.time() if now is None else now
        if claims.get("use", "cli") != use:
            raise TokenRejected(f"not a {kind} token (it was issued for another use)")
        if claims.get("env") != env:
            raise TokenRejected(f"the {kind} token was issued for another environment")
        if now >= expires:
            raise TokenRejected(f"the {kind} token has expired; request a new one")
        role = claims.get("role")
        return TokenClaims(
            claims["env"], expires, str(claims["jti"]), use, role if isinstance(role, str) else None
        )
