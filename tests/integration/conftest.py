"""A real uvicorn server on a loopback port serving the real app; commands run as real
subprocesses of a stand-in ``airflow`` (tests/integration/fake_airflow.py)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from mwaa_cli.local.api import EnvironmentInfo, LocalApp
from mwaa_cli.local.api.cli_queue import CommandQueue
from mwaa_cli.local.auth import AccessKey, SigV4Verifier
from mwaa_cli.local.cli_tokens import TokenSigner
from mwaa_cli.local.executor import SubprocessExecutor

KEY = AccessKey("AKIAMWAATESTKEY00001", "test-secret-access-key-0123456789abcdefgh")
FAKE = [sys.executable, str(Path(__file__).with_name("fake_airflow.py"))]


@dataclass
class Server:
    url: str
    hostname: str
    signer: TokenSigner
    executor: SubprocessExecutor
    env_name: str = "itest"


def _start(app, sock):
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread


@pytest.fixture(scope="session")
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    signer = TokenSigner(b"s" * 32, ttl=60)
    executor = SubprocessExecutor(FAKE, {"PATH": "/usr/bin:/bin"}, timeout=3, concurrency=2)
    info = EnvironmentInfo("itest", "3.3.1", f"127.0.0.1:{port}", created_at=1_700_000_000.0)
    app = LocalApp(
        info,
        signer,
        executor.run,
        verifier=SigV4Verifier([KEY], "us-east-1"),
        queue=CommandQueue(2, max_waiting=2, max_wait=1.0),
    ).build()
    uv, thread = _start(app, sock)
    yield Server(f"http://127.0.0.1:{port}", info.webserver_hostname, signer, executor)
    uv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def aws_env(monkeypatch, server):
    """The environment variables `mwaa local serve` tells users to export."""
    values = {
        "AWS_ENDPOINT_URL_MWAA": server.url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": KEY.access_key_id,
        "AWS_SECRET_ACCESS_KEY": KEY.secret_access_key,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MWAA_ENV", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return values
