"""A tiny extract-transform-load chain that reads its run's conf (dags trigger -c '{...}')."""

from __future__ import annotations

import pendulum

try:  # Airflow 3
    from airflow.sdk import dag, get_current_context, task
except ImportError:  # Airflow 2 (the samples run on every version MWAA offers)
    from airflow.decorators import dag, task
    from airflow.operators.python import get_current_context


@dag(
    dag_id="etl_with_params",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"rows": 3},
    tags=["mwaa-cli", "sample"],
)
def etl_with_params():
    @task
    def extract() -> list[int]:
        rows = int(get_current_context()["params"]["rows"])
        return list(range(rows))

    @task
    def transform(values: list[int]) -> list[int]:
        return [v * v for v in values]

    @task
    def load(values: list[int]) -> int:
        print(f"loaded {len(values)} rows, total {sum(values)}")
        return sum(values)

    load(transform(extract()))


etl_with_params()
