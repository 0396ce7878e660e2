"""The CLI endpoint over a real socket: tokens, validation, limits, and the client on top."""

import base64
import json
import threading

import httpx
import pytest

from mwaa_cli import Client, CommandNotAllowed, RequestTimeout, ServerBusy
from mwaa_cli.cli import main
from mwaa_cli.errors import ExitStatus
from mwaa_cli.local.app import MAX_BODY
from mwaa_cli.local.tokens import TokenSigner


def post(server, body, token=None, path="/aws_mwaa/cli", **headers):
    if token is None:
        token = server.signer.issue(server.env_name)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.setdefault("Content-Type", "text/plain")
    return httpx.post(server.url + path, content=body, headers=headers, timeout=30)


@pytest.mark.parametrize("path", ["/aws_mwaa/cli", "/pluginsv2/aws_mwaa/cli"])
def test_reply_is_base64_json_with_exit_code(server, path):
    r = post(server, "dags list -o json", path=path)
    assert r.status_code == 200
    doc = r.json()
    assert json.loads(base64.b64decode(doc["stdout"])) == ["dags", "list", "-o", "json"]
    assert base64.b64decode(doc["stderr"]) == b"fake-airflow stderr for dags\n"
    assert doc["exit_code"] == 0


def test_quoting_and_metacharacters_reach_the_command_literally(server):
    r = post(server, """variables set k 'a b; $(touch /tmp/pwned) `id` && x | y'""")
    assert json.loads(base64.b64decode(r.json()["stdout"]))[-1] == (
        "a b; $(touch /tmp/pwned) `id` && x | y"
    )


@pytest.mark.parametrize(
    "token,reason",
    [
        ("", "missing"),
        ("garbage", "malformed"),
        (TokenSigner(b"other" * 8).issue("itest"), "invalid"),
        (TokenSigner(b"s" * 32).issue("prod"), "another environment"),
        (TokenSigner(b"s" * 32, ttl=-1).issue("itest"), "expired"),
    ],
)
def test_bad_tokens_get_403_json(server, token, reason):
    r = post(server, "variables get exit=0", token=token)
    assert r.status_code == 403
    assert reason in r.json()["message"]


def test_basic_auth_scheme_is_refused(server):
    r = httpx.post(
        server.url + "/aws_mwaa/cli",
        content="version",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body,status,reason",
    [
        ("users list", 400, "not a command"),
        ("db reset -y", 400, "not a command"),
        ("", 400, "empty"),
        ("variables set k 'open", 400, "cannot split"),
        (b"variables get \xff\xfe", 400, "UTF-8"),
        ("variables get a\x00b", 400, "NUL"),
        ("variables set k " + "x" * (MAX_BODY + 1), 413, "exceeds"),
    ],
)
def test_bad_commands_get_4xx_json(server, body, status, reason):
    r = post(server, body)
    assert r.status_code == status
    assert reason in r.json()["message"]


def test_timeout_kills_the_command_and_says_so(server):
    r = post(server, "variables get sleep=30")
    assert r.status_code == 504
    assert "stopped" in r.json()["message"]


def test_concurrency_limit_gives_503_not_a_queue(server):
    results = []

    def slow():
        results.append(post(server, "variables get sleep=1.5").status_code)

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for t in threads:
        t.start()
    import time

    time.sleep(0.5)
    busy = post(server, "version")
    for t in threads:
        t.join()
    assert busy.status_code == 503
    assert "too many" in busy.json()["message"]
    assert results == [200, 200]
    assert post(server, "version").status_code == 200  # slots are released


# -- the client library and CLI over the same server -------------------------------------


def test_client_run_returns_streams_and_exit_code(aws_env):
    with Client(env="itest") as client:
        result = client.run(["variables", "get", "exit=3"])
    assert json.loads(result.stdout) == ["variables", "get", "exit=3"]
    assert result.stderr == b"fake-airflow stderr for variables\n"
    assert result.exit_code == 3 and result.exit_code_reported


def test_client_picks_the_only_environment(aws_env):
    assert Client().env == "itest"


def test_client_errors_are_typed(aws_env):
    with Client(env="itest") as client:
        with pytest.raises(CommandNotAllowed, match="not a command"):
            client.run(["users", "list"])
        with pytest.raises(RequestTimeout, match="504"):
            client.run(["variables", "get", "sleep=30"])


def test_cli_writes_streams_apart_byte_for_byte(aws_env, capfdbinary):
    code = main(["run", "--env", "itest", "--", "variables", "get", "bytes=1024"])
    out, err = capfdbinary.readouterr()
    assert code == 0
    assert out == bytes(range(256)) * 4
    assert err == b"fake-airflow stderr for variables\n"


def test_cli_passes_exit_code_through(aws_env, capfd):
    assert main(["run", "--env", "itest", "--", "dags", "state", "d", "exit=7"]) == 7


def test_cli_error_lines(aws_env, capfd):
    assert main(["run", "--env", "itest", "--", "users", "list"]) == ExitStatus.COMMAND_REJECTED
    assert main(["run", "--env", "nope", "--", "version"]) == ExitStatus.ENV_NOT_FOUND
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("mwaa: error: ") for line in err)


def test_airflow_entry_point_runs_on_default_env(aws_env, monkeypatch, capfd):
    from mwaa_cli.cli import airflow_main

    monkeypatch.setenv("MWAA_ENV", "itest")
    assert airflow_main(["dags", "list"]) == 0
    assert json.loads(capfd.readouterr().out) == ["dags", "list"]


def test_envs_table(aws_env, capfd):
    assert main(["envs"]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AIRFLOW", "ACCESS", "WEB", "SERVER"]
    assert lines[1].split()[:3] == ["itest", "AVAILABLE", "3.3.1"]


def test_busy_maps_to_server_busy(aws_env, server):
    threads = [
        threading.Thread(target=post, args=(server, "variables get sleep=1.5")) for _ in range(2)
    ]
    for t in threads:
        t.start()
    import time

    time.sleep(0.5)
    try:
        with Client(env="itest") as client, pytest.raises(ServerBusy):
            client.run(["version"])
    finally:
        for t in threads:
            t.join()


def test_small_load_no_lost_or_garbled_replies(server):
    """A smaller variant of bench/load.py: 12 clients x 8 commands on a 2-slot server."""
    outcomes: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for i in range(8):
            r = post(server, f"variables get c{n}_{i}")
            if r.status_code == 200:
                ok = json.loads(base64.b64decode(r.json()["stdout"])) == [
                    "variables",
                    "get",
                    f"c{n}_{i}",
                ]
                outcome = "ok" if ok else "garbled"
            else:
                outcome = "busy" if r.status_code == 503 else f"bad {r.status_code}"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 96
    assert set(outcomes) <= {"ok", "busy"}
    assert outcomes.count("ok") > 0
