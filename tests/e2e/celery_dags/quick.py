"""One short task: the seed flow's run on a Celery worker."""

from datetime import datetime

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def quick():
    @task
    def hello() -> str:
        return "hello from a Celery worker"

    hello()


quick()
