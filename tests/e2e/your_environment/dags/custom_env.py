"""Uses every part of a user's environment: a package from requirements.txt, an operator
and a macro from the plugins, a variable the startup script exports, an Airflow
configuration option. Its report goes to the Variable `custom_env_report`."""

from __future__ import annotations

import json
import os

import pendulum
import pyfiglet  # from requirements.txt (not in any runtime)
from shout_operator import ShoutOperator  # from the plugins

try:  # Airflow 3
    from airflow.sdk import DAG, Variable, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable

with DAG(
    dag_id="custom_env",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
):
    shouted = ShoutOperator(task_id="shout", words="{{ macros.mwaa_test_plugin.exclaim('hi') }}")

    @task
    def report(shouted: str) -> str:
        from airflow.configuration import conf

        found = {
            "pyfiglet": pyfiglet.__name__ + " " + pyfiglet.figlet_format("ok").strip()[:3],
            "shouted": shouted,
            "startup_var": os.environ.get("MY_STARTUP_VAR", "unset"),
            "component": os.environ.get("MWAA_AIRFLOW_COMPONENT", "unset"),
            "greeting": conf.get("mwaa_test", "greeting", fallback="unset"),
            "aws_default": os.environ.get("AIRFLOW_CONN_AWS_DEFAULT", "unset"),
        }
        print("REPORT " + json.dumps(found, sort_keys=True))
        Variable.set("custom_env_report", json.dumps(found, sort_keys=True))
        return "reported"

    report(shouted.output)

    @task
    def env_probe() -> None:
        print("PROBE startup_var=" + os.environ.get("MY_STARTUP_VAR", "unset"))
        print("PROBE figlet=" + pyfiglet.figlet_format("ok").strip().splitlines()[0])

    env_probe()
