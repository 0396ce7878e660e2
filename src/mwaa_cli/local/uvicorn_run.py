"""Serving an endpoint's ASGI app on uvicorn, for `mwaa local serve` and the region alike.

From the banner on, Ctrl-C / SIGTERM means "stop": :func:`keep_stop_signals` records a
signal that arrives before uvicorn installs its own handlers (asyncio's start-up SIGINT
handling would cancel the starting server, which uvicorn swallows - the process then ran
on), and :func:`serve_until_stopped` acts on it once uvicorn is up.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

from .slow_clients import HEADER_TIMEOUT, HeaderDeadlineProtocol
from .tls import TlsFiles


def keep_stop_signals() -> list[int]:
    """Record SIGINT/SIGTERM from now on (the list is filled as they arrive)."""
    early: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    return early


def serve_until_stopped(
    app,
    sock: socket.socket,
    early: list[int],
    tls: TlsFiles | None,
    header_timeout: float = HEADER_TIMEOUT,
    on_stop: Callable[[], None] = lambda: None,
) -> None:
    """Run ``app`` on ``sock`` until a stop signal (``on_stop`` runs first, as it arrives)."""
    import uvicorn  # the local extra

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
        http=type("Protocol", (HeaderDeadlineProtocol,), {"header_timeout": header_timeout}),
        ssl_certfile=str(tls.server_cert) if tls else None,
        ssl_keyfile=str(tls.server_key) if tls else None,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if early:
                self.handle_exit(early[0], None)

        def handle_exit(self, sig, frame) -> None:
            on_stop()
            super().handle_exit(sig, frame)

    try:
        Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
