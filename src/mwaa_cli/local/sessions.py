"""STS AssumeRole for a local environment or region: temporary credentials (``ASIA…`` key,
secret, session token, expiry) that SigV4 verification accepts with their token, and that
carry the permissions of what they were assumed from (:mod:`.policies`) - or, for a role
named after a role key (``…:role/web-login``, ``…:role/Viewer``), that key's, when the
caller is the environment's own key (a role key cannot assume its way up)."""

from __future__ import annotations

import hmac
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass

ROLE_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]*/)?(?P<name>[\w+=,.@-]{1,64})"
)
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


@dataclass(frozen=True)
class Session:
    access_key_id: str
    secret_access_key: str
    token: str
    expires: float  # epoch seconds
    parent: str  # the access key it was assumed with
    role_arn: str
    session_name: str
    key_name: str | None  # whose permissions it has (None: the environment's own key's)

    @property
    def role_name(self) -> str:
        match = ROLE_ARN.fullmatch(self.role_arn)
        return match["name"] if match else "role"

    def token_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.token)


class SessionStore:
    """The temporary credentials issued so far (in memory: a restart ends them all)."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        parent: str,
        parent_name: str | None,
        role_arn: str,
        session_name: str,
        duration: int,
        key_names: set[str],
    ) -> Session:
        role = ROLE_ARN.fullmatch(role_arn)
        assert role is not None
        named = role["name"] if role["name"] in key_names else None
        # the environment's own key may take a role key's (lesser) permissions; a role key
        # keeps its own whatever role it names
        key_name = named if parent_name is None else parent_name
        alphabet = string.ascii_uppercase + string.digits
        session = Session(
            "ASIAMWAA" + "".join(secrets.choice(alphabet) for _ in range(12)),
            secrets.token_urlsafe(30)[:40],
            secrets.token_urlsafe(96),
            time.time() + duration,
            parent,
            role_arn,
            session_name,
            key_name,
        )
        with self._lock:
            now = time.time()
            for key in [k for k, s in self._sessions.items() if s.expires <= now]:
                del self._sessions[key]
            self._sessions[session.access_key_id] = session
        return session

    def get(self, access_key_id: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(access_key_id)
        if session is None or session.expires <= time.time():
            return None
        return session
