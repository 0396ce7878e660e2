"""InvokeRestApi through the real app and real boto3, into a stand-in of Airflow's REST API
that echoes what reached it (tests/integration/fake_airflow_api.py): the path never leaves
/api/vN, the role's credentials go along, MWAA's limits and error shapes hold."""

from __future__ import annotations

import asyncio
import base64
import json
import socket

import boto3
import httpx
import pytest
from botocore.config import Config

from mwaa_cli.local.airflow_rest import AirflowRestApi, RestLimits, confine_path, parse_call
from mwaa_cli.local.api import EnvironmentInfo, LocalApp
from mwaa_cli.local.auth import AccessKey, SigV4Verifier
from mwaa_cli.local.cli_tokens import TokenSigner
from mwaa_cli.local.sessions import SessionStore

from . import fake_airflow_api
from .conftest import KEY, _start

VIEWER_KEY = AccessKey("AKIAMWAATESTVIEWER01", "viewer-secret-access-key-0123456789abcdef")
NO_ROLE_KEY = AccessKey("AKIAMWAATESTNOROLE01", "norole-secret-access-key-0123456789abcdef")


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@pytest.fixture(scope="module")
def fake_api():
    sock = _listen()
    server, thread = _start(fake_airflow_api.app, sock)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def rest_server(fake_api):
    sock = _listen()
    port = sock.getsockname()[1]
    info = EnvironmentInfo("rtest", "3.3.1", f"127.0.0.1:{port}", created_at=1_700_000_000.0)
    app = LocalApp(
        info,
        TokenSigner(b"r" * 32, ttl=60),
        lambda argv: None,  # type: ignore[arg-type,return-value]
        verifier=SigV4Verifier([KEY, VIEWER_KEY, NO_ROLE_KEY], "us-east-1"),
        rest=AirflowRestApi(
            fake_api,
            "/api/v2",
            3,
            lambda: dict(fake_airflow_api.PASSWORDS),
            RestLimits(timeout=1.0, max_reply=1024 * 1024),
        ),
        rest_roles={VIEWER_KEY.access_key_id: "Viewer", NO_ROLE_KEY.access_key_id: None},
    ).build()
    server, thread = _start(app, sock)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def _client(url: str, key: AccessKey = KEY):
    return boto3.client(
        "mwaa",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def mwaa(rest_server):
    return _client(rest_server)


def test_reply_shape_path_query_body_and_admin_login(mwaa):
    reply = mwaa.invoke_rest_api(
        Name="rtest",
        Path="/dags/d1/dagRuns",
        Method="POST",
        QueryParameters={"tags": ["a", "b"], "paused": False, "limit": 10, "gone": None},
        Body={"conf": {"k": 1}, "logical_date": None},
    )
    assert reply["RestApiStatusCode"] == 200
    echoed = reply["RestApiResponse"]
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/api/v2/dags/d1/dagRuns"
    assert echoed["query"] == [["tags", "a"], ["tags", "b"], ["paused", "false"], ["limit", "10"]]
    assert echoed["body"] == {"conf": {"k": 1}, "logical_date": None}  # nulls kept
    assert echoed["auth"].startswith("Bearer jwt-admin-")


def test_empty_body_on_get_is_not_sent(mwaa):
    echoed = mwaa.invoke_rest_api(
        Name="rtest", Path="/dags", Method="GET", Body={}, QueryParameters={}
    )["RestApiResponse"]
    assert echoed["method"] == "GET" and echoed["body"] is None and echoed["query"] == []


def test_run_ids_with_plus_and_colon_reach_airflow_as_sent(mwaa):
    run = "manual__2026-11-26T05:49:33.893389+00:00"
    echoed = mwaa.invoke_rest_api(Name="rtest", Path=f"/dags/d/dagRuns/{run}", Method="GET")
    assert echoed["RestApiResponse"]["path"] == f"/api/v2/dags/d/dagRuns/{run}"


def test_the_role_of_the_callers_key_logs_in(rest_server):
    echoed = _client(rest_server, VIEWER_KEY).invoke_rest_api(
        Name="rtest", Path="/dags", Method="GET"
    )["RestApiResponse"]
    assert echoed["auth"].startswith("Bearer jwt-viewer-")


def test_a_key_without_a_role_gets_the_access_denied_the_provider_falls_back_on(rest_server):
    client = _client(rest_server, NO_ROLE_KEY)
    with pytest.raises(client.exceptions.AccessDeniedException) as info:
        client.invoke_rest_api(Name="rtest", Path="/dags", Method="GET")
    # Amazon's MwaaHook falls back to the web login when the message names the Airflow role
    assert "Airflow role" in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_expired_jwt_is_renewed_once(mwaa):
    first = mwaa.invoke_rest_api(Name="rtest", Path="/x/expire", Method="GET")
    second = mwaa.invoke_rest_api(Name="rtest", Path="/x/expire", Method="GET")
    assert first["RestApiResponse"]["auth"] != second["RestApiResponse"]["auth"]


def test_airflow_4xx_is_rest_api_client_exception(mwaa):
    with pytest.raises(mwaa.exceptions.RestApiClientException) as info:
        mwaa.invoke_rest_api(Name="rtest", Path="/x/missing", Method="GET")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "RestApiClientException"
    assert response["RestApiStatusCode"] == 404
    assert response["RestApiResponse"] == {"detail": "DAG not found", "status": 404}


def test_airflow_5xx_is_rest_api_server_exception(mwaa):
    with pytest.raises(mwaa.exceptions.RestApiServerException) as info:
        mwaa.invoke_rest_api(Name="rtest", Path="/x/boom", Method="GET")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400  # as modelled
    assert response["RestApiStatusCode"] == 500
    assert response["RestApiResponse"] == {"detail": "boom", "status": 500}


def test_a_call_airflow_rolled_back_on_a_database_error_is_sent_again(mwaa):
    """SQLite's "database is locked" reaches callers as Airflow 3's 500 "Database error";
    the transaction was rolled back, so the call is sent again while the time limit allows
    (the fixture's is 1 s), then answered."""
    done = mwaa.invoke_rest_api(Name="rtest", Path="/dags/x/dagRuns/locked1", Method="POST")
    assert done["RestApiStatusCode"] == 200 and done["RestApiResponse"]["method"] == "POST"
    assert fake_airflow_api.LOCKED_CALLS["/api/v2/dags/x/dagRuns/locked1"] == 2
    with pytest.raises(mwaa.exceptions.RestApiServerException) as info:
        mwaa.invoke_rest_api(Name="rtest", Path="/dags/x/locked9", Method="GET")
    assert info.value.response["RestApiStatusCode"] == 500
    assert info.value.response["RestApiResponse"]["reason"] == "Database error"
    assert 2 <= fake_airflow_api.LOCKED_CALLS["/api/v2/dags/x/locked9"] <= 3  # 0.2 + 0.5 s


def test_no_content_and_text_replies(mwaa):
    empty = mwaa.invoke_rest_api(Name="rtest", Path="/x/empty", Method="DELETE")
    assert empty["RestApiStatusCode"] == 204 and empty["RestApiResponse"] == {}
    text = mwaa.invoke_rest_api(Name="rtest", Path="/x/text", Method="GET")
    assert text["RestApiResponse"] == "plain words"


def test_mwaa_limits_time_and_size(mwaa):
    with pytest.raises(mwaa.exceptions.RestApiServerException) as slow:
        mwaa.invoke_rest_api(Name="rtest", Path="/x/slow", Method="GET")
    assert slow.value.response["RestApiStatusCode"] == 504
    assert "did not answer within 1 s" in slow.value.response["RestApiResponse"]["detail"]
    with pytest.raises(mwaa.exceptions.RestApiServerException) as huge:
        mwaa.invoke_rest_api(Name="rtest", Path="/x/huge", Method="GET")
    assert huge.value.response["RestApiStatusCode"] == 502
    assert "exceeds 1048576 bytes" in huge.value.response["RestApiResponse"]["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/../auth/token",
        "/dags/..",
        "/dags/%2e%2e/%2e%2e/auth/token",
        "/dags/%2E%2E",
        "//evil.example/api",
        "http://evil.example/api/v2/dags",
        "dags",
        "/dags?limit=1",
        "/dags#frag",
        "/dags%3Flimit=1",
        "/dags\r\nX-Injected: 1",
        "/dags%0d%0aX-Injected:%201",
        "/dags\\..\\auth",
        "/dags/\x00",
    ],
)
def test_paths_that_would_leave_the_rest_api_are_refused(mwaa, path):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.invoke_rest_api(Name="rtest", Path=path, Method="GET")


