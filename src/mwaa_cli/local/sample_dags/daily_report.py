"""A scheduled DAG (daily) that reads an Airflow Variable, as MWAA users do."""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, Variable, task
except ImportError:  # Airflow 2 (the samples run on every version MWAA offers)
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable

with DAG(
    dag_id="daily_report",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mwaa-cli", "sample"],
):

    @task
    def report() -> str:
        recipient = Variable.get("report_recipient", "nobody@example.com")
        return f"report sent to {recipient}"

    report()
