"""InvokeRestApi end to end: real Airflow behind `mwaa local serve` on the 3.3.1 and 2.10.3
runtimes, called by boto3, the unmodified AWS CLI, `mwaa api` and the library."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
import requests
from botocore.config import Config

from mwaa_cli import Client
from mwaa_cli.client.rest import RestClientError

from .conftest import LocalEnv, wait_for_dags

SAMPLE_DAGS = {"hello_mwaa", "etl_with_params", "daily_report"}


@pytest.fixture(autouse=True)
def _airflow_ready(request):
    """The environment's API server answers and has the sample DAGs."""
    local = request.getfixturevalue("flow_env")
    local.wait_for_api()
    wait_for_dags(local, SAMPLE_DAGS)


def boto_mwaa(local: LocalEnv, key: dict | None = None):
    return local.boto3_mwaa(key, retries={"max_attempts": 1})


def trigger_body(local: LocalEnv, conf: dict) -> dict:
    """What Airflow's trigger endpoint takes: 3.x requires logical_date (null: now)."""
    if local.airflow_version.startswith("3"):
        return {"logical_date": None, "conf": conf}
    return {"conf": conf}


def test_boto3_lists_triggers_and_reads_a_run_back(flow_env):
    mwaa = boto_mwaa(flow_env)
    listed = mwaa.invoke_rest_api(Name="local", Path="/dags", Method="GET")
    assert listed["RestApiStatusCode"] == 200
    assert {d["dag_id"] for d in listed["RestApiResponse"]["dags"]} >= SAMPLE_DAGS

    created = mwaa.invoke_rest_api(
        Name="local",
        Path="/dags/hello_mwaa/dagRuns",
        Method="POST",
        Body=trigger_body(flow_env, {"from": "rest"}),
        QueryParameters={},
    )
    assert created["RestApiStatusCode"] == 200
    run_id = created["RestApiResponse"]["dag_run_id"]
    read = mwaa.invoke_rest_api(
        Name="local", Path=f"/dags/hello_mwaa/dagRuns/{run_id}", Method="GET", Body={}
    )["RestApiResponse"]
    assert read["dag_run_id"] == run_id
    assert read["conf"] == {"from": "rest"}
    assert read["state"] in ("queued", "running", "success")
    # the run is real: the CLI sees it too
    runs = flow_env.mwaa("run", "--", "dags", "list-runs", "hello_mwaa", "-o", "json", check=True)
    assert run_id in runs.stdout.decode()


def test_a_missing_dag_is_rest_api_client_exception_with_airflows_body(flow_env):
    mwaa = boto_mwaa(flow_env)
    with pytest.raises(mwaa.exceptions.RestApiClientException) as info:
        mwaa.invoke_rest_api(Name="local", Path="/dags/no_such_dag", Method="GET")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["RestApiStatusCode"] == 404
    assert "no_such_dag" in json.dumps(response["RestApiResponse"])


def test_bad_method_and_path_are_validation_exceptions(flow_env):
    mwaa = boto_mwaa(flow_env)
    for call in (
        {"Path": "/dags", "Method": "HEAD"},
        {"Path": "/../config", "Method": "GET"},
        {"Path": "/dags", "Method": "POST", "Body": [1]},
    ):
        with pytest.raises(mwaa.exceptions.ValidationException):
            mwaa.invoke_rest_api(Name="local", **call)


def test_list_and_boolean_query_values_reach_airflow(flow_env):
    mwaa = boto_mwaa(flow_env)

    def count(**query) -> int:
        reply = mwaa.invoke_rest_api(
            Name="local", Path="/dags", Method="GET", QueryParameters=query
        )
        return reply["RestApiResponse"]["total_entries"]

    total = count()
    assert total >= 3
    assert count(paused=True) + count(paused=False) == total
    assert count(tags=["sample"]) >= 1
    assert count(tags=["no-such-tag-anywhere"]) == 0
    assert count(limit=1, dag_id_pattern="hello") == 1


