"""The side doors an outside review found, each closed on a real `mwaa local serve`: Airflow's
own API server, unbounded bodies, a second server on one home, secrets in the audit log, the
web login token used as a CLI token, code loaded from outside the DAGs folder, and the MWAA
user guide's Python sample on a machine that sets REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from mwaa_cli.errors import ExitStatus

from .conftest import BIN


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# -- Airflow's own API server ----------------------------------------------------------------


def test_the_api_server_wants_a_login(local_env):
    api = local_env.wait_for_api()
    created = httpx.post(f"{api}/api/v2/variables", json={"key": "k", "value": "v"})
    assert created.status_code in (401, 403)
    for path in ("/api/v2/dags", "/api/v2/connections", "/api/v2/config"):
        assert httpx.get(api + path).status_code in (401, 403)
    trigger = httpx.post(f"{api}/api/v2/dags/hello_mwaa/dagRuns", json={"logical_date": None})
    assert trigger.status_code in (401, 403)
    token = httpx.get(f"{api}/auth/token")  # no anonymous admin JWT
    assert token.status_code == 403 and "access_token" not in token.text


def test_the_api_server_answers_loopback_host_names_only(local_env):
    api = local_env.wait_for_api()
    for host in ("evil.example", "evil.example:80", "127.0.0.1.nip.io", "10.0.0.1"):
        for path in ("/api/v2/version", "/", "/execution/health"):
            reply = httpx.get(api + path, headers={"Host": host})
            assert reply.status_code == 400, (host, path, reply.status_code)
    port = api.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{api}/api/v2/version", headers={"Host": host}).status_code == 200


def test_the_generated_password_logs_in(local_env):
    api = local_env.wait_for_api()
    passwords = local_env.home / "ui-passwords.json"
    assert oct(passwords.stat().st_mode & 0o777) == "0o600"
    wrong = httpx.post(f"{api}/auth/token", json={"username": "admin", "password": "admin"})
    assert wrong.status_code in (401, 403)
    login = httpx.post(
        f"{api}/auth/token", json={"username": "admin", "password": local_env.ui_password()}
    )
    assert login.status_code in (200, 201), login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    dags = httpx.get(f"{api}/api/v2/dags", headers=bearer)
    assert dags.status_code == 200 and "hello_mwaa" in dags.text
    assert f"password in {passwords}" in local_env.stderr_text()  # the banner says how


# -- the control plane reads bounded bodies --------------------------------------------------


def _raw_request(port: int, head: bytes, body_chunks, context) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.settimeout(30)
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered and closed early: what we want
            pass
        reply = b""
        try:
            while data := sock.recv(65536):
                reply += data
        except OSError:
            pass
        return reply


def test_huge_unsigned_bodies_are_refused_before_they_are_buffered(local_env):
    context = ssl.create_default_context(cafile=local_env.ca_bundle)
    before = rss_kb(local_env.proc.pid)
    mib = b"x" * (1024 * 1024)
    declared = (
        b"POST /clitoken/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 419430400\r\n\r\n"
    )
    reply = _raw_request(local_env.port, declared, (mib for _ in range(64)), context)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    chunked = b"%x\r\n%s\r\n" % (len(mib), mib)
    for path in (b"/", b"/environments"):
        method = b"POST" if path == b"/" else b"GET"
        head = (
            method
            + b" "
            + path
            + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        reply = _raw_request(local_env.port, head, (chunked for _ in range(64)), context)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    grown = rss_kb(local_env.proc.pid) - before
    assert grown < 16 * 1024, f"the server grew by {grown} KiB"


# -- one home, one server --------------------------------------------------------------------


def test_a_second_server_on_the_same_home_is_refused(local_env):
    env_sh = (local_env.home / "env.sh").read_bytes()
    out = subprocess.run(
        [str(BIN / "mwaa"), "local", "serve", "--port", "0", "--no-scheduler"],
        env=dict(local_env.aws_environ(), MWAA_CLI_HOME=str(local_env.state_dir)),
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == ExitStatus.UNAVAILABLE, out.stderr
    message = out.stderr.decode()
    assert f"pid {local_env.proc.pid}" in message and "is running on" in message
    assert "Traceback" not in message
    assert (local_env.home / "env.sh").read_bytes() == env_sh  # nothing was rewritten
    assert local_env.mwaa("run", "--", "version").returncode == 0


# -- tokens ----------------------------------------------------------------------------------


def test_a_web_login_token_is_not_a_cli_token(local_env):
    client = local_env.boto3_mwaa()
    web = client.create_web_login_token(Name="local")
    reply = httpx.post(
        f"{local_env.endpoint}/aws_mwaa/cli",
        content=b"version",
        headers={"Authorization": f"Bearer {web['WebToken']}"},
        verify=local_env.ca_bundle,
    )
    assert reply.status_code == 403 and "not a CLI token" in reply.json()["message"]


# -- commands that load code from anywhere ----------------------------------------------------


def test_dags_test_with_a_file_path_is_refused_by_the_server(local_env, tmp_path):
    canary = tmp_path / "ran"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(canary)!r}, 'w').write('x')\n")
    for flag in ("-f", "--dagfile-path", "--dagf"):
        out = local_env.mwaa("run", "--force", "--", "dags", "test", "hello_mwaa", flag, str(evil))
        assert out.returncode == ExitStatus.COMMAND_REJECTED, out.stderr
        assert b"refused the command" in out.stderr
    assert not canary.exists()


# -- the audit log keeps secrets out ----------------------------------------------------------


def test_the_audit_log_masks_secrets(local_env):
    assert (
        local_env.mwaa("run", "--", "variables", "set", "api_key", "VARIABLE-SECRET").returncode
        == 0
    )
    out = local_env.mwaa(
        "run", "--", "connections", "add", "audit_db",
        "--conn-uri", "postgres://admin:URI-SECRET@db.internal:5432/x",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    log = (local_env.home / "logs" / "audit.log").read_text()
    assert "VARIABLE-SECRET" not in log and "URI-SECRET" not in log
    assert '"api_key", "***"' in log and "postgres://admin:***@db.internal:5432/x" in log
    local_env.mwaa("run", "--", "connections", "delete", "audit_db")


# -- the MWAA user guide's Python sample, unchanged ---------------------------------------------

USER_GUIDE_PYTHON = textwrap.dedent(
    """
    import boto3
    import json
    import requests
    import base64

    mwaa_env_name = 'local'
    dag_name = 'hello_mwaa'
    mwaa_cli_command = 'tasks list'

    client = boto3.client('mwaa')

    mwaa_cli_token = client.create_cli_token(
        Name=mwaa_env_name
    )

    mwaa_auth_token = 'Bearer ' + mwaa_cli_token['CliToken']
    mwaa_webserver_hostname = 'https://{0}/aws_mwaa/cli'.format(mwaa_cli_token['WebServerHostname'])
    raw_data = '{0} {1}'.format(mwaa_cli_command, dag_name)

    mwaa_response = requests.post(
        mwaa_webserver_hostname,
        headers={
            'Authorization': mwaa_auth_token,
            'Content-Type': 'text/plain'
        },
        data=raw_data
    )

    mwaa_std_err_message = base64.b64decode(mwaa_response.json()['stderr']).decode('utf8')
    mwaa_std_out_message = base64.b64decode(mwaa_response.json()['stdout']).decode('utf8')

    print(mwaa_response.status_code)
    print(mwaa_std_err_message)
    print(mwaa_std_out_message)
    """
)


def test_the_user_guide_python_sample_with_a_machine_wide_requests_bundle(local_env, tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(USER_GUIDE_PYTHON)
    env = {k: v for k, v in local_env.aws_environ().items() if not k.startswith("AWS_")}
    env["REQUESTS_CA_BUNDLE"] = "/etc/ssl/certs/ca-certificates.crt"  # set machine-wide
    script = f"source {local_env.home / 'env.sh'} && exec {sys.executable} {sample}"
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0] == "200"
    assert "say_hello" in out.stdout.decode()
