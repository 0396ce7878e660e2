"""An Airflow plugin loaded by the local environment's own Airflow processes.

``mwaa_cli.local.airflow.home.install_plugin`` copies this file into the site-packages of
the Airflow installation the environment runs, as the module ``mwaa_local_support`` with
an ``airflow.plugins`` entry point. It does nothing unless ``MWAA_LOCAL_LOOPBACK_ONLY`` is
set, which only ``mwaa local serve`` sets for its components. Then it refuses every request to
Airflow's API server / webserver whose ``Host`` is not a loopback name (DNS rebinding: a web
page whose name resolves to 127.0.0.1 can reach a loopback port, but it cannot make the
browser send ``Host: 127.0.0.1``).

Standard library and Airflow only: this module runs inside Airflow's interpreter, and
mwaa-cli itself never imports it (it would import Airflow).
"""

from __future__ import annotations

import os

# and the address the environment was bound to (--host), which joining workers call
LOOPBACK_NAMES = frozenset(
    {
        "127.0.0.1",
        "localhost",
        "::1",
        *filter(None, os.environ.get("MWAA_LOCAL_HOSTS", "").split(",")),
    }
)
ENV_FLAG = "MWAA_LOCAL_LOOPBACK_ONLY"


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value (``[::1]:8080`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host


class LoopbackHostOnly:
    """ASGI middleware: 400 for a request whose Host header is not a loopback name."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = ""
            for name, value in scope.get("headers", []):
                if name == b"host":
                    host = value.decode("latin-1")
                    break
            if host_name(host) not in LOOPBACK_NAMES:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b"Invalid host header: this Airflow serves loopback names only\n"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _flask_blueprints() -> list:
    """Airflow 2's webserver (Flask): the same check before every request of the app."""
    from flask import Blueprint, abort, request

    blueprint = Blueprint("mwaa_local_loopback", __name__)

    @blueprint.before_app_request
    def _loopback_only():
        if host_name(request.host) not in LOOPBACK_NAMES:
            abort(400, "Invalid host header: this Airflow serves loopback names only")

    return [blueprint]


def _airflow_major() -> int:
    from airflow import __version__

    return int(__version__.split(".")[0])


try:
    from airflow.plugins_manager import AirflowPlugin
except ImportError:  # pragma: no cover - imported outside Airflow
    AirflowPlugin = object  # type: ignore[assignment,misc]


class MwaaLocalPlugin(AirflowPlugin):  # type: ignore[misc,valid-type]
    name = "mwaa_local"
    if os.environ.get(ENV_FLAG):
        if _airflow_major() >= 3:
            fastapi_root_middlewares = [
                {"middleware": LoopbackHostOnly, "name": "mwaa-local: loopback Host only"}
            ]
        else:
            flask_blueprints = _flask_blueprints()


def worker_hostname() -> str:
    """``core.hostname_callable`` of a Celery worker's processes: the worker's own name
    (``worker-2@host``), so each task instance says which worker ran it (the autoscaler
    retires only workers that run nothing; the UI shows it)."""
    import socket

    return os.environ.get("MWAA_LOCAL_WORKER_NAME") or socket.getfqdn()
