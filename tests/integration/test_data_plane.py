"""The CLI endpoint over a real socket: tokens, validation, limits, and the client on top."""

import base64
import json
import threading
import time

import httpx
import pytest

from mwaa_cli import Client, CommandNotAllowed, RequestTimeout, ServerBusy
from mwaa_cli.cli import main
from mwaa_cli.errors import ExitStatus
from mwaa_cli.local.api import Limits
from mwaa_cli.local.cli_tokens import TokenSigner


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
        ("variables set k " + "x" * (Limits().cli_body + 1), 413, "exceeds"),
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


def _in_background(server, body: str, sink: list, label: str = "") -> threading.Thread:
    def go():
        r = post(server, body)
        sink.append((label, r.status_code, time.monotonic(), r))

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def wait_for_queue(server, running: int = 0, waiting: int = 0, timeout: float = 30) -> None:
    """Until the server's queue holds that many commands (a condition, not a fixed sleep:
    the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while True:
        cli = httpx.get(f"{server.url}/health", timeout=10).json()["cli"]
        if cli["running"] >= running and cli["waiting"] >= waiting:
            return
        assert time.monotonic() < deadline, cli
        time.sleep(0.02)


def test_commands_beyond_the_limit_wait_their_turn_in_order(server):
    done: list = []
    # one slot frees at 0.6 s, the other at 1.2 s: whoever waited first gets the first one
    busy = [_in_background(server, f"variables get sleep={s}", done, "slow") for s in (0.6, 1.2)]
    wait_for_queue(server, running=2)
    first = _in_background(server, "variables get first", done, "first")
    wait_for_queue(server, waiting=1)
    second = _in_background(server, "variables get second", done, "second")
    for t in [*busy, first, second]:
        t.join()
    assert [status for _, status, _, _ in done] == [200] * 4  # nobody was turned away
    finished = [label for label, *_ in sorted(done, key=lambda d: d[2])]
    assert finished.index("first") < finished.index("second")  # first come, first served
    assert post(server, "version").status_code == 200  # slots are released


def test_a_full_queue_refuses_at_once_with_retry_after(server):
    done: list = []
    threads = [_in_background(server, "variables get sleep=1.5", done) for _ in range(2)]
    wait_for_queue(server, running=2)
    threads += [_in_background(server, "variables get w", done) for _ in range(2)]
    wait_for_queue(server, running=2, waiting=2)
    started = time.monotonic()
    refused = post(server, "version")
    assert time.monotonic() - started < 1.0  # at once, not after a wait
    for t in threads:
        t.join()
    assert refused.status_code == 503
    assert "queue is full" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert post(server, "version").status_code == 200


def test_a_wait_past_the_limit_is_refused_and_never_runs(server):
    done: list = []
    threads = [_in_background(server, "variables get sleep=2.5", done) for _ in range(2)]
    wait_for_queue(server, running=2)
    started = time.monotonic()
    refused = post(server, "variables get exit=3")
    waited = time.monotonic() - started
    for t in threads:
        t.join()
    assert refused.status_code == 503 and 0.9 < waited < 2.4
    assert "waited 1 s" in refused.json()["message"]
    assert refused.headers["retry-after"] == "1"


def test_health_reports_the_queue(server):
    doc = httpx.get(f"{server.url}/health").json()
    assert doc["status"] == "ok" and doc["environment"] == "itest"
    assert doc["cli"]["concurrency"] == 2 and doc["cli"]["max_waiting"] == 2
    assert doc["cli"]["running"] == 0 and doc["cli"]["waiting"] == 0
    assert doc["cli"]["refused_queue_full"] >= 1 and doc["cli"]["served"] >= 1


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
        threading.Thread(target=post, args=(server, "variables get sleep=3")) for _ in range(2)
    ]
    for t in threads:
        t.start()
    wait_for_queue(server, running=2)
    try:
        with Client(env="itest", busy_timeout=0) as client, pytest.raises(ServerBusy):
            client.run(["version"])
    finally:
        for t in threads:
            t.join()


def test_a_busy_server_is_waited_out_with_backoff(aws_env, server):
    threads = [
        threading.Thread(target=post, args=(server, "variables get sleep=2.5")) for _ in range(2)
    ]
    for t in threads:
        t.start()
    wait_for_queue(server, running=2)
    waits: list[float] = []
    try:
        with Client(env="itest", busy_timeout=30) as client:
            result = client.run(["version"], on_busy=lambda delay, exc: waits.append(delay))
    finally:
        for t in threads:
            t.join()
    assert result.ok and result.busy_retries >= 1 and waits  # refused once (wait > 1 s), then ran
    assert all(w >= 1.0 for w in waits)  # the server's Retry-After: 1 is honoured


def test_a_command_that_may_have_started_is_never_resent(aws_env, server, monkeypatch):
    """A 503 that carries the command's streams (the server stopped mid-command) is final."""
    from mwaa_cli.client import transport

    sent = []
    real = transport.Transport.post

    def spy(self, url, body, headers):
        sent.append(body)
        response = real(self, url, body, headers)
        response.status = 503
        response.body = (
            b'{"stdout": "", "stderr": "", "error": "ServerStopping", "message": "stopping"}'
        )
        return response

    monkeypatch.setattr(transport.Transport, "post", spy)
    with (
        Client(env="itest", busy_timeout=30) as client,
        pytest.raises(ServerBusy, match="stopping"),
    ):
        client.run(["variables", "get", "k"])
    assert len(sent) == 1


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


def test_a_command_flooding_its_output_is_cut_and_stopped():
    """The temporary files behind a command's streams have a limit: past it the command is
    stopped and its output cut with a marker; the executor keeps working."""
    from mwaa_cli.local.executor import SubprocessExecutor

    from .conftest import FAKE

    limit = 1024 * 1024
    executor = SubprocessExecutor(FAKE, {"PATH": "/usr/bin:/bin"}, timeout=30, output_limit=limit)
    started = time.monotonic()
    flooded = executor.run(["variables", "get", "flood"])
    assert time.monotonic() - started < 10
    assert flooded.output_cut and len(flooded.stdout) == limit
    assert flooded.stderr.endswith(b"(--output-limit): it was stopped and its output cut here\n")
    normal = executor.run(["variables", "get", "k"])
    assert not normal.output_cut and normal.exit_code == 0
