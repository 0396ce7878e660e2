import base64
import json

import pytest

from mwaa_cli.wire import (
    CliReply,
    WireError,
    decode_command,
    decode_reply,
    encode_command,
    encode_reply,
    is_valid_env_name,
)


@pytest.mark.parametrize(
    "argv",
    [
        ["dags", "list"],
        ["dags", "trigger", "d", "-c", '{"k": "v", "n": [1, 2]}'],
        ["variables", "set", "k", "it's a value with spaces; $(rm -rf /) `x` && y | z"],
        ["variables", "set", "k", ""],
        ["variables", "set", "uni", "\u00e9t\u00e9 \u2603"],
    ],
)
def test_command_round_trips_through_shlex(argv):
    assert decode_command(encode_command(argv)) == argv


def test_shell_metacharacters_stay_literal_arguments():
    assert decode_command("variables set k 'a;b' $(x) `y`") == [
        "variables",
        "set",
        "k",
        "a;b",
        "$(x)",
        "`y`",
    ]


def test_unbalanced_quote_is_a_wire_error():
    with pytest.raises(WireError, match="cannot split"):
        decode_command("variables set k 'unclosed")


def test_reply_round_trip_keeps_bytes_and_exit_code():
    reply = CliReply(b"\x00\xffbinary\n", "\u00e9rr\n".encode(), 3)
    assert decode_reply(encode_reply(reply)) == reply


def test_reply_without_exit_code_is_real_mwaa_format():
    body = json.dumps({"stdout": base64.b64encode(b"out").decode(), "stderr": ""}).encode()
    assert decode_reply(body) == CliReply(b"out", b"", None)
    assert "exit_code" not in json.loads(encode_reply(CliReply(b"", b"", None)))


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"<html>login</html>", "not JSON"),
        (b'{"stdout": "aGk="}', "lacks"),
        (b'["stdout", "stderr"]', "lacks"),
        (b'{"stdout": "%%%", "stderr": ""}', "base64"),
        (b'{"stdout": "", "stderr": "", "exit_code": "1"}', "integer"),
        (b'{"stdout": "", "stderr": "", "exit_code": true}', "integer"),
    ],
)
def test_malformed_replies_are_rejected(body, reason):
    with pytest.raises(WireError, match=reason):
        decode_reply(body)


@pytest.mark.parametrize("name", ["local", "MyEnv-1_x", "a" * 80])
def test_valid_env_names(name):
    assert is_valid_env_name(name)


@pytest.mark.parametrize("name", ["", "1env", "-x", "a" * 81, "env name", "env/x", "é"])
def test_invalid_env_names(name):
    assert not is_valid_env_name(name)
