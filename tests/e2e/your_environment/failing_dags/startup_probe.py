"""Prints what a task sees of the startup script's exports and a configuration option."""

from __future__ import annotations

import os

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="startup_probe",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def probe() -> None:
        from airflow.configuration import conf

        print("PROBE before_exit=" + os.environ.get("BEFORE_EXIT", "unset"))
        print("PROBE after_exit=" + os.environ.get("AFTER_EXIT", "unset"))
        print("PROBE greeting=" + conf.get("mwaa_test", "greeting", fallback="unset"))

    probe()
