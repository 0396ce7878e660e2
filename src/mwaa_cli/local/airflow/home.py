"""One local environment's Airflow home: folders, secrets, the metadata DB, and the
environment its processes run with.

``<root>/airflow`` is AIRFLOW_HOME (the DB, logs, ``plugins/``); ``<root>/state.json``
remembers when the environment was created and which Airflow version migrated its DB;
``<root>/token.key`` signs its tokens; ``<root>/ui-passwords.json`` (0600) holds the UI
users' generated passwords.

The environment of an Airflow process is layered as MWAA layers it (low to high): this
process's environment < MWAA's opinionated settings < the startup script's exports < the
user's Airflow configuration options < what a local MWAA must have (home, DB, executor,
ports, auth).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._files import make_private_dir, write_private
from .. import owned
from .flavour import UI_USERS, Flavour, Ports, for_major
from .runtime import Runtime

# MWAA's opinionated settings: applied first, so a user's configuration overrides them
OPINIONATED = {
    "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
    "AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES": "proxy,proxies",
    "AIRFLOW__SCHEDULER__SCHEDULE_AFTER_TASK_EXECUTION": "False",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800.0",
    "AIRFLOW__SECRETS__BACKEND_KWARGS": '{"connections_lookup_pattern": "^(?!aws_default$).*$"}',
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def read_state(root: Path) -> dict:
    """What the environment at ``root`` recorded of itself (``state.json``; {} when new)."""
    try:
        return json.loads((root / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def sample_dags_folder() -> Path:
    """The sample DAGs shipped with the package."""
    from importlib import resources

    return Path(str(resources.files("mwaa_cli").joinpath("local/sample_dags")))


PLUGIN_MODULE = "mwaa_local_support"
_PLUGIN_DIST = "mwaa_local_support-1.0.dist-info"


def install_plugin(site_packages: Path) -> None:
    """Make the Airflow at ``site_packages`` load our plugin (``airflow_plugin.py``, copied as
    the module ``mwaa_local_support`` with an ``airflow.plugins`` entry point). Idempotent:
    rewrites only what changed."""
    source = Path(__file__).parents[1].joinpath("airflow_plugin.py").read_text(encoding="utf-8")
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


@dataclass
class AirflowHome:
    root: Path
    dags_folder: Path
    runtime: Runtime
    api_port: int = 8080
    config_options: dict[str, str] = field(default_factory=dict)  # AIRFLOW__X__Y -> value
    startup_env: dict[str, dict[str, str]] = field(default_factory=dict)  # component -> env
    python_path: list[Path] = field(default_factory=list)
    installation: Any = None  # the runtime, or the runtime plus the requirements (a Layer)
    backend: Any = None  # where the metadata lives, how tasks run (local/backends)

    def __post_init__(self) -> None:
        if self.installation is None:
            self.installation = self.runtime
        if self.backend is None:
            from ..backends.sqlite import SqliteBackend

            self.backend = SqliteBackend(self.db_path)

    @property
    def flavour(self) -> Flavour:
        return for_major(self.runtime.version.major)

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def plugins_folder(self) -> Path:
        return self.airflow_home / "plugins"

    @property
    def db_path(self) -> Path:
        return self.airflow_home / "airflow.db"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"  # read_state() reads it

    @property
    def passwords_path(self) -> Path:
        return self.root / "ui-passwords.json"

    @property
    def airflow(self) -> list[str]:
        """argv prefix that starts this home's ``airflow`` (never through a shell)."""
        return [str(self.installation.airflow)]

    @property
    def python(self) -> Path:
        return self.installation.python

    # -- the environment of Airflow processes ----------------------------------------------

    def environ(self, component: str = "cli") -> dict[str, str]:
        """The full environment an Airflow process of ``component`` runs with."""
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        env.update(OPINIONATED)
        env.update(self.backend.opinionated(self))
        env.update(self.startup_env.get(self.flavour.mwaa_component(component), {}))
        env.update(self.config_options)
        env.update(self.essential())
        env.update(getattr(self.backend, "component_env", lambda _: {})(component))
        return env

    def essential(self) -> dict[str, str]:
        """What a local MWAA needs, over anything a user set (MWAA's reserved settings)."""
        ports = Ports(api=self.api_port)
        secrets_ = {
            "passwords_path": self.passwords_path,
            "webserver_secret": self.secret("webserver.key"),
        }
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            **self.backend.settings(self),  # executor, parallelism, DB (and broker)
            # migrations run once at start (see migrate()); skip the per-command check
            "AIRFLOW__DATABASE__CHECK_MIGRATIONS": "False",
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "AIRFLOW_VERSION": self.runtime.version.version,
            "MWAA_LOCAL_LOOPBACK_ONLY": "1",  # our Airflow plugin: loopback Host values only
            # scheduler.enable_health_check=True serves on all interfaces by default
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            **self.flavour.settings(self.airflow_home, self.dags_folder, ports, secrets_),
        }
        if self.python_path:
            existing = os.environ.get("PYTHONPATH", "")
            env["PYTHONPATH"] = os.pathsep.join(
                [*(str(p) for p in self.python_path), *([existing] if existing else [])]
            )
        return env

    # -- state and secrets -----------------------------------------------------------------

    def load_state(self) -> dict:
        return read_state(self.root)

    def save_state(self, state: dict) -> None:
        write_private(self.state_path, json.dumps(state, indent=1).encode())

    def secret(self, name: str) -> str:
        """A random secret kept in ``<root>/NAME`` (0600), made on first use."""
        path = self.root / name
        try:
            value = path.read_text().strip()
            if value:
                return value
        except OSError:
            pass
        value = secrets.token_hex(32)
        write_private(path, value.encode())
        return value

    def token_key(self) -> bytes:
        """The key that signs this environment's tokens, created on first use and kept 0600."""
        return bytes.fromhex(self.secret("token.key"))

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

    # -- preparing -------------------------------------------------------------------------

    def prepare(self, log=print, created: bool | None = None) -> dict:
        """Create folders and state, migrate the DB when needed, make the UI's users; return
        the state. A folder the tool did not create keeps its permissions (with a warning if
        others can read it)."""
        from .versions import upgrade_problem

        if created is None:
            created = make_private_dir(self.root)
        if not created and self.root.stat().st_mode & 0o077:
            log(
                f"WARNING: {self.root} is readable by other users; it holds this environment's "
                f"keys and database (chmod 700 {self.root} to make it private)"
            )
        self.plugins_folder.mkdir(parents=True, exist_ok=True)
        passwords = self.ui_passwords()
        install_plugin(self.installation.site_packages)
        state = self.load_state()
        state.setdefault("created_at", time.time())
        version = self.runtime.version.version
        migrated = state.get("migrated_version")
        if migrated and migrated != version:
            problem = upgrade_problem(migrated, version)
            if problem:
                raise ValueError(problem)
        if migrated != version or not self.backend.migrated(self):
            verb = "Upgrading" if migrated and migrated != version else "Migrating"
            where = self.db_path if self.backend.name == "sqlite" else "in Postgres"
            log(f"{verb} the Airflow {version} metadata DB {where} …")
            self.migrate()
            state["migrated_version"] = version
            state["backend"] = self.backend.name
            state.pop("users_for", None)
        if state.get("users_for") != version:
            self.flavour.prepare_users(self, passwords)
            state["users_for"] = version
        self.save_state(state)
        return state

    def run_airflow(self, *argv: str) -> tuple[int, str]:
        """A cold ``airflow ARGV`` with this home's settings: (exit code, stdout+stderr)."""
        done = owned.run(
            [*self.airflow, *argv],
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return done.returncode, done.stdout + done.stderr

    def run_python(self, code: str, stdin: str = "") -> tuple[int, str]:
        """The installation's Python running ``code`` with this home's settings, ``stdin``
        on its standard input (secrets go there, never into argv)."""
        done = owned.run(
            [str(self.python), "-c", code],
            env=self.environ(),
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return done.returncode, done.stdout + done.stderr

    def migrate(self) -> None:
        code, out = self.run_airflow("db", "migrate")
        if code != 0:
            tail = out.strip().splitlines()[-5:]
            raise RuntimeError("airflow db migrate failed:\n" + "\n".join(tail))
