"""Airflow 3: the API server (UI, REST API /api/v2, execution API), a standalone DAG processor,
SimpleAuthManager users with generated passwords."""

from __future__ import annotations

from pathlib import Path

from .flavour import UI_USERS, Flavour, Ports

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


# imported once by the fork-server (beside zygote.PRELOAD): measured in children, sys.modules
# before/after common commands, DAG parsing and rendering
PRELOAD = (
    "airflow.cli.commands.asset_command",
    "airflow.cli.commands.backfill_command",
    "airflow.sdk.execution_time.cache",
    "airflow.dag_processing.collection",
    "airflow.dag_processing.bundles.local",
    "airflow.providers.standard.operators.bash",
    "airflow.providers.standard.operators.python",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.sensors.time",
    "airflow.sdk.bases.decorator",
    "airflow.sdk.bases.sensor",
    "airflow.sdk.definitions.decorators",
    "asgiref.sync",
    "airflow.providers.standard.operators.empty",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.standard.sensors.external_task",
    "airflow.providers.standard.triggers.external_task",
    "airflow.providers.standard.hooks.filesystem",
    "airflow.providers.common.compat.openlineage.check",
)


class AirflowV3(Flavour):
    major = 3
    rest_prefix = "/api/v2"
    ui_component = "api-server"
    preload = PRELOAD
    parser = "dag-processor"  # the component that parses the DAG files
    health_path = "/api/v2/monitor/health"
    # the execution API is what tasks talk to: a run triggered before it listens fails
    answers = {"api-server": ("/api/v2/monitor/health", "/execution/health")}
    heartbeats = {
        "scheduler": "scheduler",
        "dag-processor": "dag_processor",
        "triggerer": "triggerer",
    }

    def components(self) -> dict[str, list[str]]:
        # log servers skipped: every process shares one machine, so the API server reads
        # task logs from their files, and nothing listens on Airflow's fixed all-interfaces
        # log-server ports
        return {
            "api-server": ["api-server"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }

    def settings(self, home: Path, dags: Path, ports: Ports, secrets: dict) -> dict[str, str]:
        api = f"http://127.0.0.1:{ports.api}"
        return {
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            # no "everyone is admin": the UI and REST API need a login (ui-passwords.json)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role.upper()}" for user, role in UI_USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(secrets["passwords_path"]),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(ports.api),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        }
