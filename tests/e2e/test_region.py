"""The local region end to end: `mwaa local up`, the unmodified AWS CLI and boto3 creating,
updating, tagging and deleting environments whose sources live in an S3 server (moto's,
started here) or a local folder, two Airflow versions at once, restarts and kill -9.

The tests run in order on one region (each step builds on the state the one before left).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shlex
import signal
import ssl
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from mwaa_cli.local.region.children import is_locked

from .conftest import AIRFLOW2, BIN, alive, descendants, free_port, require_runtime

pytestmark = pytest.mark.e2e
DEFAULT_VERSION = "3.3.1"
AWS = Path(__file__).resolve().parents[2] / ".tools" / "awscli" / "bin" / "aws"

FIGLET_DAG = """
from datetime import datetime
try:
    from airflow.sdk import DAG
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:
    from airflow import DAG
    from airflow.operators.python import PythonOperator


def show():
    import pyfiglet  # from the environment's requirements.txt

    print("FIGLET-OK " + pyfiglet.figlet_format("ok").splitlines()[0])


with DAG("figlet", start_date=datetime(2024, 1, 1), schedule=None, catchup=False):
    PythonOperator(task_id="show", python_callable=show)
"""

PROBE_DAG = FIGLET_DAG.replace('"figlet"', '"probe"').replace(
    """    import pyfiglet  # from the environment's requirements.txt

    print("FIGLET-OK " + pyfiglet.figlet_format("ok").splitlines()[0])""",
    """    import os

    import region_helpers  # from plugins.zip

    print("PROBE plugin=" + region_helpers.GREETING)
    print("PROBE startup=" + os.environ.get("REGION_STARTUP", "unset"))""",
)
# a DAG that needs nothing the environment may not have yet (the requirements update that
# brings pyfiglet is a slow test, run apart)
NEW_DAG = PROBE_DAG.replace('"probe"', '"synced_later"')


@dataclass
class Region:
    root: Path
    port: int
    up_env: dict[str, str]  # what `mwaa local up` runs with (S3 endpoint and credentials)
    env: dict[str, str] = field(default_factory=dict)  # what clients run with (env.sh)
    s3: object = None
    versions: dict[str, str] = field(default_factory=dict)  # requirements version ids
    seen: dict[str, list[str]] = field(default_factory=dict)  # statuses seen while polling

    def mwaa(self, *argv: str, timeout: float = 300, env: dict | None = None):
        return subprocess.run(
            [str(BIN / "mwaa"), *argv],
            capture_output=True,
            timeout=timeout,
            env=env or self.env,
        )

    def up(self) -> subprocess.CompletedProcess:
        out = self.mwaa(
            "local", "up", "--port", str(self.port), "--no-profile",
            "--bucket", f"greenbucket={self.root / 'greenbucket'}",
            "--dag-sync-interval", "3",
            env=self.up_env, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr.decode()[-3000:]
        exports = {}
        for line in (self.root / "home" / "region" / "env.sh").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[7:].partition("=")
                exports[key] = shlex.split(value)[0]
        self.env = {**self.base_env(), **exports}
        return out

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
        }
        return env | {
            "MWAA_CLI_HOME": str(self.root / "home"),
            "AWS_CONFIG_FILE": str(self.root / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "aws-credentials"),
            "PATH": f"{BIN}:{env.get('PATH', '')}",
        }

    def aws(self, *argv: str) -> dict:
        out = subprocess.run(
            [str(AWS), "mwaa", *argv, "--output", "json"],
            capture_output=True,
            timeout=120,
            env=self.env,
        )
        assert out.returncode == 0, out.stderr.decode()
        return json.loads(out.stdout or b"{}")

    def aws_fails(self, *argv: str) -> str:
        out = subprocess.run(
            [str(AWS), "mwaa", *argv], capture_output=True, timeout=120, env=self.env
        )
        assert out.returncode != 0
        return out.stderr.decode()

    def client(self, validate: bool = True):
        return boto3.session.Session().client(
            "mwaa",
            endpoint_url=self.env["AWS_ENDPOINT_URL_MWAA"],
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            verify=self.env["AWS_CA_BUNDLE"],
            config=Config(
                inject_host_prefix=False,
                parameter_validation=validate,
                retries={"max_attempts": 1},
            ),
        )

    def wait(self, name: str, wanted: set[str], timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        seen = self.seen.setdefault(name, [])
        while time.monotonic() < deadline:
            env = self.aws("get-environment", "--name", name)["Environment"]
            if not seen or seen[-1] != env["Status"]:
                seen.append(env["Status"])
            if env["Status"] in wanted:
                return env
            time.sleep(0.5)
        log = (self.root / "home" / "region" / "region.log").read_text()[-3000:]
        raise AssertionError(f"{name} never reached {wanted} (saw {seen})\n{log}")

    def run_cli(self, name: str, *command: str):
        out = self.mwaa("run", "--env", name, "--", *command)
        return out.returncode, out.stdout.decode() + out.stderr.decode()

    def stdout(self, name: str, *command: str) -> tuple[int, str]:
        out = self.mwaa("run", "--env", name, "--", *command)
        return out.returncode, out.stdout.decode()

    def wait_dags(self, name: str, dag_id: str, timeout: float = 180) -> None:
        """Until the scheduler side has registered ``dag_id`` (``dags list`` reads the DB)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            out = self.mwaa("run", "--env", name, "--", "dags", "list", "-o", "json")
            text = out.stdout.decode() + out.stderr.decode()
            if out.returncode == 0:
                try:
                    listed = json.loads(out.stdout)
                except ValueError:
                    listed = []
                if any(d["dag_id"] == dag_id and d.get("is_paused") is not None for d in listed):
                    return
            time.sleep(1)
        raise AssertionError(f"{dag_id} never listed on {name}: {text[-1000:]}")

    def region_pid(self) -> int:
        status = json.loads(self.mwaa("local", "status", "--json").stdout)
        assert status["running"], status
        return status["pid"]

    def env_pids(self) -> set[int]:
        """The region and every process below it (the environments' servers, Airflow)."""
        pid = self.region_pid()
        return {pid, *descendants(pid)}


