"""End to end: real Airflow behind `mwaa local serve`, the real client, boto3, AWS CLI, curl -
the flow on the Airflow 3.3.1 and 2.10.3 runtimes (`flow_env`), TLS on the default one."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from mwaa_cli import Client
from mwaa_cli.errors import ExitStatus

# Commands whose output does not change between two runs (no timestamps or run ids).
IDENTICAL = [
    ["version"],
    ["dags", "list"],
    ["dags", "list", "-o", "json"],
    ["dags", "list", "-o", "yaml"],
    ["tasks", "list", "hello_mwaa"],
    ["tasks", "list", "etl_with_params"],
    ["dags", "list-import-errors"],
    ["dags", "next-execution", "daily_report"],
    ["variables", "get", "no_such_variable"],
    ["dags", "state", "no_such_dag", "2025-01-01"],
    ["dags", "list", "--bogus-flag"],
    ["providers", "list", "-o", "json"],
]


# A log record's first line: Airflow 2's "[2026-…] {file.py:1} INFO - …" and structlog's
# "2026-…Z [info     ] …". Airflow 2 logs to stdout; on 3.2.1 a cold command that imports
# Airflow's models also logs alembic 1.18.4's "setup plugin …" records there, which the warm
# executor logged once, when it preloaded those modules (a known difference: records only)
LOG_RECORD = re.compile(rb"\[\d{4}-\d\d-\d\d|\d{4}-\d\d-\d\dT[\d:.]+Z \[(debug|info|warning) *\] ")


def without_log_lines(out: bytes) -> bytes:
    """Output without the log records Airflow prints on stdout."""
    return b"\n".join(ln for ln in out.split(b"\n") if not LOG_RECORD.match(ln))


@pytest.mark.parametrize("argv", IDENTICAL, ids=" ".join)
def test_output_identical_to_direct_airflow(flow_env, argv):
    remote = flow_env.mwaa("run", "--", *argv)
    direct = flow_env.airflow(*argv)
    assert without_log_lines(remote.stdout) == without_log_lines(direct.stdout)
    assert remote.returncode == direct.returncode
    if direct.returncode != 0:  # error messages too (log lines carry timestamps; skip those)

        def messages(err):
            return [ln for ln in err.decode().splitlines() if not ln[:4].isdigit()]

        assert messages(remote.stderr) == messages(direct.stderr)


def test_trigger_runs_to_success_and_variables_round_trip(flow_env):
    run = flow_env.mwaa
    assert run("run", "--", "dags", "unpause", "etl_with_params").returncode == 0
    trig = run("run", "--", "dags", "trigger", "etl_with_params", "-c", '{"rows": 4}', "-o", "json")
    assert trig.returncode == 0, trig.stderr
    # Airflow 3.3.1 logs "creating dag run" on stdout even with -o json (its own bug,
    # reproduced faithfully): the JSON is the last line.
    run_id = json.loads(trig.stdout.splitlines()[-1])[0]["dag_run_id"]
    deadline, state = time.monotonic() + 150, None
    while time.monotonic() < deadline:
        runs = json.loads(
            run("run", "--", "dags", "list-runs", "etl_with_params", "-o", "json").stdout
        )
        state = next(r["state"] for r in runs if r["run_id"] == run_id)
        if state in ("success", "failed"):
            break
        time.sleep(2)
    assert state == "success"
    states = json.loads(
        run(
            "run", "--", "tasks", "states-for-dag-run", "etl_with_params", run_id, "-o", "json"
        ).stdout
    )
    assert {s["task_id"]: s["state"] for s in states} == {
        "extract": "success",
        "transform": "success",
        "load": "success",
    }
    value = 'it\'s "quoted"; $(not a shell) | `x`'
    assert run("run", "--", "variables", "set", "k1", value).returncode == 0
    got = run("run", "--", "variables", "get", "k1")
    assert got.stdout.decode() == value + "\n"
    assert flow_env.airflow("variables", "get", "k1").stdout.decode() == value + "\n"


def test_library_client(flow_env, monkeypatch):
    for key, value in flow_env.aws_environ().items():
        monkeypatch.setenv(key, value)
    with Client(env="local") as client:
        result = client.run(["dags", "list", "-o", "json"])
        info = client.get_environment()
    assert result.exit_code == 0 and result.exit_code_reported
    assert {d["dag_id"] for d in json.loads(result.stdout)} >= {"hello_mwaa", "daily_report"}
    assert info["AirflowVersion"] == flow_env.installed_airflow


def test_boto3_control_plane(flow_env):
    mwaa = flow_env.boto3_mwaa()
    env = mwaa.get_environment(Name="local")["Environment"]
    assert env["Status"] == "AVAILABLE"
    assert env["AirflowVersion"] == flow_env.installed_airflow
    assert env["WebserverUrl"] == f"127.0.0.1:{flow_env.port}"
    assert mwaa.list_environments()["Environments"] == ["local"]
    token = mwaa.create_cli_token(Name="local")
    assert token["WebServerHostname"] == f"127.0.0.1:{flow_env.port}"
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException):
        mwaa.create_cli_token(Name="prod")


def test_aws_cli_unmodified(flow_env):
    env = flow_env.aws_environ()
    out = subprocess.run(
        ["aws", "mwaa", "create-cli-token", "--name", "local"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["WebServerHostname"] == f"127.0.0.1:{flow_env.port}"
    missing = subprocess.run(
        ["aws", "mwaa", "get-environment", "--name", "nope"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert missing.returncode != 0
    assert b"ResourceNotFoundException" in missing.stderr


# The MWAA user guide's bash sample, unchanged: https://, trusted through CURL_CA_BUNDLE.
GUIDE_SCRIPT = r"""
CLI_JSON=$(aws mwaa --region us-east-1 create-cli-token --name $NAME) \
  && CLI_TOKEN=$(echo $CLI_JSON | jq -r '.CliToken') \
  && WEB_SERVER_HOSTNAME=$(echo $CLI_JSON | jq -r '.WebServerHostname') \
  && CLI_RESULTS=$(curl -s --request POST "https://$WEB_SERVER_HOSTNAME/aws_mwaa/cli" \
  --header "Authorization: Bearer $CLI_TOKEN" \
  --header "Content-Type: text/plain" \
  --data-raw "$COMMAND") \
  && echo $CLI_RESULTS | jq -r '.stdout' | base64 --decode
