"""uvicorn's HTTP/1.1 protocol with a deadline for request headers.

uvicorn closes idle keep-alive connections, but a connection that sends part of a request
line or headers and then stalls is held forever (a slowloris). Here every connection must
deliver complete headers within ``HEADER_TIMEOUT`` seconds of opening (or of the previous
response), or it is closed. Bodies have their own deadline where they are read
(:mod:`mwaa_cli.local.api.bodies`).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("mwaa_cli.local")
HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._header_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _disarm(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not getattr(self, "_header_cycle", None):  # a request's headers arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._disarm()
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _header_deadline(self) -> None:
        self._header_timer = None
        if self.cycle is self._header_cycle and not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            log.warning(
                "closed a connection from %s: no complete request headers within %g s",
                client,
                self.header_timeout,
            )
            self.transport.close()
