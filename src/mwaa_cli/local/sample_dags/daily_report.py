"""A scheduled DAG (daily) that reads an Airflow Variable, as MWAA users do."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Variable, task

with DAG(
    dag_id="daily_report",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mwaa-cli", "sample"],
):

    @task
    def report() -> str:
        recipient = Variable.get("report_recipient", default="nobody@example.com")
        return f"report sent to {recipient}"

    report()
