"""Ready means ready, on a busy machine: with two CPU hogs beside it, the moment
`mwaa local serve` prints its banner every component answers - Airflow 3's API server and
execution API, Airflow 2's login page, fresh scheduler/DAG processor heartbeats, the sample
DAGs registered - and a DAG triggered at that instant runs to success."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import cpu_hogs

from .conftest import AIRFLOW2, DEFAULT, start_local_env, stop

pytestmark = pytest.mark.e2e


@pytest.mark.slow
@pytest.mark.parametrize("version", [DEFAULT, AIRFLOW2])
def test_a_dag_triggered_the_instant_the_banner_appears_succeeds_under_load(tmp_path, version):
    with cpu_hogs(2):
        local = start_local_env(tmp_path, version=version)
        try:
            output = local.stderr_text()
            # the banner came after the wait, never before it
            assert output.index("every component answers") < output.index("is up - Apache")
            api = local.api_url
            with httpx.Client(trust_env=False, timeout=10) as http:
                if version.startswith("3"):
                    assert http.get(f"{api}/execution/health").status_code == 200
                    health = http.get(f"{api}/api/v2/monitor/health").json()
                    assert health["dag_processor"]["status"] == "healthy"
                else:
                    assert http.get(f"{api}/login/").status_code == 200
                    health = http.get(f"{api}/health").json()
                assert health["scheduler"]["status"] == "healthy"
            assert local.mwaa("run", "--", "dags", "unpause", "hello_mwaa").returncode == 0
            triggered = local.mwaa("run", "--", "dags", "trigger", "hello_mwaa")
            assert triggered.returncode == 0, triggered.stderr.decode()
            state, deadline = "", time.monotonic() + 300
            while time.monotonic() < deadline:
                runs = local.mwaa("run", "--", "dags", "list-runs", "hello_mwaa", "-o", "json")
                listed = json.loads(runs.stdout.decode().splitlines()[-1] or "[]")
                state = listed[0]["state"] if listed else ""
                if state in ("success", "failed"):
                    break
                time.sleep(2)
            assert state == "success", local.stderr_text()
        finally:
            assert stop(local) == 0
