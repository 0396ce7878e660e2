"""CLI tokens from CreateCliToken, wrapped so they never show up in a repr or a log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

TOKEN_LIFETIME = 60.0  # seconds, as MWAA documents
SAFETY_MARGIN = 10.0  # do not use a token in its last seconds


@dataclass(frozen=True)
class CliToken:
    """A CLI token and the web server it is good for."""

    value: str = field(repr=False)
    webserver_hostname: str
    obtained_at: float = field(default_factory=time.time)

    def __repr__(self) -> str:
        return f"CliToken(value='***', webserver_hostname={self.webserver_hostname!r})"

    @property
    def expires_at(self) -> float:
        return self.obtained_at + TOKEN_LIFETIME

    def fresh(self, now: float | None = None) -> bool:
        """True while the token has more than the safety margin left."""
        now = time.time() if now is None else now
        return now < self.expires_at - SAFETY_MARGIN

    @property
    def masked(self) -> str:
        return self.value[:4] + "…" if len(self.value) > 8 else "***"
