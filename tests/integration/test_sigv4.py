"""The control plane lets in exactly the callers real AWS would: SigV4 checked with
botocore's own signer, rejections with AWS's error codes."""

import datetime as dt

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from mwaa_cli.local.auth import AuthFailure, SigV4Verifier

from .conftest import KEY


def client(server, key_id=KEY.access_key_id, secret=KEY.secret_access_key, region="us-east-1"):
    return boto3.client(
        "mwaa",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def error_code(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_valid_signature_is_accepted(server):
    assert client(server).get_environment(Name="itest")["Environment"]["Name"] == "itest"


def test_wrong_secret(server):
    mwaa = client(server, secret="not-the-secret")
    assert error_code(lambda: mwaa.create_cli_token(Name="itest")) == "InvalidSignatureException"


def test_unknown_key(server):
    mwaa = client(server, key_id="AKIAUNKNOWN000000000")
    assert error_code(lambda: mwaa.list_environments()) == "UnrecognizedClientException"


def test_wrong_region_scope(server):
    mwaa = client(server, region="eu-west-1")
    assert error_code(lambda: mwaa.get_environment(Name="itest")) == "InvalidSignatureException"


def test_unsigned_request(server):
    r = httpx.get(server.url + "/environments")
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    r = httpx.post(server.url + "/clitoken/itest")
    assert r.status_code == 403


def _signed(server, body=b"", path="/clitoken/itest"):
    request = AWSRequest(method="POST", url=server.url + path, data=body)
    SigV4Auth(
        Credentials(KEY.access_key_id, KEY.secret_access_key), "airflow", "us-east-1"
    ).add_auth(request)
    return request


def test_signed_by_hand_with_botocore_is_accepted(server):
    request = _signed(server, b"{}")
    r = httpx.post(request.url, content=request.body, headers=dict(request.headers))
    assert r.status_code == 200 and "CliToken" in r.json()


def test_tampered_body(server):
    request = _signed(server, b'{"a": 1}')
    r = httpx.post(request.url, content=b'{"a": 2}', headers=dict(request.headers))
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_tampered_path(server):
    request = _signed(server, b"", path="/clitoken/itest")
    r = httpx.get(server.url + "/environments/itest", headers=dict(request.headers))
    assert r.status_code == 403


def test_signature_older_or_newer_than_five_minutes(server):
    request = _signed(server, b"")
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = server.hostname  # what the HTTP client would send
    verifier = SigV4Verifier([KEY], "us-east-1")
    signed_at = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.timezone.utc
    )
    assert verifier.verify("POST", request.url, headers, b"", now=signed_at) == KEY.access_key_id
    ok_late = signed_at + dt.timedelta(minutes=4, seconds=59)
    assert verifier.verify("POST", request.url, headers, b"", now=ok_late)
    for skew, word in (
        (dt.timedelta(minutes=6), "expired"),
        (dt.timedelta(minutes=-6), "not yet current"),
    ):
        with pytest.raises(AuthFailure, match=word) as info:
            verifier.verify("POST", request.url, headers, b"", now=signed_at + skew)
        assert info.value.code == "InvalidSignatureException"


def test_garbage_authorization_header(server):
    r = httpx.get(server.url + "/environments", headers={"Authorization": "AWS4-HMAC-SHA256 x"})
    assert r.status_code == 400
    assert r.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
