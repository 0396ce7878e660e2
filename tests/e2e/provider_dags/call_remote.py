"""DAGs of environment A that drive environment B (another `mwaa local serve`) with Apache
Airflow's Amazon provider, unmodified: its MWAA operator, sensor (deferred, in the triggerer)
and hook (the web-login fallback). Connections come from the startup script."""

from __future__ import annotations

import os

import pendulum
from airflow.providers.amazon.aws.hooks.mwaa import MwaaHook
from airflow.providers.amazon.aws.operators.mwaa import MwaaTriggerDagRunOperator
from airflow.providers.amazon.aws.sensors.mwaa import MwaaDagRunSensor

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

B = os.environ.get("MWAA_B_NAME", "local")
START = pendulum.datetime(2025, 1, 1, tz="UTC")
RUN_ID = "{{ ti.xcom_pull(task_ids='trigger')['RestApiResponse']['dag_run_id'] }}"

with DAG("call_remote", schedule=None, start_date=START, catchup=False):
    trigger = MwaaTriggerDagRunOperator(
        task_id="trigger",
        aws_conn_id="mwaa_b",
        env_name=B,
        trigger_dag_id="hello_mwaa",
        logical_date="{{ dag_run.run_after.isoformat() }}",  # Airflow 3 requires one
        conf={"from": "environment A"},
        wait_for_completion=True,
        waiter_delay=2,
        waiter_max_attempts=90,
    )
    sensor = MwaaDagRunSensor(
        task_id="sensor",
        aws_conn_id="mwaa_b",
        external_env_name=B,
        external_dag_id="hello_mwaa",
        external_dag_run_id=RUN_ID,
        deferrable=True,
        poke_interval=2,
        max_retries=90,
        # Airflow 3.3.1 race on a busy machine: the resumed sensor's process can exit before its
        # final state reaches the API server, and the scheduler then fails the task; one retry
        # re-checks the (finished) run in B
        retries=1,
        retry_delay=pendulum.duration(seconds=2),
    )

    @task
    def fallback() -> str:
        # this key may not call InvokeRestApi: the hook logs in to B's web server instead
        reply = MwaaHook(aws_conn_id="mwaa_b_no_role").invoke_rest_api(
            env_name=B, path="/dags/hello_mwaa", method="GET", airflow_version=3
        )
        assert reply["RestApiStatusCode"] == 200, reply
        return reply["RestApiResponse"]["dag_id"]

    trigger >> sensor >> fallback()


with DAG("call_missing", schedule=None, start_date=START, catchup=False):
    MwaaTriggerDagRunOperator(
        task_id="trigger_missing",
        aws_conn_id="mwaa_b",
        env_name=B,
        trigger_dag_id="no_such_dag",
        logical_date="{{ dag_run.run_after.isoformat() }}",
        retries=0,
    )
