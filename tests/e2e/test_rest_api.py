"""InvokeRestApi end to end: real Airflow behind `mwaa local serve` on the 3.3.1 and 2.10.3
runtimes, called by boto3, the unmodified AWS CLI, `mwaa api` and the library."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from botocore.config import Config

from mwaa_cli import Client
from mwaa_cli.client.rest import RestClientError

from .conftest import LocalEnv, start_local_env, stop, wait_for_dags

SAMPLE_DAGS = {"hello_mwaa", "etl_with_params", "daily_report"}


@pytest.fixture(autouse=True)
def _airflow_ready(request):
    """The environment's API server answers and has the sample DAGs."""
    for name in ("flow_env", "viewer_env"):
        if name in request.fixturenames:
            local = request.getfixturevalue(name)
            local.wait_for_api()
            wait_for_dags(local, SAMPLE_DAGS)


def boto_mwaa(local: LocalEnv):
    return boto3.client(
        "mwaa",
        endpoint_url=local.endpoint,
        region_name="us-east-1",
        aws_access_key_id=local.key["AccessKeyId"],
        aws_secret_access_key=local.key["SecretAccessKey"],
        verify=local.ca_bundle if local.tls else None,
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


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


@pytest.fixture(scope="module")
def viewer_env(tmp_path_factory):
    """An environment whose key calls InvokeRestApi as Airflow's Viewer, with a tiny reply cap."""
    local = start_local_env(
        tmp_path_factory.mktemp("viewer"), "--rest-role", "Viewer", "--rest-max-reply", "0.002"
    )
    try:
        wait_for_dags(local, SAMPLE_DAGS)
        yield local
    finally:
        stop(local)


def test_a_viewer_reads_but_cannot_trigger(viewer_env):
    mwaa = boto_mwaa(viewer_env)
    one = mwaa.invoke_rest_api(
        Name="local", Path="/dags", Method="GET", QueryParameters={"limit": 1}
    )
    assert one["RestApiStatusCode"] == 200
    with pytest.raises(mwaa.exceptions.RestApiClientException) as info:
        mwaa.invoke_rest_api(
            Name="local",
            Path="/dags/hello_mwaa/dagRuns",
            Method="POST",
            Body=trigger_body(viewer_env, {}),
        )
    assert info.value.response["RestApiStatusCode"] == 403


def test_a_reply_over_the_cap_is_a_server_exception(viewer_env):
    mwaa = boto_mwaa(viewer_env)
    with pytest.raises(mwaa.exceptions.RestApiServerException) as info:
        mwaa.invoke_rest_api(Name="local", Path="/dags", Method="GET")
    assert info.value.response["RestApiStatusCode"] == 502
    assert "exceeds 2097 bytes" in info.value.response["RestApiResponse"]["detail"]
