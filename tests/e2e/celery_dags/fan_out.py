"""50 tasks at once: enough to make a Celery environment scale up, and to check that no
worker runs more tasks at a time than its class allows."""

import time
from datetime import datetime

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=64)
def fan_out():
    @task
    def work(i: int) -> int:
        time.sleep(2)
        return i

    work.expand(i=list(range(50)))


fan_out()
