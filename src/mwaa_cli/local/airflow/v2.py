"""Airflow 2: the Flask webserver (UI, REST API /api/v1 with basic and session auth), the
scheduler parsing DAGs itself, FAB users created with generated passwords."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .flavour import UI_USERS, Flavour, Ports

SQL_ALCHEMY_CONN_WARNING = (
    "ignore:section/key [core/sql_alchemy_conn] has been deprecated:FutureWarning"
)

# imported once by the fork-server (beside zygote.PRELOAD): the 2.x command modules and what
# DAGs written for 2.x import
PRELOAD = (
    "airflow.cli.commands.dag_processor_command",
    "airflow.decorators",
    "airflow.operators.bash",
    "airflow.operators.python",
    "airflow.operators.empty",
    "airflow.sensors.base",
    "airflow.models.dagbag",
    "airflow.models.serialized_dag",
    "airflow.serialization.serialized_objects",
    # `dags trigger` goes through the API client, which imports httpx and the auth
    # backends (AIRFLOW__API__AUTH_BACKENDS below): half a second in every trigger
    "airflow.api.client.local_client",
    "airflow.api.auth.backend.basic_auth",
    "airflow.api.auth.backend.session",
)


class AirflowV2(Flavour):
    major = 2
    rest_prefix = "/api/v1"
    ui_component = "webserver"
    preload = PRELOAD
    parser = "scheduler"  # the component that parses the DAG files
    health_path = "/health"
    # the login page: what the web login (and the Amazon provider's fallback) calls first
    answers = {"webserver": ("/health", "/login/")}
    heartbeats = {"scheduler": "scheduler", "triggerer": "triggerer"}

    def components(self) -> dict[str, list[str]]:
        # log servers skipped, as on Airflow 3 (see v3.py)
        return {
            "webserver": ["webserver"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }

    def settings(self, home: Path, dags: Path, ports: Ports, secrets: dict) -> dict[str, str]:
        return {
            # Airflow 2 refuses LocalExecutor on SQLite (Airflow 3 allows it); its own test
            # switch lifts the refusal, so that runs execute in parallel as on MWAA
            "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(ports.api),
            "AIRFLOW__WEBSERVER__BASE_URL": f"http://127.0.0.1:{ports.api}",
            "AIRFLOW__WEBSERVER__SECRET_KEY": secrets["webserver_secret"],
            "AIRFLOW__WEBSERVER__WORKERS": "2",
            "AIRFLOW__WEBSERVER__WORKER_REFRESH_INTERVAL": "43200",  # as MWAA
            "AIRFLOW__API__AUTH_BACKENDS": (
                "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"
            ),
            # Airflow 2.10's own mask_secrets() reads the option by its pre-2.3 name and
            # warns on every command whatever the settings say: that one warning is ignored
            "PYTHONWARNINGS": ",".join(
                [*filter(None, [os.environ.get("PYTHONWARNINGS")]), SQL_ALCHEMY_CONN_WARNING]
            ),
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "10",
        }

    def prepare_users(self, home, passwords: dict[str, str]) -> None:
        # one process (not a cold `airflow users create` per user), passwords on stdin
        code, out = home.run_python(
            _FAB_USERS, json.dumps({"users": UI_USERS, "passwords": passwords})
        )
        if code != 0:
            raise RuntimeError(f"creating the Airflow UI's users failed: {out[-800:]}")


# FAB's roles are made by the webserver at its first start: make them now, then the users
_FAB_USERS = """
import json, sys
doc = json.load(sys.stdin)
from airflow.www.app import create_app
app = create_app(testing=False)
with app.app_context():
    sm = app.appbuilder.sm
    sm.sync_roles()
    for user, role in doc["users"].items():
        password = doc["passwords"][user]
        found = sm.find_user(username=user)
        if found:
            sm.reset_password(found.id, password)
            continue
        if not sm.add_user(user, user, "local", f"{user}@mwaa.local", sm.find_role(role), password):
            sys.exit(f"could not create {user}")
"""
