"""The smallest useful DAG: two tasks that finish in a second, triggered from the CLI."""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2 (the samples run on every version MWAA offers)
    from airflow import DAG
    from airflow.decorators import task
    from airflow.operators.bash import BashOperator

with DAG(
    dag_id="hello_mwaa",
    description="Say hello through BashOperator and TaskFlow",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mwaa-cli", "sample"],
):
    say_hello = BashOperator(task_id="say_hello", bash_command="echo 'hello from mwaa-cli'")

    @task
    def add(x: int = 20, y: int = 22) -> int:
        return x + y

    say_hello >> add()