def test_the_unmodified_aws_cli(flow_env):
    env = flow_env.aws_environ()
    ok = subprocess.run(
        [
            "aws",
            "mwaa",
            "invoke-rest-api",
            "--name",
            "local",
            "--path",
            "/dags",
            "--method",
            "GET",
            "--query-parameters",
            '{"limit": 1}',
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    reply = json.loads(ok.stdout)
    assert reply["RestApiStatusCode"] == 200 and len(reply["RestApiResponse"]["dags"]) == 1
    missing = subprocess.run(
        [
            "aws",
            "mwaa",
            "invoke-rest-api",
            "--name",
            "local",
            "--path",
            "/dags/nope",
            "--method",
            "GET",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "RestApiClientException" in missing.stderr


def test_mwaa_api_command(flow_env, tmp_path):
    merged = flow_env.mwaa("api", "GET", "/dags", "-q", "limit=1", "--paginate")
    assert merged.returncode == 0, merged.stderr
    doc = json.loads(merged.stdout)
    assert len(doc["dags"]) == doc["total_entries"] >= 3  # one page of one, three times

    body = tmp_path / "variable.json"
    body.write_text(json.dumps({"key": "rest_key", "value": "from mwaa api"}))
    created = flow_env.mwaa("api", "POST", "/variables", "--body", f"@{body}")
    assert created.returncode == 0, created.stderr
    got = flow_env.mwaa("run", "--", "variables", "get", "rest_key", check=True)
    assert got.stdout.decode().strip().endswith("from mwaa api")
    assert flow_env.mwaa("api", "DELETE", "/variables/rest_key").returncode == 0

    missing = flow_env.mwaa("api", "GET", "/dags/no_such_dag")
    assert missing.returncode == 1
    assert "404" in missing.stderr.decode() and "no_such_dag" in missing.stderr.decode()
    assert "no_such_dag" in json.loads(missing.stdout)["detail"]
    usage = flow_env.mwaa("api", "POST", "/variables", "--body", "[1]")
    assert usage.returncode == 2 and b"JSON object" in usage.stderr


def test_library_api(flow_env, monkeypatch):
    for key, value in flow_env.aws_environ().items():
        monkeypatch.setenv(key, value)
    with Client("local") as client:
        reply = client.api("GET", "/dags", {"limit": 2})
        assert reply.status == 200 and len(reply.body["dags"]) == 2
        with pytest.raises(RestClientError) as info:
            client.api("GET", "/dags/no_such_dag")
    assert info.value.status == 404


def role_key(local: LocalEnv, role: str) -> dict:
    """The environment's key pair for an Airflow role (HOME/role-keys.json)."""
    return json.loads((local.home / "role-keys.json").read_text())[role]


def test_each_role_key_calls_as_its_airflow_role(flow_env):
    viewer = boto_mwaa(flow_env, role_key(flow_env, "Viewer"))
    assert (
        viewer.invoke_rest_api(Name="local", Path="/dags", Method="GET")["RestApiStatusCode"] == 200
    )
    with pytest.raises(viewer.exceptions.RestApiClientException) as info:
        viewer.invoke_rest_api(
            Name="local",
            Path="/dags/hello_mwaa/dagRuns",
            Method="POST",
            Body=trigger_body(flow_env, {}),
        )
    assert info.value.response["RestApiStatusCode"] == 403  # Airflow's own refusal
    op = boto_mwaa(flow_env, role_key(flow_env, "Op"))
    created = op.invoke_rest_api(
        Name="local",
        Path="/dags/hello_mwaa/dagRuns",
        Method="POST",
        Body=trigger_body(flow_env, {}),
    )
    assert created["RestApiStatusCode"] == 200
    public = boto_mwaa(flow_env, role_key(flow_env, "Public"))
    with pytest.raises(public.exceptions.RestApiClientException) as anonymous:
        public.invoke_rest_api(Name="local", Path="/dags", Method="GET")
    assert anonymous.value.response["RestApiStatusCode"] in (401, 403)
    none = boto_mwaa(flow_env, role_key(flow_env, "none"))
    with pytest.raises(none.exceptions.AccessDeniedException) as denied:
        none.invoke_rest_api(Name="local", Path="/dags", Method="GET")
    assert "airflow:InvokeRestApi" in denied.value.response["Error"]["Message"]


def web_session(local: LocalEnv) -> tuple[requests.Session, str, requests.Response]:
    """A web login as Amazon's provider does it: CreateWebLoginToken, then the login POST."""
    token = boto_mwaa(local).create_web_login_token(Name="local")
    host = token["WebServerHostname"]
    session = requests.Session()
    session.verify = local.ca_bundle
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over session.verify
    path = (
        "/pluginsv2/aws_mwaa/login" if local.airflow_version.startswith("3") else "/aws_mwaa/login"
    )
    login = session.post(f"https://{host}{path}", data={"token": token["WebToken"]}, timeout=30)
    login.raise_for_status()
    # a web login token works once
    again = requests.post(
        f"https://{host}{path}", data={"token": token["WebToken"]}, verify=local.ca_bundle
    )
    assert again.status_code == 403 and "already used" in again.text
    return session, host, login


def test_web_login_gives_airflows_session_on_the_same_tls(flow_env):
    session, host, login = web_session(flow_env)
    base = f"https://{host}"
    if flow_env.airflow_version.startswith("3"):
        jwt = login.cookies["_token"]  # what the provider reads, then sends as Bearer
        api = requests.get(
            f"{base}/api/v2/dags",
            headers={"Authorization": f"Bearer {jwt}"},
            verify=flow_env.ca_bundle,
            params={"limit": 1},
        )
    else:
        assert "session" in login.cookies
        api = session.get(f"{base}/api/v1/dags", params={"limit": 1})
    assert api.status_code == 200, api.text
    assert api.json()["total_entries"] >= 3
    # the UI itself, logged in, through the same endpoint
    page = session.get(f"{base}/" if flow_env.airflow_version.startswith("3") else f"{base}/home")
    assert page.status_code == 200 and "Airflow" in page.text
    # nobody else gets in: no session, no REST API; the task execution API is not exposed
    anonymous = requests.get(f"{base}{flow_env.rest_prefix}/dags", verify=flow_env.ca_bundle)
    assert anonymous.status_code in (401, 403)
    assert requests.get(f"{base}/execution/health", verify=flow_env.ca_bundle).status_code == 404
    # the control plane's own paths stay AWS errors
    wrong = requests.put(f"{base}/environments/local", verify=flow_env.ca_bundle)
    assert wrong.headers.get("x-amzn-ErrorType") == "MethodNotAllowed"


def test_console_sign_in_page_posts_the_fragment(flow_env, monkeypatch):
    import socket

    url = flow_env.mwaa("ui", "--print", check=True).stdout.decode().strip()
    host = f"local-{flow_env.port}.mwaa.localhost"  # the browser's name for it (RFC 6761)
    assert url.startswith(f"https://{host}:{flow_env.port}/aws_mwaa/aws-console-sso?login=true#")
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda h, *a, **k: real("127.0.0.1" if h == host else h, *a, **k),
    )
    page = requests.get(url.split("#")[0], verify=flow_env.ca_bundle)
    login = (
        "/pluginsv2/aws_mwaa/login"
        if flow_env.airflow_version.startswith("3")
        else "/aws_mwaa/login"
    )
    assert page.status_code == 200 and f'action="{login}"' in page.text
    # what the page's script does: post the fragment as the form's token
    done = requests.post(
        f"https://{host}:{flow_env.port}{login}",
        data={"token": url.split("#", 1)[1]},
        verify=flow_env.ca_bundle,
    )
    assert done.status_code == 200 and done.cookies


def test_trigger_wait_follows_the_run_and_logs_reads_it(flow_env):
    done = flow_env.mwaa(
        "trigger",
        "hello_mwaa",
        "--unpause",
        "--wait",
        "--poll",
        "1",
        "--conf",
        '{"k": 1}',
        "--json",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["state"] == "success" and record["conf"] == {"k": 1}
    progress = done.stderr.decode()
    assert "say_hello" in progress and "add" in progress
    assert f"run {record['dag_run_id']}: success" in progress
    run = record["dag_run_id"]

    one = flow_env.mwaa("logs", "hello_mwaa", run, "say_hello")
    assert one.returncode == 0, one.stderr
    assert "hello from mwaa-cli" in one.stdout.decode()
    every = json.loads(flow_env.mwaa("logs", "hello_mwaa", run, "--json", check=True).stdout)
    assert {d["task_id"] for d in every} == {"say_hello", "add"}
    assert all(d["try_number"] == 1 and d["lines"] for d in every)
    missing = flow_env.mwaa("logs", "hello_mwaa", run, "no_such_task")
    assert missing.returncode == 1 and b"its tasks: add, say_hello" in missing.stderr


def test_logs_follow_a_running_task(flow_env):
    started = flow_env.mwaa("trigger", "hello_mwaa", "--unpause", check=True)
    run = started.stdout.decode().strip()
    followed = flow_env.mwaa("logs", "hello_mwaa", run, "say_hello", "--follow", "--poll", "1")
    assert followed.returncode == 0, followed.stderr
    assert "hello from mwaa-cli" in followed.stdout.decode()
    # it ended because the task did: the run is past say_hello
    state = flow_env.mwaa("run", "--", "tasks", "state", "hello_mwaa", "say_hello", run, check=True)
    assert b"success" in state.stdout


def test_login_cookies_never_cross_environments(local_env, flow_env, monkeypatch):
    """Browsers scope cookies by host, not port: two environments on 127.0.0.1 would share
    every login cookie. `mwaa ui` opens each environment on a host name of its own
    (NAME-PORT.mwaa.localhost, which browsers resolve to loopback; the certificate covers
    it), so a browser's cookie jar keeps each environment's session to itself."""
    import socket
    from urllib.parse import urlsplit

    if flow_env is local_env:
        pytest.skip("needs a second environment: the Airflow 2 one")
    real = socket.getaddrinfo

    def browser_resolver(host, *args, **kwargs):  # RFC 6761, as browsers resolve it
        if isinstance(host, str) and host.endswith(".mwaa.localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", browser_resolver)
    urls = {}
    for env in (local_env, flow_env):
        out = env.mwaa("ui", "--print", check=True).stdout.decode().strip()
        parts = urlsplit(out)
        assert parts.hostname == f"local-{env.port}.mwaa.localhost", out
        urls[env.port] = out
    browser = requests.Session()  # one cookie jar, as a browser has
    browser.trust_env = False
    a, b = local_env, flow_env
    a_url = urlsplit(urls[a.port])
    page = browser.get(urls[a.port].split("#")[0], verify=a.ca_bundle, timeout=30)
    assert page.status_code == 200  # the certificate covers the host name
    login = browser.post(
        f"https://{a_url.netloc}/pluginsv2/aws_mwaa/login",
        data={"token": a_url.fragment},
        verify=a.ca_bundle,
        timeout=30,
    )
    login.raise_for_status()
    assert {c.domain for c in browser.cookies} == {f"local-{a.port}.mwaa.localhost"}
    to_b = browser.get(f"https://local-{b.port}.mwaa.localhost:{b.port}/health", verify=b.ca_bundle)
    assert to_b.status_code == 200 and "cookie" not in {k.lower() for k in to_b.request.headers}
    to_a = browser.get(f"https://{a_url.netloc}/health", verify=a.ca_bundle)
    assert "_token=" in to_a.request.headers.get("cookie", "")


def test_sdks_that_inject_host_prefixes_reach_the_environment(flow_env, monkeypatch):
    """Go SDK v2 and terraform put `api.`/`env.` before the endpoint's host and cannot turn
    it off: with the endpoint https://localhost:PORT those are api.localhost and
    env.localhost - loopback to resolvers that follow RFC 6761 (Go's, systemd's; simulated
    here) - and the certificate covers them. botocore with injection on stands in for them."""
    import socket

    real = socket.getaddrinfo
    asked: set[str] = set()

    def rfc6761(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            asked.add(host)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rfc6761)
    client = boto3.client(
        "mwaa",
        endpoint_url=f"https://localhost:{flow_env.port}",
        region_name="us-east-1",
        aws_access_key_id=flow_env.key["AccessKeyId"],
        aws_secret_access_key=flow_env.key["SecretAccessKey"],
        verify=flow_env.ca_bundle,
        config=Config(inject_host_prefix=True, retries={"max_attempts": 1}),
    )
    assert client.list_environments()["Environments"] == ["local"]
    assert client.get_environment(Name="local")["Environment"]["Status"] == "AVAILABLE"
    assert client.create_cli_token(Name="local")["CliToken"]
    reply = client.invoke_rest_api(Name="local", Path="/dags", Method="GET")
    assert reply["RestApiStatusCode"] == 200
    assert {"api.localhost", "env.localhost"} <= asked  # the prefixes really were used
