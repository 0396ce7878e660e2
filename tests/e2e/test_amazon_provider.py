"""Apache Airflow's Amazon provider, unmodified, driving one local environment from another:
environment A (its own `mwaa local serve`, DAGs in tests/e2e/provider_dags) triggers
`hello_mwaa` in environment B (the session's) with MwaaTriggerDagRunOperator (waiting with
its boto waiter), waits on the run with MwaaDagRunSensor deferred to the triggerer
(aiobotocore), and reads B through MwaaHook's web-login fallback with a key that may not call
InvokeRestApi. A trigger of a missing DAG fails its task with RestApiClientException."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from .conftest import LocalEnv, start_local_env, stop, wait_for_dags

DAGS = Path(__file__).with_name("provider_dags")


def aws_connection(b: LocalEnv, key: dict) -> str:
    """An Airflow AWS connection (JSON) to environment B with ``key``."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": key["AccessKeyId"],
            "password": key["SecretAccessKey"],
            "extra": {
                "region_name": "us-east-1",
                "endpoint_url": b.endpoint,
                "verify": b.ca_bundle,
                "config_kwargs": {"inject_host_prefix": False},
            },
        }
    )


@pytest.fixture(scope="module")
def env_b(local_env):
    local_env.wait_for_api()
    wait_for_dags(local_env, {"hello_mwaa"})
    assert local_env.mwaa("run", "--", "dags", "unpause", "hello_mwaa").returncode == 0
    return local_env


@pytest.fixture(scope="module")
def env_a(env_b, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("provider")
    # web server access without airflow:InvokeRestApi: the provider falls back to the web login
    no_role = json.loads((env_b.home / "role-keys.json").read_text())["web-login"]
    script = tmp / "startup.sh"
    script.write_text(
        "\n".join(
            [
                f"export AIRFLOW_CONN_MWAA_B={shlex.quote(aws_connection(env_b, env_b.key))}",
                "export AIRFLOW_CONN_MWAA_B_NO_ROLE=" + shlex.quote(aws_connection(env_b, no_role)),
                # the provider's web-login fallback uses requests, which trusts this bundle
                f"export REQUESTS_CA_BUNDLE={shlex.quote(env_b.ca_bundle)}",
                f"export MWAA_B_NAME={env_b.name}",
                "",
            ]
        )
    )
    local = start_local_env(tmp, "--dags", str(DAGS), "--startup-script", str(script))
    try:
        wait_for_dags(local, {"call_remote", "call_missing"})
        for dag in ("call_remote", "call_missing"):
            assert local.mwaa("run", "--", "dags", "unpause", dag).returncode == 0
        yield local
    finally:
        stop(local)


def finished_run(env: LocalEnv, dag: str, timeout: float = 300) -> dict:
    """Trigger ``dag`` and wait for its run to end; the run's record."""
    triggered = env.mwaa("run", "--", "dags", "trigger", dag, "-o", "json")
    assert triggered.returncode == 0, triggered.stderr
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = env.mwaa("run", "--", "dags", "list-runs", dag, "-o", "json").stdout.decode()
        runs = json.loads(out.splitlines()[-1]) if out.strip() else []
        if runs and runs[0]["state"] in ("success", "failed"):
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"{dag} did not finish in {timeout} s")


def task_states(env: LocalEnv, dag: str, run_id: str) -> dict[str, str]:
    out = env.mwaa(
        "run", "--", "tasks", "states-for-dag-run", dag, run_id, "-o", "json", check=True
    ).stdout.decode()
    return {t["task_id"]: t["state"] for t in json.loads(out.splitlines()[-1])}


def task_log(env: LocalEnv, dag: str, run_id: str, task: str) -> str:
    folder = (
        env.home / "airflow" / "logs" / f"dag_id={dag}" / f"run_id={run_id}" / f"task_id={task}"
    )
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.log")))


def test_operator_sensor_and_fallback_drive_another_environment(env_a, env_b):
    before = env_b.mwaa("run", "--", "dags", "list-runs", "hello_mwaa", "-o", "json").stdout
    run = finished_run(env_a, "call_remote")
    states = task_states(env_a, "call_remote", run["run_id"])
    logs = {t: task_log(env_a, "call_remote", run["run_id"], t)[-3000:] for t in states}
    assert states == {"trigger": "success", "sensor": "success", "fallback": "success"}, logs
    assert run["state"] == "success"
    # B really ran it: a new successful hello_mwaa run with A's conf
    after = json.loads(
        env_b.mwaa("run", "--", "dags", "list-runs", "hello_mwaa", "-o", "json")
        .stdout.decode()
        .splitlines()[-1]
    )
    new = [r for r in after if r["run_id"] not in before.decode()]
    assert any(r["state"] == "success" for r in new), after
    # the sensor was deferred to A's triggerer, and the fallback logged in to B's web server
    assert "defer" in logs["sensor"].lower() or "trigger" in logs["sensor"].lower(), logs["sensor"]
    assert "generating local token" in logs["fallback"], logs["fallback"]


def test_a_missing_dag_fails_the_task_with_rest_api_client_exception(env_a):
    run = finished_run(env_a, "call_missing")
    assert run["state"] == "failed"
    log = task_log(env_a, "call_missing", run["run_id"], "trigger_missing")
    assert "RestApiClientException" in log, log[-3000:]
    assert "no_such_dag" in log


def test_mwaa_trigger_wait_reports_the_failed_task_and_its_log(env_a):
    done = env_a.mwaa("trigger", "call_missing", "--wait", "--poll", "1")
    assert done.returncode == 1, done.stderr
    err = done.stderr.decode()
    assert "trigger_missing" in err and "failed" in err
    assert "--- trigger_missing failed; the end of its log:" in err
    assert "RestApiClientException" in err or "no_such_dag" in err
