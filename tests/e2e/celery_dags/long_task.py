"""One long task with a retry: its worker is killed mid-task, the retry runs it again."""

import time
from datetime import datetime, timedelta

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def long_task():
    @task(retries=2, retry_delay=timedelta(seconds=1))
    def slow(**context) -> int:
        if context["ti"].try_number == 1:
            time.sleep(600)  # the test kills its worker long before
        return context["ti"].try_number

    slow()


long_task()