def test_percent_encoded_slash_stays_below_the_prefix(mwaa):
    echoed = mwaa.invoke_rest_api(Name="rtest", Path="/dags/a%2fb", Method="GET")
    assert echoed["RestApiResponse"]["path"] == "/api/v2/dags/a/b"


@pytest.mark.parametrize(
    "params, member",
    [
        ({"Method": "HEAD"}, "method"),
        ({"Method": "get"}, "method"),
        ({"Body": [1, 2]}, "Body"),
        ({"Body": "text"}, "Body"),
        ({"QueryParameters": ["a"]}, "QueryParameters"),
        ({"QueryParameters": {"a": {"nested": 1}}}, "QueryParameters.a"),
    ],
)
def test_what_botocore_lets_through_is_validated(mwaa, params, member):
    call = {"Name": "rtest", "Path": "/dags", "Method": "GET", **params}
    with pytest.raises(mwaa.exceptions.ValidationException) as info:
        mwaa.invoke_rest_api(**call)
    assert member in info.value.response["Error"]["Message"]


def test_environment_name_pattern_and_unknown_environment(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.invoke_rest_api(Name="1bad", Path="/dags", Method="GET")
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException):
        mwaa.invoke_rest_api(Name="other", Path="/dags", Method="GET")


def test_unsigned_and_non_json_bodies(rest_server):
    unsigned = httpx.post(f"{rest_server}/restapi/rtest", json={"Path": "/dags", "Method": "GET"})
    assert unsigned.status_code in (401, 403), unsigned.text
    from .test_control_plane import _signed

    class Srv:
        url = rest_server

    reply = _signed(Srv, "POST", "/restapi/rtest", b"{not json")
    assert reply.status_code == 400 and reply.headers["x-amzn-ErrorType"] == "ValidationException"
    big = _signed(
        Srv, "POST", "/restapi/rtest", json.dumps({"Body": {"x": "y" * 2_000_000}}).encode()
    )
    assert big.status_code == 413