def _gone(pids: set[int], timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return left
        time.sleep(0.3)
    return {p for p in pids if alive(p)}


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    require_runtime(DEFAULT_VERSION)
    require_runtime(AIRFLOW2)
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per S3 request

    root = tmp_path_factory.mktemp("region")
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    s3_endpoint = f"http://127.0.0.1:{s3_port}"
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # blue's bucket, in S3: versioned, as MWAA requires
    s3.create_bucket(Bucket="blue-bucket")
    s3.put_bucket_versioning(Bucket="blue-bucket", VersioningConfiguration={"Status": "Enabled"})
    dags = Path(__file__).resolve().parents[2] / "src" / "mwaa_cli" / "local" / "sample_dags"
    for dag in dags.glob("*.py"):
        s3.put_object(Bucket="blue-bucket", Key=f"dags/{dag.name}", Body=dag.read_bytes())
    s3.put_object(Bucket="blue-bucket", Key="dags/figlet.py", Body=FIGLET_DAG.encode())
    s3.put_object(Bucket="blue-bucket", Key="dags/probe.py", Body=PROBE_DAG.encode())
    plugins = io.BytesIO()
    with zipfile.ZipFile(plugins, "w") as archive:
        archive.writestr("region_helpers.py", 'GREETING = "from-plugins-zip"\n')
    s3.put_object(Bucket="blue-bucket", Key="plugins.zip", Body=plugins.getvalue())
    s3.put_object(
        Bucket="blue-bucket", Key="scripts/startup.sh", Body=b"export REGION_STARTUP=from-s3\n"
    )
    versions = {}
    for label, text in (
        ("none", "# nothing yet\n"),
        ("figlet", "pyfiglet==1.0.2\n"),
        ("broken", "pyfiglet==1.0.2\nthis-package-does-not-exist-mwaa-cli==9.9.9\n"),
    ):
        reply = s3.put_object(Bucket="blue-bucket", Key="requirements.txt", Body=text.encode())
        versions[label] = reply["VersionId"]
    # green's bucket: a local folder (the zero-setup case)
    green = root / "greenbucket" / "dags"
    green.mkdir(parents=True)
    for dag in dags.glob("*.py"):
        (green / dag.name).write_bytes(dag.read_bytes())

    state = Region(root, free_port(), {}, s3=s3, versions=versions)
    state.up_env = state.base_env() | creds | {"AWS_ENDPOINT_URL_S3": s3_endpoint}
    state.up()
    try:
        yield state
    finally:
        try:
            pids = state.env_pids()
        except (AssertionError, ValueError):
            pids = set()
        state.mwaa("local", "down", timeout=300)
        _gone(pids)
        moto.stop()


def test_create_environments_with_the_aws_cli_and_boto3(region, tmp_path):
    """CreateEnvironment from a real-shaped JSON file (AWS CLI) and from boto3, on two
    Airflow versions at once; callers poll GetEnvironment until AVAILABLE."""
    spec = {
        "Name": "blue",
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/service-role/mwaa-blue",
        "SourceBucketArn": "arn:aws:s3:::blue-bucket",
        "DagS3Path": "dags",
        "RequirementsS3Path": "requirements.txt",
        "RequirementsS3ObjectVersion": region.versions["none"],
        "PluginsS3Path": "plugins.zip",
        "StartupScriptS3Path": "scripts/startup.sh",
        "NetworkConfiguration": {
            "SubnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
        },
        "AirflowVersion": DEFAULT_VERSION,
        "EnvironmentClass": "mw1.medium",
        "MaxWorkers": 5,
        "Schedulers": 2,
        "WebserverAccessMode": "PUBLIC_ONLY",
        "WeeklyMaintenanceWindowStart": "TUE:03:30",
        "AirflowConfigurationOptions": {"core.default_timezone": "utc"},
        "LoggingConfiguration": {"TaskLogs": {"Enabled": True, "LogLevel": "WARNING"}},
        "Tags": {"team": "data", "env": "dev"},
    }
    (tmp_path / "env.json").write_text(json.dumps(spec))
    arn = region.aws("create-environment", "--cli-input-json", f"file://{tmp_path / 'env.json'}")
    assert arn["Arn"] == "arn:aws:airflow:us-east-1:000000000000:environment/blue"
    region.client().create_environment(
        Name="green",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/mwaa-green",
        SourceBucketArn="arn:aws:s3:::greenbucket",
        DagS3Path="dags",
        NetworkConfiguration={"SubnetIds": ["subnet-1", "subnet-2"]},
        AirflowVersion=AIRFLOW2,
    )
    first = region.aws("get-environment", "--name", "blue")["Environment"]
    assert first["Status"] == "CREATING" and first["LastUpdate"]["Status"] == "PENDING"
    blue = region.wait("blue", {"AVAILABLE", "CREATE_FAILED"})
    green = region.wait("green", {"AVAILABLE", "CREATE_FAILED"})
    assert blue["Status"] == "AVAILABLE", blue["LastUpdate"]
    assert green["Status"] == "AVAILABLE", green["LastUpdate"]
    assert region.seen["blue"][0] == "CREATING"
    # the full shape, as given and as MWAA fills it in
    assert blue["AirflowVersion"] == DEFAULT_VERSION and green["AirflowVersion"] == AIRFLOW2
    assert blue["EnvironmentClass"] == "mw1.medium" and blue["MaxWorkers"] == 5
    assert blue["MinWorkers"] == 1 and blue["Schedulers"] == 2
    assert blue["WeeklyMaintenanceWindowStart"] == "TUE:03:30"
    assert blue["AirflowConfigurationOptions"] == {"core.default_timezone": "utc"}
    assert blue["Tags"] == {"team": "data", "env": "dev"}
    assert blue["RequirementsS3ObjectVersion"] == region.versions["none"]
    assert blue["NetworkConfiguration"]["SubnetIds"] == ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
    task_logs = blue["LoggingConfiguration"]["TaskLogs"]
    assert task_logs["Enabled"] and task_logs["LogLevel"] == "WARNING"
    assert task_logs["CloudWatchLogGroupArn"].endswith(":log-group:airflow-blue-Task")
    assert blue["LoggingConfiguration"]["SchedulerLogs"]["Enabled"] is False
    assert blue["LastUpdate"]["Status"] == "SUCCESS"
    assert (
        green["EnvironmentClass"] == "mw1.small" and green["WebserverAccessMode"] == "PRIVATE_ONLY"
    )
    assert blue["WebserverUrl"] != green["WebserverUrl"]  # a web server host each
    for dag_id in ("hello_mwaa", "figlet", "probe"):  # before any `tasks test` of them
        region.wait_dags("blue", dag_id)
    region.wait_dags("green", "hello_mwaa")


def test_each_environment_answers_its_own_tokens_only(region):
    """The seed's CLI flow on each (AWS CLI token, POST to its web server), and a token of
    one environment refused by the other's web server."""
    hosts, tokens = {}, {}
    for name in ("blue", "green"):
        reply = region.aws("create-cli-token", "--name", name)
        hosts[name], tokens[name] = reply["WebServerHostname"], reply["CliToken"]
    assert hosts["blue"] != hosts["green"]

    def post(host: str, token: str, command: str) -> requests.Response:
        return requests.post(
            f"https://{host}/aws_mwaa/cli",
            data=command,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
            verify=region.env["AWS_CA_BUNDLE"],
            timeout=120,
        )

    for name in ("blue", "green"):
        reply = post(hosts[name], tokens[name], "dags list -o json")
        assert reply.status_code == 200, reply.text
        listed = json.loads(base64.b64decode(reply.json()["stdout"]))
        assert "hello_mwaa" in {d["dag_id"] for d in listed}
    version = post(hosts["green"], tokens["green"], "version")
    assert base64.b64decode(version.json()["stdout"]).decode().strip() == AIRFLOW2
    assert post(hosts["green"], tokens["blue"], "version").status_code == 403
    assert post(hosts["blue"], tokens["green"], "version").status_code == 403


def test_rest_api_and_web_login_through_the_region(region):
    """InvokeRestApi and CreateWebLoginToken reach each environment's own Airflow."""
    mwaa = region.client()
    for name in ("blue", "green"):
        reply = mwaa.invoke_rest_api(Name=name, Path="/dags", Method="GET")
        assert reply["RestApiStatusCode"] == 200
        assert "hello_mwaa" in {d["dag_id"] for d in reply["RestApiResponse"]["dags"]}
        login = mwaa.create_web_login_token(Name=name)
        assert (
            login["WebServerHostname"]
            == mwaa.get_environment(Name=name)["Environment"]["WebserverUrl"]
        )
    out = region.mwaa("api", "--env", "green", "GET", "/dags/hello_mwaa")
    assert out.returncode == 0 and json.loads(out.stdout)["dag_id"] == "hello_mwaa"


def test_create_failed_when_a_source_or_the_startup_script_fails(region):
    """CREATE_FAILED with LastUpdate.Error: a requirements file missing from the bucket (no
    Airflow started), a startup script that exits 3 (started, then stopped)."""
    region.s3.put_object(Bucket="blue-bucket", Key="startup.sh", Body=b"echo starting\nexit 3\n")
    base = {
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
        "SourceBucketArn": "arn:aws:s3:::blue-bucket",
        "DagS3Path": "dags",
        "NetworkConfiguration": {"SubnetIds": ["subnet-1", "subnet-2"]},
    }
    mwaa = region.client()
    mwaa.create_environment(Name="red", RequirementsS3Path="missing/requirements.txt", **base)
    mwaa.create_environment(Name="amber", StartupScriptS3Path="startup.sh", **base)
    red = region.wait("red", {"AVAILABLE", "CREATE_FAILED"})
    amber = region.wait("amber", {"AVAILABLE", "CREATE_FAILED"})
    assert red["Status"] == "CREATE_FAILED" and "WebserverUrl" not in red
    assert "missing/requirements.txt" in red["LastUpdate"]["Error"]["ErrorMessage"]
    assert "NoSuchKey" in red["LastUpdate"]["Error"]["ErrorMessage"]
    assert red["LastUpdate"]["Error"]["ErrorCode"] == "SourceUnavailable"
    assert amber["Status"] == "CREATE_FAILED"
    assert "startup script exited 3" in amber["LastUpdate"]["Error"]["ErrorMessage"]
    assert amber["LastUpdate"]["Error"]["ErrorCode"] == "UserEnvironmentFailure"
    home = region.root / "home" / "region" / "envs" / "amber" / "home"
    assert not is_locked(home)  # its server stopped

    with pytest.raises(ClientError) as caught:
        mwaa.create_cli_token(Name="amber")
    assert "CREATE_FAILED" in caught.value.response["Error"]["Message"]
    for name in ("red", "amber"):
        mwaa.delete_environment(Name=name)
    deadline = time.monotonic() + 60
    while set(mwaa.list_environments()["Environments"]) != {"blue", "green"}:
        assert time.monotonic() < deadline, mwaa.list_environments()
        time.sleep(0.5)


def test_mwaa_envs_doctor_and_run_across_environments(region):
    out = region.mwaa("envs")
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr.decode()
    assert "blue" in text and "green" in text and AIRFLOW2 in text
    for name in ("blue", "green"):
        doctor = region.mwaa("doctor", "--env", name)
        assert doctor.returncode == 0, doctor.stdout.decode() + doctor.stderr.decode()
    assert region.stdout("green", "version") == (0, AIRFLOW2 + "\n")
    assert region.stdout("blue", "version") == (0, DEFAULT_VERSION + "\n")
    code, text = region.run_cli("blue", "tasks", "test", "probe", "show", "2024-01-01")
    assert code == 0, text[-2000:]
    assert "PROBE plugin=from-plugins-zip" in text, text[-2000:]  # PluginsS3Path
    assert "PROBE startup=from-s3" in text, text[-2000:]  # StartupScriptS3Path


def test_validation_and_errors_as_mwaa_has_them(region):

    mwaa = region.client(validate=False)
    base = {
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
        "SourceBucketArn": "arn:aws:s3:::greenbucket",
        "DagS3Path": "dags",
        "NetworkConfiguration": {"SubnetIds": ["subnet-1", "subnet-2"]},
    }
    cases = [
        ({"Name": "blue", **base}, "ValidationException", "already exists"),
        (
            {"Name": "x", **{**base, "ExecutionRoleArn": "role"}},
            "ValidationException",
            "'executionRoleArn'",
        ),
        (
            {"Name": "x", **{k: v for k, v in base.items() if k != "DagS3Path"}},
            "ValidationException",
            "'dagS3Path'",
        ),
        (
            {"Name": "x", **base, "EnvironmentClass": "mw1.huge"},
            "ValidationException",
            "EnvironmentClass",
        ),
        (
            {"Name": "x", **base, "AirflowVersion": "1.10.12"},
            "ValidationException",
            "AirflowVersion",
        ),
        (
            {"Name": "x", **base, "MinWorkers": 5, "MaxWorkers": 2},
            "ValidationException",
            "MinWorkers",
        ),
        ({"Name": "x", **base, "Schedulers": 9}, "ValidationException", "'schedulers'"),
        (
            {"Name": "x", **base, "AirflowConfigurationOptions": {"core.executor": "x"}},
            "ValidationException",
            "core.executor",
        ),
    ]
    for params, code, needle in cases:
        with pytest.raises(ClientError) as caught:
            mwaa.create_environment(**params)
        error = caught.value.response["Error"]
        assert (error["Code"], needle in error["Message"]) == (code, True), error
    assert region.client().list_environments()["Environments"] == ["blue", "green"]
    for call in (
        lambda: mwaa.get_environment(Name="nope"),
        lambda: mwaa.update_environment(Name="nope", MaxWorkers=2),
        lambda: mwaa.delete_environment(Name="nope"),
        lambda: mwaa.create_cli_token(Name="nope"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # ListEnvironments pages
    first = mwaa.list_environments(MaxResults=1)
    assert first["Environments"] == ["blue"] and first["NextToken"]
    second = mwaa.list_environments(MaxResults=1, NextToken=first["NextToken"])
    assert second["Environments"] == ["green"] and "NextToken" not in second
    pages = (
        region.client()
        .get_paginator("list_environments")
        .paginate(PaginationConfig={"PageSize": 1})
    )
    assert [n for page in pages for n in page["Environments"]] == ["blue", "green"]


def test_role_keys_call_only_what_their_policy_allows(region):
    """The region's role keys rehearse Airflow roles: read-only and (for their role) web
    login and InvokeRestApi - never create, update, delete, tag or a CLI token."""
    keys = json.loads((region.root / "home" / "region" / "role-keys.json").read_text())
    for name in ("Admin", "Viewer", "none", "web-login"):
        client = boto3.session.Session().client(
            "mwaa",
            endpoint_url=region.env["AWS_ENDPOINT_URL_MWAA"],
            region_name="us-east-1",
            aws_access_key_id=keys[name]["AccessKeyId"],
            aws_secret_access_key=keys[name]["SecretAccessKey"],
            verify=region.env["AWS_CA_BUNDLE"],
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
        )
        assert "blue" in client.list_environments()["Environments"]
        assert client.get_environment(Name="blue")["Environment"]["Name"] == "blue"
        arn = "arn:aws:airflow:us-east-1:000000000000:environment/blue"
        for call in (
            lambda c=client: c.create_environment(
                Name="sneaky",
                ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
                SourceBucketArn="arn:aws:s3:::b",
                DagS3Path="dags",
                NetworkConfiguration={"SubnetIds": ["subnet-1", "subnet-2"]},
            ),
            lambda c=client: c.update_environment(Name="blue", MaxWorkers=3),
            lambda c=client: c.delete_environment(Name="blue"),
            lambda c=client, a=arn: c.tag_resource(ResourceArn=a, Tags={"x": "y"}),
            lambda c=client: c.create_cli_token(Name="blue"),
        ):
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.response["Error"]["Code"] == "AccessDeniedException", name
        if name == "none":
            with pytest.raises(ClientError) as caught:
                client.create_web_login_token(Name="blue")
            assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
        else:
            role = "admin" if name == "web-login" else name.lower()
            token = client.create_web_login_token(Name="blue")
            assert token["AirflowIdentity"] == f"assumed-role/{role}"
    assert region.client().get_environment(Name="blue")["Environment"]["Status"] == "AVAILABLE"
    # AssumeRole at the region: the temporary credentials reach the environment (the region
    # signs the forwarded call again with the key they act as)
    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=region.env["AWS_ENDPOINT_URL_MWAA"],
        region_name="us-east-1",
        aws_access_key_id=region.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=region.env["AWS_SECRET_ACCESS_KEY"],
        verify=region.env["AWS_CA_BUNDLE"],
    )
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::000000000000:role/web-login", RoleSessionName="fallback"
    )["Credentials"]
    temporary = boto3.session.Session().client(
        "mwaa",
        endpoint_url=region.env["AWS_ENDPOINT_URL_MWAA"],
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        verify=region.env["AWS_CA_BUNDLE"],
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )
    assert temporary.create_web_login_token(Name="blue")["AirflowIdentity"] == "assumed-role/admin"
    with pytest.raises(ClientError) as caught:
        temporary.invoke_rest_api(Name="blue", Path="/dags", Method="GET")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_tags(region):
    arn = "arn:aws:airflow:us-east-1:000000000000:environment/blue"
    region.aws("tag-resource", "--resource-arn", arn, "--tags", "owner=ana,cost=42")
    assert region.aws("list-tags-for-resource", "--resource-arn", arn)["Tags"] == {
        "team": "data", "env": "dev", "owner": "ana", "cost": "42",
    }  # fmt: skip
    region.aws("untag-resource", "--resource-arn", arn, "--tag-keys", "env", "cost")
    assert region.aws("list-tags-for-resource", "--resource-arn", arn)["Tags"] == {
        "team": "data", "owner": "ana",
    }  # fmt: skip
    assert region.aws("get-environment", "--name", "blue")["Environment"]["Tags"]["owner"] == "ana"
    missing = "arn:aws:airflow:us-east-1:000000000000:environment/nope"
    assert "ResourceNotFoundException" in region.aws_fails(
        "list-tags-for-resource", "--resource-arn", missing
    )
    # a body nested 100,000 deep (no SDK builds it): 400, not a 500
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = region.env["AWS_ENDPOINT_URL_MWAA"] + "/environments/deep"
    deep = b'{"Tags": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    signed = AWSRequest("PUT", url, data=deep, headers={"content-type": "application/json"})
    creds = Credentials(region.env["AWS_ACCESS_KEY_ID"], region.env["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "airflow", "us-east-1").add_auth(signed)
    trust = ssl.create_default_context(cafile=region.env["AWS_CA_BUNDLE"])
    reply = httpx.put(url, content=deep, headers=dict(signed.headers.items()), verify=trust)
    assert reply.status_code == 400, reply.text
    # the unsigned health check says it is up, and nothing about the environments
    health = httpx.get(region.env["AWS_ENDPOINT_URL_MWAA"] + "/health", verify=trust)
    assert health.json() == {"status": "ok"}
    # an ARN the model's pattern refuses: 400 ValidationException, as AWS answers it
    for op, extra in (
        ("list-tags-for-resource", []),
        ("tag-resource", ["--tags", "a=b"]),
        ("untag-resource", ["--tag-keys", "a"]),
    ):
        failed = region.aws_fails(op, "--resource-arn", "not-an-arn", *extra)
        assert "ValidationException" in failed and "resourceArn" in failed, failed


@pytest.mark.slow
def test_update_requirements_then_a_broken_one_rolls_back(region):
    """A new requirements version: UPDATING -> AVAILABLE with the package importable; a
    broken one: UPDATE_FAILED, rolled back and still serving."""
    code, text = region.run_cli("blue", "tasks", "test", "figlet", "show", "2024-01-01")
    assert "FIGLET-OK" not in text and "No module named 'pyfiglet'" in text, text[-2000:]

    region.seen["blue"] = []
    region.aws(
        "update-environment", "--name", "blue",
        "--requirements-s3-object-version", region.versions["figlet"],
    )  # fmt: skip
    env = region.wait("blue", {"AVAILABLE", "UPDATE_FAILED"})
    assert env["Status"] == "AVAILABLE", env["LastUpdate"]
    assert region.seen["blue"][0] == "UPDATING"
    assert env["RequirementsS3ObjectVersion"] == region.versions["figlet"]
    code, text = region.run_cli("blue", "tasks", "test", "figlet", "show", "2024-01-01")
    assert code == 0 and "FIGLET-OK" in text, text[-2000:]

    region.seen["blue"] = []
    region.aws(
        "update-environment", "--name", "blue",
        "--requirements-s3-object-version", region.versions["broken"],
    )  # fmt: skip
    assert "UPDATING" in region.aws_fails(
        "update-environment", "--name", "blue", "--max-workers", "3"
    )  # not AVAILABLE: refused
    env = region.wait("blue", {"AVAILABLE", "UPDATE_FAILED"})
    assert env["Status"] == "UPDATE_FAILED"
    assert env["LastUpdate"]["Status"] == "FAILED"
    message = env["LastUpdate"]["Error"]["ErrorMessage"]
    assert "requirements did not install: " in message
    assert "rolled back: the environment runs its previous definition again" in message
    assert "started without them" not in message  # it did not: it rolled back
    failed_logs = list(
        (region.root / "home" / "region" / "envs" / "blue").rglob("requirements-failed-*.log")
    )
    assert failed_logs, "the failed attempt's output is kept across the rollback"
    assert env["RequirementsS3ObjectVersion"] == region.versions["figlet"]  # the old one
    code, text = region.run_cli("blue", "tasks", "test", "figlet", "show", "2024-01-01")
    assert code == 0 and "FIGLET-OK" in text, text[-2000:]  # still serving the old


def test_dags_sync_from_the_bucket(region):
    region.s3.put_object(Bucket="blue-bucket", Key="dags/later.py", Body=NEW_DAG.encode())
    (region.root / "greenbucket" / "dags" / "hello_mwaa.py").unlink()
    synced = region.root / "home" / "region" / "envs"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (synced / "blue" / "dags" / "later.py").is_file() and not (
            synced / "green" / "dags" / "hello_mwaa.py"
        ).exists():
            break
        time.sleep(0.5)
    # registered by the DAG processor first: a `tasks test` racing it to insert the new DAG's
    # row fails on Airflow 3.3.1 (UNIQUE constraint failed: dag.dag_id)
    region.wait_dags("blue", "synced_later")
    code, text = region.run_cli("blue", "tasks", "test", "synced_later", "show", "2024-01-01")
    assert code == 0 and "PROBE plugin=from-plugins-zip" in text, text[-2000:]
    assert not (synced / "green" / "dags" / "hello_mwaa.py").exists()


def test_a_crashed_environment_is_started_again(region):
    home = region.root / "home" / "region" / "envs" / "green" / "home"
    before = json.loads((home / "serve.lock").read_text())["pid"]
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        owner = json.loads((home / "serve.lock").read_text() or "{}")
        if owner.get("pid") not in (None, before) and owner.get("ready"):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("green did not come back")
    assert region.stdout("green", "version") == (0, AIRFLOW2 + "\n")
    log = region.mwaa("local", "logs", "-n", "200").stdout.decode()
    assert "green: its server exited; starting it again" in log
    assert "Press Ctrl-C" in region.mwaa("local", "logs", "green").stdout.decode()


@pytest.mark.slow
def test_environments_survive_down_up_and_kill_9(region):
    """Variables and runs live on; nothing is left running between."""
    assert region.run_cli("blue", "variables", "set", "colour", "teal")[0] == 0
    assert region.run_cli("green", "variables", "set", "colour", "sage")[0] == 0
    code, text = region.run_cli("blue", "dags", "trigger", "hello_mwaa", "-r", "before_restart")
    assert code == 0, text

    again = region.mwaa("local", "up", "--port", str(free_port()), env=region.up_env)
    assert again.returncode == 2 and b"already running" in again.stderr, again.stderr
    pids = region.env_pids()
    assert len(pids) > 6  # the region, two servers, their Airflow components
    down = region.mwaa("local", "down", timeout=300)
    assert down.returncode == 0 and b"stopped" in down.stdout
    assert _gone(pids) == set()
    assert region.mwaa("local", "down").stdout == b"the local region is not running\n"
    status = json.loads(region.mwaa("local", "status", "--json").stdout)
    assert not status["running"] and {e["name"] for e in status["environments"]} == {
        "blue", "green",
    }  # fmt: skip

    shown = region.up().stdout.decode()  # `up` prints the status table
    assert "Local region: https://127.0.0.1:" in shown
    assert [line.split()[:3] for line in shown.splitlines() if line.startswith("  blue ")] == [
        ["blue", "UPDATE_FAILED", DEFAULT_VERSION]
    ], shown
    assert region.stdout("blue", "variables", "get", "colour") == (0, "teal\n")
    assert region.stdout("green", "variables", "get", "colour") == (0, "sage\n")
    code, text = region.run_cli("blue", "dags", "list-runs", "hello_mwaa")
    assert code == 0 and "before_restart" in text, text
    assert region.aws("get-environment", "--name", "blue")["Environment"]["Status"] == (
        "UPDATE_FAILED"  # what it was
    )

    pids = region.env_pids()
    os.kill(region.region_pid(), signal.SIGKILL)
    assert _gone(pids) == set()  # the environments notice and stop
    region.up()
    assert region.stdout("green", "variables", "get", "colour") == (0, "sage\n")
    code, text = region.run_cli("blue", "dags", "list-runs", "hello_mwaa")
    assert code == 0 and "before_restart" in text, text


def test_delete_environment(region):
    pids = region.env_pids()
    green_home = region.root / "home" / "region" / "envs" / "green"
    server = json.loads((green_home / "home" / "serve.lock").read_text())["pid"]
    green_pids = {server, *descendants(server)}
    region.aws("delete-environment", "--name", "green")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = subprocess.run(
            [str(AWS), "mwaa", "get-environment", "--name", "green"],
            capture_output=True,
            env=region.env,
        )
        if out.returncode != 0:
            assert b"ResourceNotFoundException" in out.stderr
            break
        assert json.loads(out.stdout)["Environment"]["Status"] == "DELETING"
        time.sleep(0.5)
    else:
        raise AssertionError("green was never deleted")
    assert _gone(green_pids) == set()
    assert not green_home.exists()
    assert region.client().list_environments()["Environments"] == ["blue"]
    assert {p for p in pids - green_pids if alive(p)}  # blue still runs
    code, _ = region.run_cli("blue", "version")
    assert code == 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x", "-v"]))
