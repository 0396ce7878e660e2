"""The environments of a local region: their definitions, status and processes.

Each environment is a folder ``envs/NAME/`` holding ``environment.json`` (definition, status,
tags, port, LastUpdate; 0600: it holds the Airflow configuration options), the sources of each
definition (``sources/GEN/``), the DAGs synced from its bucket, the Airflow home of its
``mwaa local serve`` child and that child's ``serve.log``. Provisioning (create, update,
delete) runs in a thread per environment and moves the status as MWAA does; callers poll
GetEnvironment.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..._files import make_private_dir, write_private
from ...errors import ConfigError
from ..airflow.config_options import to_environ
from ..airflow.versions import DEFAULT
from ..api.errors import AwsError
from ..environment import STARTED_WITHOUT
from . import model
from .children import Child, Launch, Outcome, stop_leftover
from .sources import Buckets, SourceError

RUNNING = ("AVAILABLE", "UPDATE_FAILED")  # states in which the environment serves
START_TIMEOUT = 30 * 60.0  # a runtime to make, requirements (9 min) and a script (5 min)


@dataclass
class Record:
    """What the region keeps about one environment (``environment.json``)."""

    name: str
    definition: dict  # CreateEnvironment's members (merged updates), Name aside
    status: str
    created_at: float
    port: int
    generation: int = 0  # the sources folder of ``definition``
    tags: dict[str, str] = field(default_factory=dict)
    last_update: dict = field(default_factory=dict)


def _free_port() -> int:
    from ..serve import free_port

    return free_port()


BACKEND_TAG = "mwaa-local:backend"  # "sqlite" | "celery": overrides the region's default


class Registry:
    """name -> environment, persisted under ``root / "envs"``."""

    def __init__(
        self,
        root: Path,
        region: str,
        buckets: Buckets,
        say: Callable[[str], None],
        account: str = "000000000000",
        dag_sync_interval: float = 30.0,
        backend: str = "sqlite",
    ) -> None:
        self.root = root / "envs"
        self.backend = backend  # environments' default; the tag BACKEND_TAG picks per one
        self.region, self.account = region, account
        self.buckets = buckets
        self.say = say
        self.dag_sync_interval = dag_sync_interval
        self.records: dict[str, Record] = {}
        self.children: dict[str, Child] = {}
        self.busy: dict[str, threading.Thread] = {}
        self.restoring: set[str] = set()
        self.synced: dict[str, dict[str, str]] = {}  # name -> DAG key -> fingerprint
        self.syncing: set[str] = set()  # environments whose DAG sync runs now
        self.last_sync: dict[str, float] = {}  # name -> when its last sync started
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        make_private_dir(self.root)
        for path in sorted(self.root.glob("*/environment.json")):
            try:
                record = Record(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError) as exc:
                say(f"skipping {path}: {exc}")
                continue
            self.records[record.name] = record

    # -- folders ----------------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        return self.root / name

    def home(self, name: str) -> Path:
        return self.folder(name) / "home"

    def log(self, name: str) -> Path:
        return self.folder(name) / "serve.log"

    def _save(self, record: Record) -> None:
        write_private(
            self.folder(record.name) / "environment.json",
            json.dumps(asdict(record), indent=1).encode(),
        )

    # -- queries ----------------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:airflow:{self.region}:{self.account}:environment/{name}"

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.records)

    def get(self, name: str) -> Record:
        with self.lock:
            record = self.records.get(name)
        if record is None:
            raise AwsError(404, "ResourceNotFoundException", f"Environment {name} not found")
        return record

    def status(self, record: Record) -> str:
        if record.name in self.restoring:
            return "MAINTENANCE"
        child = self.children.get(record.name)
        if record.status == "AVAILABLE" and child is not None and not child.alive():
            return "MAINTENANCE"  # its server died: never AVAILABLE until it is back
        return record.status

    def serving_port(self, name: str) -> int:
        """The port of a serving environment's web server (for tokens and REST calls)."""
        record = self.get(name)
        child = self.children.get(name)
        status = self.status(record)
        if status not in RUNNING or child is None or not child.alive():
            raise AwsError(
                404,
                "ResourceNotFoundException",
                f"Environment {name} is {status}: its web server is not available",
            )
        return record.port

    def describe(self, name: str) -> dict:
        record = self.get(name)
        d = record.definition
        status = self.status(record)
        env: dict = {
            "Name": record.name,
            "Arn": self.arn(record.name),
            "Status": status,
            "AirflowVersion": d.get("AirflowVersion", DEFAULT),
            "CreatedAt": record.created_at,
            "EnvironmentClass": d.get("EnvironmentClass", "mw1.small"),
            "ExecutionRoleArn": d.get("ExecutionRoleArn"),
            "ServiceRoleArn": f"arn:aws:iam::{self.account}:role/aws-service-role/"
            "airflow.amazonaws.com/AWSServiceRoleForAmazonMWAA",
            "SourceBucketArn": d.get("SourceBucketArn"),
            "DagS3Path": d.get("DagS3Path"),
            "AirflowConfigurationOptions": dict(d.get("AirflowConfigurationOptions") or {}),
            **model.describe_sizes(d),
            "NetworkConfiguration": d.get("NetworkConfiguration") or {},
            "LoggingConfiguration": model.logging_configuration(
                d, record.name, self.region, self.account
            ),
            "WeeklyMaintenanceWindowStart": d.get("WeeklyMaintenanceWindowStart", "SUN:03:30"),
            "WebserverAccessMode": d.get("WebserverAccessMode", "PRIVATE_ONLY"),
            "EndpointManagement": d.get("EndpointManagement", "SERVICE"),
            "CeleryExecutorQueue": f"arn:aws:sqs:{self.region}:{self.account}:"
            f"airflow-celery-{record.name}",
            "Tags": dict(record.tags),
            "LastUpdate": dict(record.last_update),
        }
        for key in (
            "PluginsS3Path",
            "PluginsS3ObjectVersion",
            "RequirementsS3Path",
            "RequirementsS3ObjectVersion",
            "StartupScriptS3Path",
            "StartupScriptS3ObjectVersion",
            "KmsKey",
        ):
            if d.get(key):
                env[key] = d[key]
        if status not in ("CREATING", "CREATE_FAILED"):
            env["WebserverUrl"] = f"127.0.0.1:{record.port}"
        return {k: v for k, v in env.items() if v is not None}

    # -- operations -------------------------------------------------------------------------

    def create(self, name: str, params: dict) -> str:
        model.unknown_members("CreateEnvironment", params)
        model.check("CreateEnvironment", params)
        model.check_mwaa_rules(params, creating=True)
        _check_options(params)
        with self.lock:
            if name in self.records:
                raise AwsError(
                    400,
                    "ValidationException",
                    f"Unable to create environment because an environment with name {name} "
                    "already exists",
                )
            now = time.time()
            definition = {k: v for k, v in params.items() if k != "Tags"}
            definition.setdefault("AirflowVersion", DEFAULT)
            record = Record(
                name=name,
                definition=definition,
                status="CREATING",
                created_at=now,
                port=_free_port(),
                tags=dict(params.get("Tags") or {}),
                last_update={"Status": "PENDING", "CreatedAt": now, "Source": "CUSTOMER"},
            )
            make_private_dir(self.folder(name))
            self.records[name] = record
            self._save(record)
            self._run(name, lambda: self._create(record))
        return self.arn(name)

    def update(self, name: str, params: dict) -> str:
        model.unknown_members("UpdateEnvironment", params)
        model.check("UpdateEnvironment", params)
        with self.lock:
            record = self.get(name)
            status = self.status(record)
            if status not in RUNNING or name in self.busy:
                raise AwsError(
                    400,
                    "ValidationException",
                    f"Unable to update environment {name} because it is in {status} state: "
                    "it must be AVAILABLE (or UPDATE_FAILED)",
                )
            merged = model.merge_update(record.definition, params)
            model.check_mwaa_rules(merged, creating=False)
            _check_options(merged)
            now = time.time()
            record.status = "UPDATING"
            record.last_update = {"Status": "PENDING", "CreatedAt": now, "Source": "CUSTOMER"}
            if params.get("WorkerReplacementStrategy"):
                record.last_update["WorkerReplacementStrategy"] = params[
                    "WorkerReplacementStrategy"
                ]
            self._save(record)
            self._run(name, lambda: self._update(record, merged))
        return self.arn(name)

    def delete(self, name: str) -> None:
        with self.lock:
            record = self.get(name)
            status = self.status(record)
            if status in ("CREATING", "UPDATING", "DELETING") or name in self.busy:
                raise AwsError(
                    400,
                    "ValidationException",
                    f"Unable to delete environment {name} because it is in {status} state",
                )
            record.status = "DELETING"
            self._save(record)
            self._run(name, lambda: self._delete(record))

    def record_for_arn(self, arn: str) -> Record:
        prefix = f"arn:aws:airflow:{self.region}:{self.account}:environment/"
        if not arn.startswith(prefix):
            raise AwsError(404, "ResourceNotFoundException", f"Resource {arn[:300]} not found")
        return self.get(arn[len(prefix) :])

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self.lock:
            record = self.record_for_arn(arn)
            merged = {**record.tags, **tags}
            if len(merged) > 50:
                raise AwsError(
                    400, "ValidationException", "an environment can have at most 50 tags"
                )
            record.tags = merged
            self._save(record)

    def untag(self, arn: str, keys: list[str]) -> None:
        with self.lock:
            record = self.record_for_arn(arn)
            record.tags = {k: v for k, v in record.tags.items() if k not in keys}
            self._save(record)

    # -- provisioning -----------------------------------------------------------------------

    def _run(self, name: str, work: Callable[[], None]) -> None:
        def body() -> None:
            try:
                work()
            except Exception as exc:  # never leave an environment CREATING forever
                self.say(f"{name}: provisioning failed: {exc!r}")
                with self.lock:
                    record = self.records.get(name)
                    if record is not None and record.status in ("CREATING", "UPDATING"):
                        self._finish(record, "UNAVAILABLE", f"internal error: {exc}")
            finally:
                with self.lock:
                    self.busy.pop(name, None)

        thread = threading.Thread(target=body, name=f"provision-{name}", daemon=True)
        self.busy[name] = thread
        thread.start()

    def _finish(
        self, record: Record, status: str, error: str | None, code: str | None = None
    ) -> None:
        record.status = status
        update = {k: v for k, v in record.last_update.items() if k != "Error"}
        update["Status"] = "FAILED" if error else "SUCCESS"
        if error:
            if code is None:  # the user's parts failed, or the environment itself
                user = "requirements" in error or "startup script" in error
                code = "UserEnvironmentFailure" if user else "EnvironmentStartFailure"
            update["Error"] = {"ErrorCode": code, "ErrorMessage": error[-1024:]}
        record.last_update = update
        self._save(record)
        self.say(f"{record.name}: {status}" + (f" ({error.splitlines()[0]})" if error else ""))

    def _create(self, record: Record) -> None:
        self.say(f"{record.name}: CREATING (Apache Airflow {record.definition['AirflowVersion']})")
        try:
            launch = self._fetch(record, record.definition, record.generation)
        except (SourceError, OSError) as exc:
            self._finish(record, "CREATE_FAILED", str(exc), "SourceUnavailable")
            return
        outcome = self._start(record, launch)
        if self.stopping.is_set():  # the region stops: CREATING is resumed by the next `up`
            return
        if outcome.ok and not outcome.error:
            with self.lock:
                self._finish(record, "AVAILABLE", None)
            return
        self._stop_child(record.name)
        with self.lock:
            self._finish(record, "CREATE_FAILED", outcome.error)

    def _update(self, record: Record, merged: dict) -> None:
        self.say(f"{record.name}: UPDATING")
        generation = record.generation + 1
        try:
            launch = self._fetch(record, merged, generation)
        except (SourceError, OSError) as exc:  # nothing stopped yet: still serving the old
            self._finish(record, "UPDATE_FAILED", str(exc), "SourceUnavailable")
            return
        self._stop_child(record.name)
        outcome = self._start(record, launch)
        if self.stopping.is_set():  # UPDATING: the next `up` rolls back to the last good one
            return
        if outcome.ok and not outcome.error:
            with self.lock:
                record.definition, old = merged, record.generation
                record.generation = generation
                self._finish(record, "AVAILABLE", None)
            shutil.rmtree(self.folder(record.name) / "sources" / str(old), ignore_errors=True)
            return
        self._stop_child(record.name)
        self.say(f"{record.name}: update failed, rolling back to the last good definition")
        back = self._start(record, self._launch(record, record.definition, record.generation))
        shutil.rmtree(self.folder(record.name) / "sources" / str(generation), ignore_errors=True)
        if self.stopping.is_set():
            return
        status = "UPDATE_FAILED" if back.ok else "UNAVAILABLE"
        why = (outcome.error or "the update failed").replace(STARTED_WITHOUT, "")
        self._finish(
            record,
            status,
            f"{why}; rolled back: the environment "
            + ("runs its previous definition again" if back.ok else "did not come back either"),
        )

    def _delete(self, record: Record) -> None:
        self.say(f"{record.name}: DELETING")
        self._stop_child(record.name)
        stop_leftover(self.home(record.name))
        shutil.rmtree(self.folder(record.name), ignore_errors=True)
        with self.lock:
            self.records.pop(record.name, None)
            self.synced.pop(record.name, None)
        self.say(f"{record.name}: DELETED")

    def _fetch(self, record: Record, definition: dict, generation: int) -> Launch:
        """Download ``definition``'s sources into ``sources/GEN`` and sync its DAGs."""
        folder = self.folder(record.name) / "sources" / str(generation)
        make_private_dir(folder)
        bucket = self.buckets.get(definition["SourceBucketArn"])
        for key, file in (
            ("RequirementsS3Path", "requirements.txt"),
            ("PluginsS3Path", "plugins.zip"),
            ("StartupScriptS3Path", "startup.sh"),
        ):
            path = definition.get(key)
            target = folder / file
            if path:
                version = definition.get(key.replace("Path", "ObjectVersion"))
                bucket.fetch(path.lstrip("/"), target, version)
            else:
                target.unlink(missing_ok=True)
        self._sync_dags(record.name, definition)
        return self._launch(record, definition, generation)

    def _launch(self, record: Record, definition: dict, generation: int) -> Launch:
        folder = self.folder(record.name) / "sources" / str(generation)
        options = definition.get("AirflowConfigurationOptions") or {}
        config = None
        if options:
            config = folder / "airflow-config.json"
            write_private(config, json.dumps(options).encode())
        empty = self.folder(record.name) / "no-definition.toml"
        if not empty.exists():
            empty.write_text("# the region passes the environment's definition as flags\n")
        dags = self.folder(record.name) / "dags"
        dags.mkdir(exist_ok=True)

        def present(file: str) -> Path | None:
            return folder / file if (folder / file).is_file() else None

        return Launch(
            name=record.name,
            home=self.home(record.name),
            dags=dags,
            port=record.port,
            region=self.region,
            airflow_version=definition.get("AirflowVersion", DEFAULT),
            requirements=present("requirements.txt"),
            plugins=present("plugins.zip"),
            startup_script=present("startup.sh"),
            airflow_config=config,
            env_file=empty,
            backend=self._backend_flags(record, definition),
        )

    def _backend_flags(self, record: Record, definition: dict) -> list[str]:
        """``mwaa local serve`` flags of the environment's backend: Celery sized as MWAA
        sizes it (EnvironmentClass, MinWorkers, MaxWorkers, Schedulers)."""
        backend = record.tags.get(BACKEND_TAG, self.backend)
        if backend != "celery":
            return ["--backend", "sqlite"]
        sizes = model.describe_sizes(definition)
        return [
            *("--backend", "celery"),
            *("--environment-class", definition.get("EnvironmentClass", "mw1.small")),
            *("--min-workers", str(sizes["MinWorkers"])),
            *("--max-workers", str(sizes["MaxWorkers"])),
            *("--schedulers", str(sizes["Schedulers"])),
        ]

    def _start(self, record: Record, launch: Launch) -> Outcome:
        stop_leftover(launch.home)
        make_private_dir(launch.home)
        self._share_identity(launch.home)
        for _attempt in range(2):
            child = Child(launch, self.log(record.name))
            child.start()
            with self.lock:
                self.children[record.name] = child
            outcome = child.wait_ready(START_TIMEOUT, self.stopping.is_set)
            if not outcome.port_in_use:
                return outcome
            with self.lock:  # the port went to someone else while the region was down
                record.port = launch.port = _free_port()
                self._save(record)
        return outcome

    def _stop_child(self, name: str) -> None:
        with self.lock:
            child = self.children.pop(name, None)
        if child is not None:
            child.stop()

    def _share_identity(self, home: Path) -> None:
        """The region's key pairs and CA, so that the child accepts the region's callers and
        its certificate is trusted where the region's is."""
        region_root = self.root.parent
        for file in ("credentials.json", "role-keys.json"):
            source = region_root / file
            if source.is_file():
                write_private(home / file, source.read_bytes())
        tls = home / "tls"
        if not tls.is_symlink():
            shutil.rmtree(tls, ignore_errors=True)
            tls.symlink_to(region_root / "tls")

    # -- the region's life ------------------------------------------------------------------

    def restore(self) -> None:
        """Bring back what was running when the region stopped (or was killed)."""
        for name in self.names():
            record = self.records[name]
            if record.status in RUNNING:
                self.restoring.add(name)
                self._run(name, lambda record=record: self._restore(record))
            elif record.status == "CREATING":
                self._run(name, lambda record=record: self._create(record))
            elif record.status == "UPDATING":  # interrupted: back to the last good one
                self._run(name, lambda record=record: self._resume_update(record))
            elif record.status == "DELETING":
                self._run(name, lambda record=record: self._delete(record))

    def _restore(self, record: Record) -> None:
        try:
            self.say(f"{record.name}: starting again ({record.status})")
            outcome = self._start(
                record, self._launch(record, record.definition, record.generation)
            )
            if not outcome.ok and not self.stopping.is_set():
                self._finish(record, "UNAVAILABLE", outcome.error)
        finally:
            self.restoring.discard(record.name)

    def _resume_update(self, record: Record) -> None:
        outcome = self._start(record, self._launch(record, record.definition, record.generation))
        if self.stopping.is_set():
            return
        error = "the update was interrupted by a restart of the endpoint; rolled back"
        self._finish(record, "UPDATE_FAILED" if outcome.ok else "UNAVAILABLE", error)

    def shutdown(self) -> None:
        """Stop every environment's processes (their state stays: ``up`` brings them back)."""
        self.stopping.set()
        with self.lock:
            children = list(self.children.items())
            self.children.clear()
        threads = [threading.Thread(target=child.stop) for _, child in children]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- DAG sync and health ----------------------------------------------------------------

    def _sync_dags(self, name: str, definition: dict) -> None:
        dags = self.folder(name) / "dags"
        dags.mkdir(exist_ok=True)
        seen = self.synced.setdefault(name, {})
        bucket = self.buckets.get(definition["SourceBucketArn"])
        result = bucket.sync(definition["DagS3Path"], dags, seen)
        if result.changed or result.removed:
            self.say(f"{name}: DAGs synced ({result.changed} changed, {result.removed} removed)")

    def watch(self) -> None:
        """Every second: restart an environment whose server died (never behind a sync);
        every ``dag_sync_interval`` per environment: sync its DAGs in a thread of its own,
        so that one slow or unreachable bucket holds up nothing but its own next sync."""
        while not self.stopping.wait(1.0):
            for name in self.names():
                with self.lock:
                    record = self.records.get(name)
                    child = self.children.get(name)
                    idle = name not in self.busy and name not in self.restoring
                if record is None or not idle or record.status not in RUNNING:
                    continue
                if child is not None and not child.alive():
                    self.say(f"{name}: its server exited; starting it again:\n{child.tail()}")
                    self.restoring.add(name)
                    self._run(name, lambda record=record: self._restore(record))
                    continue
                self._sync_when_due(name, record.definition)

    def _sync_when_due(self, name: str, definition: dict) -> None:
        now = time.monotonic()
        with self.lock:
            due = now - self.last_sync.get(name, now) >= self.dag_sync_interval
            self.last_sync.setdefault(name, now)
            if not due or name in self.syncing:
                return
            self.syncing.add(name)
            self.last_sync[name] = now

        def sync() -> None:
            try:
                self._sync_dags(name, definition)
            except (SourceError, OSError) as exc:
                self.say(f"{name}: DAG sync failed: {exc}")
            except Exception as exc:  # botocore's, say: logged, the next sync tries again
                self.say(f"{name}: DAG sync failed: {type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.syncing.discard(name)

        threading.Thread(target=sync, name=f"sync-{name}", daemon=True).start()


def _check_options(definition: dict) -> None:
    try:
        to_environ(definition.get("AirflowConfigurationOptions") or {})
    except ConfigError as exc:
        raise AwsError(400, "ValidationException", str(exc)) from None
