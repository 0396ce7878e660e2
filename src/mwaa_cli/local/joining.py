"""Workers on other machines: what the environment tells a joining worker
(:func:`join_handler`, served by ``api/workers.py``) and the joining side
(:func:`run_worker`, ``mwaa local worker --join``).

A joined worker is an ``airflow celery worker`` of the same Airflow version, with the same
requirements, plugins, startup script and DAGs, and the environment's worker settings - its
metadata DB and broker on the address the environment was bound to (``--host``). Its tasks
name it (``NAME@its-host``); ``mwaa local status`` lists it while it says it is alive.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .._files import write_private
from ..errors import ExitStatus, MwaaError

ALIVE_EVERY = 15.0  # seconds between a joined worker's "still here"
_LOCAL_KEYS = ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__PLUGINS_FOLDER")


class JoinError(MwaaError):
    def __init__(self, message: str, exit_status: int = ExitStatus.UNAVAILABLE) -> None:
        super().__init__(message)
        self.exit_status = ExitStatus(exit_status)


def _tar(folder: Path | None) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        if folder is not None and folder.is_dir():
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder)
                if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
                    continue
                archive.add(path, arcname=str(rel), recursive=False)
    return base64.b64encode(buffer.getvalue()).decode()


def _untar(data: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r:gz") as archive:
        archive.extractall(folder, filter="data")


def join_handler(home, spec, exposed: str | None) -> Callable[[str, str, bool], dict]:
    """The environment's side: records who is alive; hands out the worker's kit."""
    joined_path = home.root / "run" / "joined.json"
    lock = threading.Lock()

    def join(worker: str, address: str, fetch: bool) -> dict:
        with lock:
            try:
                joined = json.loads(joined_path.read_text())
            except (OSError, ValueError):
                joined = {}
            joined[worker] = {"address": address, "seen": time.time()}
            write_private(joined_path, json.dumps(joined, indent=1).encode())
        if not fetch:
            return {"ok": True}
        env = home.environ("worker-1")
        settings = {}
        for key, value in env.items():
            if not (key.startswith("AIRFLOW") or key.startswith("_AIRFLOW")):
                continue
            if key in _LOCAL_KEYS or str(home.root) in value or str(spec.dags) in value:
                continue
            if exposed:
                value = value.replace("127.0.0.1", exposed)
            settings[key] = value
        settings.pop("AIRFLOW__CORE__HOSTNAME_CALLABLE", None)
        return {
            "airflow_version": spec.airflow_version,
            "settings": settings,
            "dags": _tar(spec.dags),
            "plugins": _tar(home.plugins_folder),
            "requirements": spec.requirements.read_text() if spec.requirements else None,
            "startup_script": spec.startup_script.read_text() if spec.startup_script else None,
        }

    return join


def joined_workers(home: Path, within: float = 3 * ALIVE_EVERY) -> dict[str, dict]:
    """Joined workers that said they are alive in the last ``within`` seconds."""
    try:
        joined = json.loads((home / "run" / "joined.json").read_text())
    except (OSError, ValueError):
        return {}
    now = time.time()
    return {k: v for k, v in joined.items() if now - v.get("seen", 0) <= within}


# -- the joining side -------------------------------------------------------------------


@dataclass
class Caller:
    """Signed calls to the environment's endpoint (boto3's credential chain, SigV4)."""

    endpoint: str
    env: str
    region: str
    profile: str | None = None

    def call(self, worker: str, fetch: bool) -> dict:
        import boto3
        import httpx
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.Session(profile_name=self.profile)
        credentials = session.get_credentials()
        if credentials is None:
            raise JoinError("no AWS credentials: source the environment's env.sh (its key pair)")
        url = f"{self.endpoint.rstrip('/')}/mwaa-local/workers/{self.env}"
        body = json.dumps({"worker": worker, "fetch": fetch}).encode()
        request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(credentials.get_frozen_credentials(), "airflow", self.region).add_auth(request)
        verify = os.environ.get("AWS_CA_BUNDLE") or True
        try:
            reply = httpx.post(
                url, content=body, headers=dict(request.headers), verify=verify, timeout=120
            )
        except httpx.HTTPError as exc:
            raise JoinError(f"cannot reach {self.endpoint}: {exc}") from None
        if reply.status_code != 200:
            raise JoinError(
                f"{self.endpoint} refused the worker ({reply.status_code}): {reply.text[:500]}",
                ExitStatus.CONFIG if reply.status_code < 500 else ExitStatus.UNAVAILABLE,
            )
        return reply.json()


def _reachable(settings: dict[str, str]) -> None:
    """Say which of the metadata DB and the broker this machine cannot reach."""
    import psycopg

    db = settings.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    libpq = db.replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        with psycopg.connect(libpq, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        where = urlsplit(db)
        raise JoinError(
            f"cannot reach the environment's metadata DB at {where.hostname}:{where.port} "
            f"({str(exc).strip().splitlines()[0] if str(exc).strip() else exc}): the "
            "environment's machine must let this one reach its Postgres port"
        ) from None
    broker = urlsplit(settings.get("AIRFLOW__CELERY__BROKER_URL", ""))
    if broker.hostname and broker.port:
        try:
            socket.create_connection((broker.hostname, broker.port), timeout=5).close()
        except OSError as exc:
            raise JoinError(
                f"cannot reach the environment's broker at {broker.hostname}:{broker.port} "
                f"({exc.strerror or exc}): the environment's machine must let this one reach it"
            ) from None


def run_worker(caller: Caller, name: str, root: Path, say: Callable[[str], None]) -> int:
    """Fetch the kit, build the same Airflow, run ``airflow celery worker`` until stopped."""
    from .airflow.home import install_plugin
    from .backends.celery import worker_argv
    from .environment import Spec, assemble

    kit = caller.call(name, fetch=True)
    settings: dict[str, str] = kit["settings"]
    _reachable(settings)
    root.mkdir(parents=True, exist_ok=True)
    dags = root / "dags"
    _untar(kit["dags"], dags)
    sources = root / "sources"
    sources.mkdir(exist_ok=True)
    plugins = sources / "plugins"
    _untar(kit["plugins"], plugins)
    files = {}
    for key in ("requirements", "startup_script"):
        if kit.get(key) is not None:
            files[key] = sources / ("requirements.txt" if key == "requirements" else "startup.sh")
            files[key].write_text(kit[key])
    spec = Spec(
        airflow_version=kit["airflow_version"],
        dags=dags,
        requirements=files.get("requirements"),
        plugins=plugins if any(plugins.iterdir()) else None,
        startup_script=files.get("startup_script"),
    )
    built = assemble(spec, root, 0, say, [name], backend=Joined(settings, name))
    home = built.home
    home.plugins_folder.mkdir(parents=True, exist_ok=True)
    install_plugin(home.installation.site_packages)
    argv = [*home.airflow, *worker_argv(name)]
    env = home.environ(name)
    log = root / "worker.log"
    say(f"joined {caller.env} at {caller.endpoint} as {name}; Airflow {spec.airflow_version}")
    say(f"running the Celery worker (its log: {log}); Ctrl-C stops it")
    stop = threading.Event()

    def alive() -> None:
        while not stop.wait(ALIVE_EVERY):
            try:
                caller.call(name, fetch=False)
            except JoinError as exc:
                say(f"WARNING: {exc}")

    threading.Thread(target=alive, daemon=True).start()
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def forward(signum, _frame) -> None:
        stop.set()
        proc.send_signal(signal.SIGTERM)  # Celery's warm shutdown: running tasks finish

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = proc.wait()
    stop.set()
    say(f"the worker exited ({code})")
    return 0 if code in (0, -signal.SIGTERM) else ExitStatus.SERVER_ERROR


@dataclass
class Joined:
    """The backend of a joined worker: the environment's settings, as it handed them out."""

    given: dict[str, str]
    worker: str
    name: str = "joined"

    def settings(self, home) -> dict[str, str]:
        return {}

    def opinionated(self, home) -> dict[str, str]:
        return {}

    def component_env(self, component: str) -> dict[str, str]:
        from .backends.celery import worker_hostname

        return {
            **self.given,
            "MWAA_LOCAL_WORKER_NAME": worker_hostname(self.worker),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "mwaa_local_support.worker_hostname",
        }
