"""Real boto3/botocore against the real server: modeled replies and modeled errors."""

import socket
from urllib.parse import quote

import boto3
import httpx
import pytest
from botocore.config import Config

from .conftest import KEY


@pytest.fixture
def mwaa(server):
    return boto3.client(
        "mwaa",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id,
        aws_secret_access_key=KEY.secret_access_key,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def test_create_cli_token(mwaa, server):
    reply = mwaa.create_cli_token(Name="itest")
    assert reply["WebServerHostname"] == server.hostname
    assert server.signer.verify(reply["CliToken"], "itest").env == "itest"


def test_get_environment(mwaa):
    env = mwaa.get_environment(Name="itest")["Environment"]
    assert env["Name"] == "itest"
    assert env["Status"] == "AVAILABLE"
    assert env["AirflowVersion"] == "3.3.1"
    assert env["Arn"] == "arn:aws:airflow:us-east-1:000000000000:environment/itest"
    assert env["CreatedAt"].timestamp() == 1_700_000_000.0
    assert ":" in env["WebserverUrl"] and "://" not in env["WebserverUrl"]


def test_list_environments(mwaa):
    assert mwaa.list_environments()["Environments"] == ["itest"]
    pages = mwaa.get_paginator("list_environments").paginate(PaginationConfig={"PageSize": 5})
    assert [n for p in pages for n in p["Environments"]] == ["itest"]


def test_list_environments_validates_max_results(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.list_environments(MaxResults=500)


@pytest.mark.parametrize("op", ["create_cli_token", "get_environment", "create_web_login_token"])
def test_unknown_environment_is_modeled_not_found(mwaa, op):
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException) as info:
        getattr(mwaa, op)(Name="other")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "other" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["1bad", "has space", "x" * 81, "bad/slash"])
def test_invalid_name_is_validation_exception(mwaa, name):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.get_environment(Name=name)


def test_host_prefix_injection_is_why_the_env_var_exists(server):
    """Without the opt-out botocore sends to env.127.0.0.1, which cannot resolve."""
    client = boto3.client(
        "mwaa",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id,
        aws_secret_access_key=KEY.secret_access_key,
        config=Config(inject_host_prefix=True, retries={"max_attempts": 1}),
    )
    with pytest.raises(Exception, match=r"env\.127\.0\.0\.1"):
        client.create_cli_token(Name="itest")


def _signed(server, method: str, path: str, body: bytes = b"") -> httpx.Response:
    """A request signed exactly as botocore signs, with a path botocore would not send."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = server.url + path
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(
        Credentials(KEY.access_key_id, KEY.secret_access_key), "airflow", "us-east-1"
    ).add_auth(request)
    return httpx.request(method, url, content=body, headers=dict(request.headers))


@pytest.mark.parametrize("value", ["²", "٣", "1e1", " 5", "0x5", "-1"])
def test_max_results_must_be_ascii_digits(server, value):
    reply = _signed(server, "GET", f"/environments?MaxResults={quote(value)}")
    assert reply.status_code == 400, reply.text
    assert reply.headers["x-amzn-ErrorType"] == "ValidationException"


@pytest.mark.parametrize(
    "path", ["/environments/itest%0A", "/environments/it%00est", "/clitoken/itest%0d"]
)
def test_control_characters_in_a_path_are_refused(server, path):
    reply = _signed(server, "GET" if "environments" in path else "POST", path)
    assert reply.status_code == 400, reply.text
    assert reply.headers["x-amzn-ErrorType"] == "ValidationException"


@pytest.mark.parametrize(
    "path", ["/aws_mwaa%2fcli", "/aws_mwaa%2Fcli", "/pluginsv2%2faws_mwaa/cli"]
)
def test_an_encoded_slash_is_not_the_cli_endpoint(server, path):
    token = server.signer.issue(server.env_name)
    reply = httpx.post(
        server.url + path, content=b"version", headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 404


def test_oversize_control_plane_bodies_are_refused_unread(server):
    """The 413 comes back before a byte of the body is sent: the server never waits for it.
    (Sending the body too makes the test racy: a server that closes with unread bytes in
    its receive buffer resets the connection, and the reset can discard the reply.)"""
    host, port = server.hostname.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /clitoken/itest HTTP/1.1\r\nHost: " + server.hostname.encode() + b"\r\n"
            b"Authorization: AWS4-HMAC-SHA256 nothing\r\n"
            b"Content-Length: 2097152\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert lines[0].startswith("HTTP/1.1 413"), reply[:300]
    assert headers["x-amzn-errortype"] == "RequestEntityTooLarge"
    assert headers["connection"] == "close"
    assert b"exceeds 1048576 bytes" in body


def test_every_answer_carries_a_request_id(mwaa, server):
    """AWS always sends x-amzn-RequestId (botocore: ResponseMetadata.RequestId), on errors
    too; each request its own."""
    import uuid

    ids = [mwaa.get_environment(Name="itest")["ResponseMetadata"]["RequestId"] for _ in range(2)]
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException) as missing:
        mwaa.get_environment(Name="other")
    ids.append(missing.value.response["ResponseMetadata"]["RequestId"])
    for request_id in ids:
        assert str(uuid.UUID(request_id)) == request_id
    assert len(set(ids)) == 3
    for method, path in (("GET", "/environments/itest"), ("POST", "/aws_mwaa/cli"), ("GET", "/x")):
        reply = httpx.request(method, server.url + path)  # unsigned / no token / unknown
        assert reply.status_code >= 400 and uuid.UUID(reply.headers["x-amzn-requestid"])