def test_airflow_2_basic_auth_and_prefix(fake_api):
    rest = AirflowRestApi(fake_api, "/api/v1", 2, lambda: dict(fake_airflow_api.PASSWORDS))
    call = parse_call({"Path": "/dags", "Method": "GET"})
    status, echoed = asyncio.run(rest.call("Op", call))
    assert status == 200 and echoed["path"] == "/api/v1/dags"
    assert echoed["auth"] == "Basic " + base64.b64encode(b"op:pw-op").decode()


def test_public_is_anonymous(fake_api):
    rest = AirflowRestApi(fake_api, "/api/v2", 3, lambda: dict(fake_airflow_api.PASSWORDS))
    status, reply = asyncio.run(rest.call("Public", parse_call({"Path": "/dags", "Method": "GET"})))
    assert status == 401 and reply == {"detail": "Not authenticated"}


def test_confine_path_keeps_ordinary_paths():
    assert confine_path("/dags/my.dag-1_x/tasks") == "/dags/my.dag-1_x/tasks"
    assert confine_path("/dags/x/dagRuns/~1") == "/dags/x/dagRuns/~1"
    assert confine_path("/variables/a%20b") == "/variables/a%20b"


def test_a_call_gets_the_whole_time_limit_not_httpx_default(fake_api):
    """MWAA ends an InvokeRestApi call after 10 s: a reply Airflow gives after 7 s (past
    httpx's default 5 s) still arrives."""
    from mwaa_cli.local.airflow_rest import RestCall

    rest = AirflowRestApi(
        fake_api, "/api/v2", 3, lambda: dict(fake_airflow_api.PASSWORDS), RestLimits(10.0)
    )

    async def call():
        try:
            return await rest.call("Admin", RestCall("GET", "/x/slow7"))
        finally:
            await rest.aclose()

    status, _ = asyncio.run(call())
    assert status == 200


SIDE_DOORS = [
    "/x/../execution/health",
    "/x/%2e%2e/execution/health",
    "/x/%2E%2E/execution/health",
    "/x/.%2e/execution/health",
    "/./execution/health",
    "/%2e/execution/health",
    "/x/..%2fexecution/health",
    "/x/..%2Fexecution/health",
    "/x%2f..%2f..%2fexecution/health",
    "/x\\..\\execution/health",
    "/x/..%5cexecution/health",
    "//execution/health",
    "/%65xecution/health",
    "/execution/health",
    "/home/../execution/task-instances/x/run",
]


