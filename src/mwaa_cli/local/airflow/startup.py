"""A user's startup script, run as MWAA runs it.

MWAA sources ``startup.sh`` with bash before it installs the requirements and before each
component starts, with ``MWAA_AIRFLOW_COMPONENT`` set (``webserver``, ``scheduler``,
``worker``). What the script exports is kept - also when the script calls ``exit`` - except
MWAA's reserved variables, which are restored. It may run for 5 minutes; its output goes to
the logs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import owned

MAX_RUN = 5 * 60
# variables a startup script cannot change: MWAA restores them (its user guide's list and
# the ones its image protects in code)
RESERVED = frozenset(
    {
        "MWAA__AIRFLOW__COMPONENT", "MWAA_AIRFLOW_COMPONENT", "AIRFLOW__WEBSERVER__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_HOME", "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__METRICS__METRICS_BLOCK_LIST",
        "SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__DEFAULT_QUEUE",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE", "AIRFLOW_VERSION", "AIRFLOW_CONN_AWS_DEFAULT",
        "AWS_DEFAULT_REGION", "AWS_REGION", "PYTHONUNBUFFERED",
        "AIRFLOW__METRICS__STATSD_ALLOW_LIST", "AIRFLOW__METRICS__STATSD_ON",
        "AIRFLOW__METRICS__STATSD_HOST", "AIRFLOW__METRICS__STATSD_PORT",
        "AIRFLOW__METRICS__STATSD_PREFIX", "AIRFLOW__CELERY__WORKER_AUTOSCALE",
        "AIRFLOW__CORE__DAG_CONCURRENCY", "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG",
        "AIRFLOW__CORE__PARALLELISM", "AIRFLOW__SCHEDULER__PARSING_PROCESSES",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__PREDEFINED_QUEUES",
        "AIRFLOW_SCHEDULER_ALLOWED_RUN_ID_PATTERN", "AIRFLOW__WEBSERVER__BASE_URL",
        "AIRFLOW_ENV_ID", "AIRFLOW_ENV_NAME", "AIRFLOW_TASK_REVISION_ID",
        "AIRFLOW__API__BASE_URL", "AWS_EXECUTION_ENV", "PYTHONPATH",
        "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER",
    }
)  # fmt: skip
# variables of the wrapper below, never taken from the script's environment
_OURS = frozenset({"__MWAA_ENV_OUT", "__MWAA_SCRIPT", "SHLVL", "_", "PWD", "OLDPWD", "BASH_ARGV"})

_WRAPPER = r"""
__mwaa_dump() { env -0 > "$__MWAA_ENV_OUT"; }
trap __mwaa_dump EXIT
source "$__MWAA_SCRIPT"
"""


@dataclass
class StartupResult:
    component: str
    exit_code: int
    exports: dict[str, str] = field(default_factory=dict)  # what it set, reserved ones out
    restored: list[str] = field(default_factory=list)  # reserved variables it tried to set
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"passed the {MAX_RUN // 60}-minute limit and was stopped"
        return f"exited {self.exit_code}" if self.exit_code else "ran"


def run(
    script: Path,
    component: str,
    base_env: dict[str, str],
    log: Path,
    timeout: float = MAX_RUN,
) -> StartupResult:
    """Source ``script`` as MWAA does for ``component``; what it exported (reserved ones
    restored), its exit code, its output appended to ``log``."""
    started = time.monotonic()
    env = dict(base_env, MWAA_AIRFLOW_COMPONENT=component, MWAA__AIRFLOW__COMPONENT=component)
    with tempfile.TemporaryDirectory(prefix="mwaa-startup-") as tmp:
        dump = Path(tmp) / "env"
        env |= {"__MWAA_ENV_OUT": str(dump), "__MWAA_SCRIPT": str(script.resolve())}
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            out.write(f"--- startup script {script} for {component}\n".encode())
            out.flush()
            proc = owned.popen(
                ["bash", "-c", _WRAPPER],
                env=env,
                cwd=script.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            timed_out = False
            with owned.owned(proc):  # a stop meanwhile ends the script and its children
                try:
                    code = proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    os.killpg(proc.pid, 15)
                    try:
                        code = proc.wait(5)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, 9)
                        code = proc.wait()
            seconds = time.monotonic() - started
            out.write(
                f"--- exit {code}{' (timed out)' if timed_out else ''}, {seconds:.1f} s\n".encode()
            )
        after = _read_env(dump)
    exports, restored = {}, []
    for key, value in after.items():
        if key in _OURS or base_env.get(key) == value:
            continue
        if key in RESERVED:
            if value != env.get(key):
                restored.append(key)
            continue
        exports[key] = value
    return StartupResult(component, code, exports, sorted(restored), timed_out, seconds)


def _read_env(path: Path) -> dict[str, str]:
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    found = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            found[key.decode(errors="replace")] = value.decode(errors="replace")
    return found
