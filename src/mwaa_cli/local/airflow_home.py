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

from .._files import make_private_dir, write_private

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
# the Airflow UI's users (user -> SimpleAuthManager role); passwords in ui-passwords.json
UI_USERS = {"admin": "admin"}


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


PLUGIN_MODULE = "mwaa_local_support"
_PLUGIN_DIST = "mwaa_local_support-1.0.dist-info"


def install_plugin(site_packages: Path) -> None:
    """Make the Airflow at ``site_packages`` load our plugin (``airflow_plugin.py``, copied as
    the module ``mwaa_local_support`` with an ``airflow.plugins`` entry point). Idempotent:
    rewrites only what changed."""
    source = Path(__file__).with_name("airflow_plugin.py").read_text(encoding="utf-8")
    files = {
        f"{PLUGIN_MODULE}.py": source,
        f"{_PLUGIN_DIST}/METADATA": "Metadata-Version: 2.1\nName: mwaa-local-support\n"
        "Version: 1.0\n",
        f"{_PLUGIN_DIST}/entry_points.txt": "[airflow.plugins]\n"
        f"mwaa_local = {PLUGIN_MODULE}:MwaaLocalPlugin\n",
        f"{_PLUGIN_DIST}/INSTALLER": "mwaa-cli\n",
        f"{_PLUGIN_DIST}/RECORD": "",
        f"{_PLUGIN_DIST}/top_level.txt": f"{PLUGIN_MODULE}\n",
    }
    for name, text in files.items():
        path = site_packages / name
        try:
            if path.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def sample_dags_folder() -> Path:
    """The sample DAGs shipped with the package."""
    return Path(str(resources.files("mwaa_cli").joinpath("local/sample_dags")))


@dataclass
class AirflowHome:
    """One local environment's state folder.

    ``<root>/airflow`` is AIRFLOW_HOME (airflow.cfg, airflow.db, logs); ``<root>/state.json``
    remembers when the environment was created and which Airflow version migrated its DB;
    ``<root>/token.key`` signs CLI tokens; ``<root>/ui-passwords.json`` holds the generated
    passwords of the Airflow UI's users (0600).
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

    @property
    def passwords_path(self) -> Path:
        return self.root / "ui-passwords.json"

    def ui_passwords(self) -> dict[str, str]:
        """The Airflow UI users' passwords (user -> password), generated on first use, 0600."""
        try:
            doc = json.loads(self.passwords_path.read_text())
        except (OSError, ValueError):
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        missing = [user for user in UI_USERS if not isinstance(doc.get(user), str)]
        if missing or self.passwords_path.stat().st_mode & 0o077:
            doc.update({user: secrets.token_urlsafe(18) for user in missing})
            write_private(self.passwords_path, json.dumps(doc, indent=1).encode())
        return doc

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
            # no "everyone is admin": the UI and REST API need a login (ui-passwords.json)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in UI_USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_path),
            "MWAA_LOCAL_LOOPBACK_ONLY": "1",  # our Airflow plugin: loopback Host values only
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

    def prepare(self, log=print, created: bool | None = None) -> dict:
        """Create folders and state, migrate the DB when needed; return the state.

        ``created``: whether the caller just made ``root`` (None: make it here if missing).
        A folder the tool did not create keeps its permissions, with a warning if others can
        read it.
        """
        if created is None:
            created = make_private_dir(self.root)
        if not created and self.root.stat().st_mode & 0o077:
            log(
                f"WARNING: {self.root} is readable by other users; it holds this environment's "
                f"keys and database (chmod 700 {self.root} to make it private)"
            )
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.ui_passwords()
        install_plugin(Path(sysconfig.get_path("purelib")))
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
