"""Property-based fuzzing of the CLI endpoint, in process: thousands of generated bodies and
headers. Never a 5xx, replies always well-formed JSON, and a canary proves that no command
outside the allowlist ever reaches the executor."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mwaa_cli.commands import Allowlist
from mwaa_cli.errors import CommandNotAllowed
from mwaa_cli.local.api import EnvironmentInfo, LocalApp
from mwaa_cli.local.cli_tokens import TokenSigner
from mwaa_cli.local.executor import Execution
from mwaa_cli.wire import decode_reply

ALLOW = Allowlist.for_version("3.3.1")
SIGNER = TokenSigner(b"f" * 32)
EXECUTED: list[list[str]] = []
CANARY: list[list[str]] = []


def recording_executor(argv: list[str]) -> Execution:
    EXECUTED.append(argv)
    try:
        ALLOW.command_of(argv)
    except CommandNotAllowed:
        CANARY.append(argv)  # must never happen
    return Execution(tuple(argv), b"out", b"err", 0, 0.001)


APP = LocalApp(
    EnvironmentInfo("fuzz", "3.3.1", "127.0.0.1:1", 0.0), SIGNER, recording_executor
).build()
CLIENT = TestClient(APP, raise_server_exceptions=False)

words = st.sampled_from(
    [
        "dags",
        "list",
        "users",
        "create",
        "db",
        "reset",
        "variables",
        "set",
        "get",
        "tasks",
        "--save",
        "-s",
        "--sav",
        "--save=x",
        "-vs",
        "show",
        "test",
        "--save-dagrun",
        "version",
        "connections",
        "add",
        "scheduler",
        "webserver",
        "--help",
        "-h",
        ";",
        "|",
        "&&",
        "$(id)",
        "`id`",
        "'",
        '"',
        "\\",
        "\x00",
        "DAGS",
        "Dags",
        "backfill",
        "create",
        "roles",
        "--",
        "-o",
        "json",
        "é",
        "\n",
        "#",
        "*",
        "~",
    ]
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200),
    st.lists(words, max_size=8).map(" ".join),
    st.lists(st.one_of(words, st.text(max_size=10)), max_size=6).map(" ".join),
)
tokens = st.one_of(
    st.just("VALID"),
    st.text(max_size=80),
    st.sampled_from(["", "Bearer", "Bearer ", "Basic abc", "bearer VALID", "Bearer VALID x"]),
    st.builds(lambda t: SIGNER.issue("other"), st.none()),
    st.builds(lambda t: TokenSigner(b"x" * 32).issue("fuzz"), st.none()),
)


@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=bodies,
    auth=tokens,
    path=st.sampled_from(["/aws_mwaa/cli", "/pluginsv2/aws_mwaa/cli"]),
    ctype=st.sampled_from(["text/plain", "application/json", "", "x/\x7f"]),
)
def test_fuzz_cli_endpoint(body, auth, path, ctype):
    headers = {}
    if auth == "VALID":
        headers["Authorization"] = f"Bearer {SIGNER.issue('fuzz')}"
    elif auth.startswith(("Bearer", "bearer", "Basic")) or auth == "":
        headers["Authorization"] = auth.replace("VALID", SIGNER.issue("fuzz"))
    else:
        headers["Authorization"] = f"Bearer {auth}"
    if ctype:
        headers["Content-Type"] = ctype
    try:
        headers = {k: v.encode("latin-1", "replace").decode("latin-1") for k, v in headers.items()}
        r = CLIENT.post(
            path, content=body if isinstance(body, bytes) else body.encode(), headers=headers
        )
    except (ValueError, UnicodeError):  # a header value HTTP cannot carry: not sendable
        return
    assert r.status_code < 500, r.text
    doc = json.loads(r.content)
    if r.status_code == 200:
        reply = decode_reply(r.content)
        assert reply.stdout == b"out" and reply.exit_code == 0
    else:
        assert isinstance(doc.get("message"), str) and doc["message"]
        # no server traceback leaks (a body that says "Traceback" may be quoted back)
        assert 'File "' not in doc["message"] or 'File "' in str(body)
        assert "most recent call last" not in doc["message"] or "most recent" in str(body)
    assert CANARY == []


def test_fuzz_really_executed_allowed_commands():
    """The property test above is not vacuous: some generated commands ran."""
    assert CANARY == []
    assert len(EXECUTED) > 0