@pytest.mark.parametrize("path", SIDE_DOORS)
def test_no_spelling_of_a_path_reaches_the_execution_api(rest_server, path):
    """The proxy decides on the path Airflow would see - percent-decoded, dot segments
    resolved - and a path that would change on the way is refused, never forwarded."""
    import http.client
    from urllib.parse import urlsplit

    before = len(fake_airflow_api.EXECUTION_HITS)
    url = urlsplit(rest_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", path)  # sent as written: no client-side normalisation
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    assert reply.status in (400, 404), (reply.status, body)
    assert len(fake_airflow_api.EXECUTION_HITS) == before, fake_airflow_api.EXECUTION_HITS


def test_the_ui_is_still_proxied(rest_server):
    reply = httpx.get(f"{rest_server}/home?x=1")
    assert reply.status_code == 200 and reply.text.startswith("ui /home\n")


def test_the_proxy_compresses_only_for_clients_that_ask_and_sends_one_date_and_server(
    rest_server,
):
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(rest_server)
    for accept, encoding in ((None, None), ("gzip", "gzip")):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        conn.request("GET", "/home", headers={"accept-encoding": accept} if accept else {})
        reply = conn.getresponse()
        body = reply.read()
        conn.close()
        headers = [k.lower() for k, _ in reply.getheaders()]
        assert reply.getheader("content-encoding") == encoding, reply.getheaders()
        if encoding is None:
            assert body.startswith(b"ui /home\n")
        assert headers.count("date") == 1 and headers.count("server") <= 1, headers


def _signed_post(url: str, path: str, body: bytes) -> httpx.Response:
    """A request botocore's own signer signs, with a body no SDK would build."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        "POST", url + path, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(
        Credentials(KEY.access_key_id, KEY.secret_access_key), "airflow", "us-east-1"
    ).add_auth(request)
    return httpx.post(url + path, content=body, headers=dict(request.headers.items()))


def test_deeply_nested_json_is_a_validation_error_not_a_500(rest_server):
    deep = (
        b'{"Path": "/dags", "Method": "POST", "Body": '
        + b'{"a": ' * 100_000
        + b"1"
        + b"}" * 100_001
    )
    reply = _signed_post(rest_server, "/restapi/rtest", deep)
    assert reply.status_code == 400, reply.text
    assert reply.headers["x-amzn-errortype"] == "ValidationException"


def test_an_oversize_query_is_a_validation_error_not_a_500(rest_server):
    mwaa = _client(rest_server)
    with pytest.raises(mwaa.exceptions.ValidationException) as caught:
        mwaa.invoke_rest_api(
            Name="rtest", Path="/dags", Method="GET", QueryParameters={"x": "a" * 70_000}
        )
    assert "QueryParameters encode to" in str(caught.value)


ROLE_KEYS = {
    "Viewer": AccessKey("AKIAMWAAPOLICYVIEWER", "policy-viewer-secret-0123456789abcdefgh"),
    "none": AccessKey("AKIAMWAAPOLICYNONE00", "policy-none-secret-0123456789abcdefghij"),
    "web-login": AccessKey("AKIAMWAAPOLICYWEB000", "policy-web-secret-0123456789abcdefghij"),
}


@pytest.fixture(scope="module")
def policy_server(fake_api):
    """An environment whose role keys carry MWAA's documented policies (local/policies.py)."""
    sock = _listen()
    port = sock.getsockname()[1]
    info = EnvironmentInfo("ptest", "3.3.1", f"127.0.0.1:{port}", created_at=1_700_000_000.0)
    app = LocalApp(
        info,
        TokenSigner(b"p" * 32, ttl=60),
        lambda argv: None,  # type: ignore[arg-type,return-value]
        verifier=SigV4Verifier([KEY, *ROLE_KEYS.values()], "us-east-1", sessions=SessionStore()),
        rest=AirflowRestApi(
            fake_api, "/api/v2", 3, lambda: dict(fake_airflow_api.PASSWORDS), RestLimits(5.0)
        ),
        rest_roles={k.access_key_id: (n if n == "Viewer" else None) for n, k in ROLE_KEYS.items()},
        key_names={k.access_key_id: n for n, k in ROLE_KEYS.items()},
    ).build()
    server, thread = _start(app, sock)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_role_keys_may_call_only_what_their_iam_policy_allows(policy_server):
    def denied(call) -> str:
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert error["Code"] == "AccessDeniedException", error
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return error["Message"]

    import botocore.exceptions

    admin = _client(policy_server)  # the environment's own key: everything
    assert admin.create_cli_token(Name="ptest")["CliToken"]
    for name, key in ROLE_KEYS.items():
        client = _client(policy_server, key)
        # read-only access: every role key
        assert client.get_environment(Name="ptest")["Environment"]["Name"] == "ptest"
        assert client.list_environments()["Environments"] == ["ptest"]
        # never a CLI token: an administrator's Airflow CLI
        message = denied(lambda c=client: c.create_cli_token(Name="ptest"))
        assert "airflow:CreateCliToken" in message and f"'{name}' key" in message
    viewer = _client(policy_server, ROLE_KEYS["Viewer"])
    assert viewer.create_web_login_token(Name="ptest")["AirflowIdentity"] == "assumed-role/viewer"
    assert (
        viewer.invoke_rest_api(Name="ptest", Path="/dags", Method="GET")["RestApiStatusCode"] == 200
    )
    none = _client(policy_server, ROLE_KEYS["none"])
    assert "airflow:CreateWebLoginToken" in denied(
        lambda: none.create_web_login_token(Name="ptest")
    )
    assert "airflow:InvokeRestApi" in denied(
        lambda: none.invoke_rest_api(Name="ptest", Path="/dags", Method="GET")
    )
    web = _client(policy_server, ROLE_KEYS["web-login"])
    assert web.create_web_login_token(Name="ptest")["AirflowIdentity"] == "assumed-role/admin"
    message = denied(lambda: web.invoke_rest_api(Name="ptest", Path="/dags", Method="GET"))
    # Amazon's provider falls back to the web login only when MWAA's message says so
    assert "airflow:InvokeRestApi" in message and "Airflow role" in message


def _cli_env(url: str, tmp_path) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MWAA_"))}
    return env | {
        "AWS_ENDPOINT_URL_MWAA": url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": KEY.access_key_id,
        "AWS_SECRET_ACCESS_KEY": KEY.secret_access_key,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "MWAA_ENV": "rtest",
        "MWAA_AIRFLOW_VERSION": "3.3.1",
        "MWAA_CLI_HOME": str(tmp_path / "home"),
    }


def test_trigger_wait_and_mwaa_wait_ride_out_504s(rest_server, tmp_path):
    """A 504 while following a run is not the run's end: `mwaa trigger --wait` and `mwaa wait`
    check again and report the run's real outcome (they used to give up on the first one)."""
    import subprocess
    import sys

    env = _cli_env(rest_server, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mwaa_cli", "trigger", "flaky", "--wait", "--poll", "0.1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "checking again" in done.stderr and "run r1: success" in done.stdout
    run = "r2"
    fake_airflow_api.RUN_READS[run] = 0
    waited = subprocess.run(
        [sys.executable, "-m", "mwaa_cli", "wait", "flaky", run, "--poll", "0.1", "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["state"] == "success"
    assert waited.stderr.count("checking again") == 3


def test_assume_role_gives_temporary_credentials_with_their_roles_permissions(policy_server):
    """STS AssumeRole (what the Amazon provider's system test does for its IAM fallback):
    temporary credentials that SigV4 accepts with their session token; a role named after a
    role key carries that key's policy (web-login: no InvokeRestApi, so the provider falls
    back to the web login), and a role key cannot assume its way up."""
    import botocore.exceptions

    def sts(key: AccessKey):
        return boto3.client(
            "sts",
            endpoint_url=policy_server,
            region_name="us-east-1",
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
        )

    def mwaa_as(creds: dict, token: str | None = None):
        return boto3.client(
            "mwaa",
            endpoint_url=policy_server,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=token or creds["SessionToken"],
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
        )

    assumed = sts(KEY).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/web-login", RoleSessionName="fallback"
    )
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Expiration"]
    assert assumed["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::000000000000:assumed-role/web-login/fallback"
    )
    fallback = mwaa_as(creds)
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        fallback.invoke_rest_api(Name="ptest", Path="/dags", Method="GET")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert fallback.create_web_login_token(Name="ptest")["AirflowIdentity"] == "assumed-role/admin"
    who = boto3.client(
        "sts",
        endpoint_url=policy_server,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).get_caller_identity()
    assert who["Arn"] == "arn:aws:sts::000000000000:assumed-role/web-login/fallback"
    # the key without its session token, or with another: refused
    with pytest.raises(botocore.exceptions.ClientError) as forged:
        mwaa_as(creds, token="not-the-token").get_environment(Name="ptest")
    assert forged.value.response["Error"]["Code"] == "UnrecognizedClientException"
    # any other role: the assuming key's own permissions (the environment's: everything)
    full = sts(KEY).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/deployer", RoleSessionName="ci", DurationSeconds=900
    )["Credentials"]
    assert mwaa_as(full).create_cli_token(Name="ptest")["CliToken"]
    # a role key cannot assume its way up
    up = sts(ROLE_KEYS["Viewer"]).assume_role(
        RoleArn="arn:aws:iam::000000000000:role/Admin", RoleSessionName="sneaky"
    )["Credentials"]
    assert mwaa_as(up).create_web_login_token(Name="ptest")["AirflowIdentity"] == (
        "assumed-role/viewer"
    )
    with pytest.raises(botocore.exceptions.ClientError):
        mwaa_as(up).create_cli_token(Name="ptest")
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        sts(KEY).assume_role(RoleArn="arn:aws:iam::12345:user/not-a-role", RoleSessionName="x1")
    assert bad.value.response["Error"]["Code"] == "ValidationError"
