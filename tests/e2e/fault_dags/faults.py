"""DAGs whose tasks misbehave, for the executor's isolation tests (`tasks test` runs them
inside the command's own process)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pendulum
from airflow.sdk import DAG, task

with DAG(dag_id="faults", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):

    @task
    def crash():
        os.kill(os.getpid(), signal.SIGKILL)

    @task
    def hang():
        time.sleep(600)

    @task
    def exit_3():
        sys.exit(3)

    @task
    def spawn_and_hang():
        import subprocess

        subprocess.Popen(["sleep", "600"])
        time.sleep(600)

    @task
    def flood():
        chunk = b"x" * 65535 + b"\n"
        while True:  # straight to the process's stdout, past any logging redirection
            os.write(1, chunk)

    crash()
    flood()
    hang()
    exit_3()
    spawn_and_hang()