"""


def test_curl_script_from_the_user_guide(flow_env, have_curl):
    env = dict(flow_env.aws_environ(), NAME="local", COMMAND="dags list -o json")
    out = subprocess.run(["bash", "-c", GUIDE_SCRIPT], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    direct = flow_env.airflow("dags", "list", "-o", "json").stdout
    assert without_log_lines(out.stdout) == without_log_lines(direct)


def test_disallowed_command_never_runs(flow_env):
    assert flow_env.mwaa("run", "--", "variables", "set", "canary", "alive").returncode == 0
    refused = flow_env.mwaa("run", "--", "db", "reset", "--yes")
    assert refused.returncode == ExitStatus.COMMAND_REJECTED
    assert refused.stderr.startswith(b"mwaa: error: ") and b"Traceback" not in refused.stderr
    assert flow_env.airflow("variables", "get", "canary").stdout == b"alive\n"
    audit = (flow_env.home / "logs" / "audit.log").read_text()
    assert '"db", "reset"' not in audit and '"variables", "get"' in audit


def test_envs_lists_the_flow_environment(flow_env):
    out = flow_env.mwaa("envs")
    assert out.returncode == 0
    assert out.stdout.decode().splitlines()[1].split()[:3] == [
        "local",
        "AVAILABLE",
        flow_env.installed_airflow,
    ]


def test_https_with_the_local_ca(local_env):
    import ssl

    import httpx

    # an unconfigured client does not trust the endpoint: the TLS is real
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(local_env.endpoint + "/aws_mwaa/cli", content=b"version")
    # the CA file (alone or in the bundle) verifies it, for 127.0.0.1 and localhost
    for ca in (local_env.home / "tls" / "ca.pem", local_env.ca_bundle):
        context = ssl.create_default_context(cafile=str(ca))
        for host in ("127.0.0.1", "localhost"):
            reply = httpx.post(
                f"https://{host}:{local_env.port}/aws_mwaa/cli", content=b"version", verify=context
            )
            assert reply.status_code == 403  # no token: TLS got through
    assert oct((local_env.home / "tls" / "server.key").stat().st_mode & 0o777) == "0o600"
    assert oct((local_env.home / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"
    env_sh = (local_env.home / "env.sh").read_text()
    for var in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        assert f"export {var}={local_env.ca_bundle}" in env_sh


@pytest.mark.parametrize("machine_bundle", [None, "certifi"])
def test_client_trusts_the_local_ca_without_configuration(local_env, machine_bundle):
    env = local_env.aws_environ()
    for var in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        env.pop(var, None)
    if machine_bundle:  # a machine-wide AWS_CA_BUNDLE without our CA in it
        import certifi

        env["AWS_CA_BUNDLE"] = certifi.where()
    out = subprocess.run(
        ["mwaa", "run", "--", "version"], env=env, capture_output=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == local_env.installed_airflow.encode()


def test_untrusted_certificate_is_a_clear_error(local_env, tmp_path):
    env = dict(local_env.aws_environ(), MWAA_CLI_HOME=str(tmp_path))  # no local CA to find
    for var in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        env.pop(var, None)
    out = subprocess.run(
        ["mwaa", "run", "--", "version"], env=env, capture_output=True, timeout=120
    )
    assert out.returncode == ExitStatus.UNREACHABLE
    assert b"AWS_CA_BUNDLE" in out.stderr and b"Traceback" not in out.stderr


def test_written_aws_profile_works_for_the_aws_cli_and_mwaa(local_env):
    aws_dir = local_env.state_dir.parent / "aws"
    env = {
        k: v
        for k, v in local_env.aws_environ().items()
        if not k.startswith("AWS_") and k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE")
    }
    env |= {
        "AWS_CONFIG_FILE": str(aws_dir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
        "AWS_PROFILE": "mwaa-local",
    }
    assert oct((aws_dir / "credentials").stat().st_mode & 0o777) == "0o600"
    out = subprocess.run(
        ["aws", "mwaa", "get-environment", "--name", "local"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Environment"]["Status"] == "AVAILABLE"
    env.pop("MWAA_CLI_HOME")  # the CA comes from the profile's ca_bundle, not discovery
    run = subprocess.run(["mwaa", "run", "--", "version"], env=env, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_no_warning_airflow_itself_causes_on_every_command(flow_env):
    """Airflow 2.10's own mask_secrets() reads [core] sql_alchemy_conn and printed a
    FutureWarning on every command; the environment ignores that one warning."""
    for argv in (["version"], ["dags", "list", "-o", "plain"]):
        out = flow_env.mwaa("run", "--", *argv)
        assert out.returncode == 0
        assert b"sql_alchemy_conn" not in out.stderr and b"FutureWarning" not in out.stderr
