"""Postgres + CeleryExecutor on an SQS-compatible broker: MWAA's own architecture.

The environment starts and owns a PostgreSQL server (:mod:`..postgres`) and an SQS-compatible
broker (:mod:`..broker`) unless the user gives their URLs; Airflow's Celery workers run as
components, as many as :mod:`..autoscale` decides between ``MinWorkers`` and ``MaxWorkers``,
each running as many tasks at once as the environment class allows (MWAA's
``celery.worker_autoscale``); ``Schedulers`` > 1 runs that many schedulers (Airflow's HA
scheduler on Postgres).
"""

from __future__ import annotations

import math
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..broker import OwnedBroker, transport_options
from ..metadata_db import NO_DB, MetadataUnavailable
from ..postgres import OwnedPostgres

# tasks one worker runs at once, per environment class (MWAA's celery.worker_autoscale)
CLASS_CONCURRENCY = {
    "mw1.micro": 3,
    "mw1.small": 5,
    "mw1.medium": 10,
    "mw1.large": 20,
    "mw1.xlarge": 40,
    "mw1.2xlarge": 80,
}
DEFAULT_CLASS = "mw1.small"
RECHECK_AFTER = 1.0  # seconds a successful DB check is trusted


@dataclass
class CeleryOptions:
    """What the user chose (flags, mwaa-local.toml, CreateEnvironment)."""

    environment_class: str = DEFAULT_CLASS
    min_workers: int = 1
    max_workers: int = 10  # MWAA's default
    schedulers: int = 2  # MWAA's default for Airflow 2 and 3
    db_url: str | None = None  # a server of the user's (else one the environment owns)
    broker_url: str | None = None  # likewise (sqs://, redis://, amqp://)
    scale_down_after: float = 120.0  # seconds of too many workers before idle ones stop

    def check(self) -> list[str]:
        """What is wrong with these options (empty: nothing)."""
        problems = []
        if self.environment_class not in CLASS_CONCURRENCY:
            problems.append(
                f"environment class {self.environment_class!r} is not one of "
                f"{', '.join(CLASS_CONCURRENCY)}"
            )
        if not 1 <= self.min_workers <= self.max_workers:
            problems.append(
                f"workers: need 1 <= min ({self.min_workers}) <= max ({self.max_workers})"
            )
        if not 1 <= self.schedulers <= 5:
            problems.append(f"schedulers: {self.schedulers} is not between 1 and 5")
        return problems

    @property
    def concurrency(self) -> int:
        return CLASS_CONCURRENCY[self.environment_class]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class CeleryBackend:
    root: Path  # the environment's home
    options: CeleryOptions
    password: str  # the owned Postgres role's
    region: str = "us-east-1"
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])  # the servers' addresses
    fresh: bool = False  # a new home: a cluster found at its place is an orphan
    name: str = "celery"
    postgres: OwnedPostgres | None = None
    broker: OwnedBroker | None = None
    _checked: float = 0.0

    def __post_init__(self) -> None:
        if self.options.db_url is None:
            self.postgres = OwnedPostgres(self.root, self.password, _free_port(), self.listen)
        if self.options.broker_url is None:  # on the --host address (joining workers)
            self.broker = OwnedBroker(_free_port(), self.listen[-1])

    # -- URLs --------------------------------------------------------------------------

    def db_url(self, host: str = "127.0.0.1") -> str:
        if self.postgres is None:
            assert self.options.db_url is not None
            return self.options.db_url
        return self.postgres.url(host)

    def broker_url(self, host: str | None = None) -> str:
        if self.broker is None:
            assert self.options.broker_url is not None
            return self.options.broker_url
        return self.broker.url(host)

    def _connect(self, timeout: int = 3):
        import psycopg

        url = self.db_url().replace("postgresql+psycopg2://", "postgresql://", 1)
        url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        return psycopg.connect(url, connect_timeout=timeout, autocommit=True)

    # -- the Backend protocol ----------------------------------------------------------

    def settings(self, home) -> dict[str, str]:
        db = self.db_url()
        broker = self.broker_url()
        # HTTPS to an SQS endpoint of the user's, unless it is on this machine (ElasticMQ)
        host = urlsplit(broker).hostname or ""
        secure = self.broker is None and host not in ("127.0.0.1", "localhost", "::1")
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.options.max_workers * self.options.concurrency),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db,
            # SQS has no broadcast: Celery's remote control, mingle and gossip cannot work
            "AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL": "False",
            **transport_options(broker, self.region, secure),
        }

    def opinionated(self, home) -> dict[str, str]:
        n = self.options.concurrency
        return {
            "AIRFLOW__CELERY__WORKER_AUTOSCALE": f"{n},{n}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(n),
        }

    @property
    def exposed(self) -> str | None:
        """The non-loopback address workers on other machines reach, if any."""
        return self.listen[-1] if len(self.listen) > 1 else None

    def component_env(self, component: str) -> dict[str, str]:
        if component == "api-server" and self.exposed:
            # Airflow 3's execution API, for tasks on joined workers; the Host check of
            # our Airflow plugin accepts the bound address besides loopback names
            return {"AIRFLOW__API__HOST": "0.0.0.0", "MWAA_LOCAL_HOSTS": self.exposed}
        if not component.startswith("worker-"):
            return {}
        return {
            "MWAA_LOCAL_WORKER_NAME": worker_hostname(component),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "mwaa_local_support.worker_hostname",
        }

    def start_services(self, supervisor, say: Callable[[str], None]) -> None:
        services: dict[str, list[str]] = {}
        if self.postgres is not None:
            self.postgres.init(say, fresh=self.fresh)
            services["postgres"] = self.postgres.argv()
        if self.broker is not None:
            services["broker"] = self.broker.argv()
        if self.postgres is not None:
            user = self.postgres.user
            supervisor.start(
                {"postgres": services.pop("postgres")},
                user=user.pw_uid if user else None,
                stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
            )
        if services:
            supervisor.start(services)
        alive = lambda: not supervisor.given_up  # noqa: E731
        if self.postgres is not None:
            self.postgres.wait(alive=alive)
        else:
            self._wait_for_db()
        if self.broker is not None:
            self.broker.wait(alive=alive)

    def _wait_for_db(self, limit: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + limit
        while True:
            try:
                with self._connect():
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise MetadataUnavailable(
                        f"the Postgres server of --db-url does not answer: {_first(exc)}"
                    ) from None
                time.sleep(0.5)

    def components(self) -> dict[str, list[str]]:
        extra = {
            f"scheduler-{i}": ["scheduler", "--skip-serve-logs"]
            for i in range(2, self.options.schedulers + 1)
        }
        for i in range(1, self.options.min_workers + 1):
            extra[f"worker-{i}"] = worker_argv(f"worker-{i}")
        return extra

    def migrated(self, home) -> bool:
        try:
            with self._connect() as conn:
                found = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
                return found[0] is not None
        except Exception:  # not reachable: the migration says why
            return False

    def preflight(self, command: str) -> None:
        if command in NO_DB or command.startswith("providers "):
            return
        if time.monotonic() - self._checked < RECHECK_AFTER:
            return
        import psycopg

        try:
            with self._connect() as conn:
                conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except psycopg.Error as exc:
            raise MetadataUnavailable(
                f"the Airflow metadata database (Postgres on {self._where()}) is not usable "
                f"({_first(exc)}); the command was not run"
            ) from None
        self._checked = time.monotonic()

    def dag_files(self) -> set[str]:
        names: set[str] = set()
        try:
            with self._connect() as conn:
                for table, column in (("dag", "fileloc"), ("import_error", "filename")):
                    try:
                        names |= {r[0] for r in conn.execute(f"SELECT {column} FROM {table}")}
                    except Exception:  # a table of another Airflow version
                        pass
        except Exception:
            return set()
        return {n for n in names if isinstance(n, str)}

    def task_counts(self) -> dict[str, dict[str, int]]:
        """state ("queued", "running") -> hostname -> task instances (MWAA's scaling input)."""
        counts: dict[str, dict[str, int]] = {"queued": {}, "running": {}}
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT state, coalesce(hostname, ''), count(*) FROM task_instance "
                "WHERE state IN ('queued', 'running') GROUP BY 1, 2"
            ).fetchall()
        for state, host, count in rows:
            counts[state][host] = int(count)
        return counts

    def _where(self) -> str:
        if self.postgres is not None:
            return f"127.0.0.1:{self.postgres.port}, owned by this environment"
        return "the server of --db-url"

    def describe(self) -> str:
        o = self.options
        db = f"Postgres ({self._where()})"
        broker = (
            f"SQS-compatible broker (moto, port {self.broker.port})"
            if self.broker
            else f"broker {self.broker_url().split('://')[0]}:// of --broker-url"
        )
        return (
            f"{db} + CeleryExecutor on {broker}; {o.environment_class}: {o.concurrency} "
            f"tasks per worker, workers {o.min_workers}-{o.max_workers}, "
            f"{o.schedulers} scheduler(s)"
        )


def worker_hostname(component: str) -> str:
    return f"{component}@{socket.gethostname()}"


def worker_argv(component: str) -> list[str]:
    """``airflow celery worker`` for the worker component ``component`` (``worker-3``)."""
    return [
        "celery",
        "worker",
        "--celery-hostname",
        worker_hostname(component),
        "--skip-serve-logs",  # one machine: the API server reads task logs from their files
        "--without-mingle",
        "--without-gossip",
    ]


def required_workers(queued: int, running: int, per_worker: int, low: int, high: int) -> int:
    """MWAA's rule: enough workers for every queued and running task, within the limits."""
    return max(low, min(high, math.ceil((queued + running) / per_worker)))


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
