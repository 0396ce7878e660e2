"""Prepare an Airflow home for a local environment: settings, secrets, metadata DB."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def airflow_version() -> str:
    """The version of the installed ``apache-airflow`` distribution."""
    try:
        return metadata.version("apache-airflow")
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "Apache Airflow is not installed: install the local extra, "
            "e.g. pip install 'mwaa-cli[local]' -c constraints/local.txt"
        ) from None


def airflow_command() -> list[str]:
    """argv prefix that starts this interpreter's ``airflow`` (never through a shell)."""
    script = Path(sysconfig.get_path("scripts")) / "airflow"
    if script.exists():
        return [str(script)]
    found = shutil.which("airflow")
    return [found] if found else [sys.executable, "-m", "airflow"]


def sample_dags_folder() -> Path:
    """The sample DAGs shipped with the package."""
    return Path(str(resources.files("mwaa_cli").joinpath("local/sample_dags")))


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


@dataclass
class AirflowHome:
    """One local environment's state folder.

    ``<root>/airflow`` is AIRFLOW_HOME (airflow.cfg, airflow.db, logs); ``<root>/state.json``
    remembers when the environment was created and which Airflow version migrated its DB;
    ``<root>/token.key`` signs CLI tokens.
    """

    root: Path
    dags_folder: Path
    api_port: int = 8080
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def db_path(self) -> Path:
        return self.airflow_home / "airflow.db"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    def environ(self) -> dict[str, str]:
        """The full environment Airflow processes of this home run with."""
        env = dict(os.environ)
        env.update(self.airflow_settings())
        env.update(self.extra_env)
        return env

    def airflow_settings(self) -> dict[str, str]:
        """Airflow settings (as AIRFLOW__ variables) that make this home a local MWAA."""
        api = f"http://127.0.0.1:{self.api_port}"
        return {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
            # migrations run once at start (see migrate()); skip the per-command check
            "AIRFLOW__DATABASE__CHECK_MIGRATIONS": "False",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        }

    def load_state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def save_state(self, state: dict) -> None:
        write_private(self.state_path, json.dumps(state, indent=1).encode())

    def token_key(self) -> bytes:
        """The CLI-token signing key, created on first use and kept 0600."""
        path = self.root / "token.key"
        if path.exists():
            return bytes.fromhex(path.read_text().strip())
        key = secrets.token_bytes(32)
        write_private(path, key.hex().encode())
        return key

    def prepare(self, log=print) -> dict:
        """Create folders and state, migrate the DB when needed; return the state."""
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        state = self.load_state()
        state.setdefault("created_at", time.time())
        version = airflow_version()
        if state.get("migrated_version") != version or not self.db_path.exists():
            log(f"Migrating the Airflow {version} metadata DB at {self.db_path} …")
            self.migrate()
            state["migrated_version"] = version
        self.save_state(state)
        return state

    def migrate(self) -> None:
        proc = subprocess.run(
            [*airflow_command(), "db", "migrate"],
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError("airflow db migrate failed:\n" + "\n".join(tail))
