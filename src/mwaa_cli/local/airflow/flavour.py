"""What differs between Airflow 2 and 3 in a local environment - one module per major
(:mod:`.v2`, :mod:`.v3`), this one picks.

A flavour knows the components that make triggered runs execute, the Airflow settings of
its major, how the UI's users log in, where the REST API lives and which MWAA component
name each process answers to (``MWAA_AIRFLOW_COMPONENT`` for startup scripts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# the Airflow UI's users (user -> role); their passwords: HOME/ui-passwords.json (0600)
UI_USERS = {"admin": "Admin", "op": "Op", "user": "User", "viewer": "Viewer"}


@dataclass(frozen=True)
class Ports:
    api: int  # Airflow's API server (3.x) or webserver (2.x), on 127.0.0.1


BACKGROUND_NICE = 5  # CFS weight 335 against 1024: a third of a normal process's share


class Flavour:
    major: int
    rest_prefix: str  # where Airflow's REST API lives
    ui_component: str  # the component that serves the UI and the REST API
    preload: tuple[str, ...] = ()  # modules the fork-server imports beside its common ones
    # ready means ready (local/readiness.py): component -> paths on Airflow's API server or
    # webserver that answer 200 once it serves; component -> its key in the health JSON at
    # health_path, whose heartbeat must be newer than the start
    parser: str = "scheduler"  # the component that parses the DAG files
    health_path: str = "/health"
    answers: dict[str, tuple[str, ...]] = {}
    heartbeats: dict[str, str] = {}

    def components(self) -> dict[str, list[str]]:
        """name -> Airflow argv of the long-running processes."""
        raise NotImplementedError

    def settings(self, home: Path, dags: Path, ports: Ports, secrets: dict) -> dict[str, str]:
        """``AIRFLOW__…`` settings of this major (beside the common ones)."""
        raise NotImplementedError

    def nice(self) -> dict[str, int]:
        """How much lower than the server each component runs: the scheduler, DAG processor
        and triggerer loop in the background, while what a user waits on - the endpoint, the
        warm executor's commands, the API server or webserver - keeps the full priority."""
        level = int(os.environ.get("MWAA_CLI_BACKGROUND_NICE", BACKGROUND_NICE))  # bench/
        return {name: level for name in self.components() if name != self.ui_component}

    def mwaa_component(self, name: str) -> str:
        """The value of ``MWAA_AIRFLOW_COMPONENT`` for component ``name`` (or "cli")."""
        if name.startswith("worker"):
            return "worker"
        return "webserver" if name in (self.ui_component, "cli") else "scheduler"

    def prepare_users(self, home, passwords: dict[str, str]) -> None:
        """Make the UI's users exist with these passwords (after the DB is migrated;
        ``home``: the AirflowHome)."""


def for_major(major: int) -> Flavour:
    if major >= 3:
        from .v3 import AirflowV3

        return AirflowV3()
    from .v2 import AirflowV2

    return AirflowV2()
