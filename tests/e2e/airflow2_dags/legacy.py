"""The sample DAGs' ids and tasks, written for Airflow 2 (the 2.x translation tests)."""

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

START = pendulum.datetime(2025, 1, 1, tz="UTC")

with DAG("hello_mwaa", schedule=None, start_date=START, catchup=False):
    BashOperator(task_id="say_hello", bash_command="echo hello")

with DAG("etl_with_params", schedule=None, start_date=START, catchup=False):
    BashOperator(task_id="extract", bash_command="echo extract")

with DAG("daily_report", schedule="@daily", start_date=START, catchup=False):
    BashOperator(task_id="report", bash_command="echo report")
