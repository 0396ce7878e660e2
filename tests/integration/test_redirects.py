"""Airflow 3 environments may answer the CLI endpoint with a 307/308 redirect: the client
follows it and POSTs the same body again (real server on loopback, real client)."""

from __future__ import annotations

import socket

import pytest
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from mwaa_cli import Client
from mwaa_cli.local.api import EnvironmentInfo, LocalApp

from .conftest import _start


@pytest.mark.parametrize("status", [307, 308])
def test_redirect_is_followed_with_the_body(server, aws_env, monkeypatch, status):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    info = EnvironmentInfo("redir", "3.3.1", f"127.0.0.1:{port}", created_at=1_700_000_000.0)
    seen = []
    inner = LocalApp(info, server.signer, server.executor.run, verifier=None).build()

    async def redirect(request):
        seen.append(await request.body())
        return RedirectResponse("/pluginsv2/aws_mwaa/cli", status_code=status)

    app = Starlette(routes=[Route("/aws_mwaa/cli", redirect, methods=["POST"]), Mount("/", inner)])
    uv, thread = _start(app, sock)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MWAA", f"http://127.0.0.1:{port}")
        with Client(env="redir") as client:
            result = client.run(["variables", "get", "some key"])
        assert seen == [b"variables get 'some key'"]  # the first POST, redirected
        assert result.exit_code == 0 and b"some key" in result.stdout  # the body arrived again
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()
