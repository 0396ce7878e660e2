"""The backend seam's parts that need no server: MWAA's worker rule, the Celery options and
their checks, the refusal to move an environment between backends, the autoscaler's decisions
(on task counts given to it; tests/e2e/test_celery.py scales real workers), the settings a
Celery environment hands Airflow."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest

from mwaa_cli.errors import ConfigError
from mwaa_cli.local.autoscale import Autoscaler, read_status
from mwaa_cli.local.backends import check_unchanged
from mwaa_cli.local.backends.celery import (
    CLASS_CONCURRENCY,
    CeleryBackend,
    CeleryOptions,
    required_workers,
    worker_hostname,
)
from mwaa_cli.local.backends.sqlite import SqliteBackend
from mwaa_cli.local.broker import transport_options
from mwaa_cli.local.definition import CELERY_KEYS, load


@pytest.mark.parametrize(
    ("queued", "running", "per_worker", "low", "high", "wanted"),
    [
        (0, 0, 10, 1, 4, 1),  # idle: MinWorkers
        (1, 0, 10, 1, 4, 1),
        (11, 0, 10, 1, 4, 2),  # one task past a worker's share needs another worker
        (25, 5, 10, 1, 4, 3),
        (50, 50, 10, 1, 4, 4),  # never past MaxWorkers
        (0, 0, 3, 2, 5, 2),
        (7, 0, 3, 1, 10, 3),
    ],
)
def test_mwaa_rule_queued_plus_running_over_tasks_per_worker(
    queued, running, per_worker, low, high, wanted
):
    assert required_workers(queued, running, per_worker, low, high) == wanted


def test_every_class_has_mwaa_concurrency_and_bad_options_are_named():
    assert CLASS_CONCURRENCY["mw1.micro"] == 3 and CLASS_CONCURRENCY["mw1.2xlarge"] == 80
    assert CeleryOptions().check() == []
    problems = CeleryOptions("mw1.huge", min_workers=5, max_workers=2, schedulers=6).check()
    assert len(problems) == 3
    assert "mw1.huge" in problems[0] and "min (5) <= max (2)" in problems[1]
    assert "6 is not between 1 and 5" in problems[2]


def test_the_definition_keys_are_the_options_fields():
    """mwaa-local.toml, the serve flags and CeleryOptions name the same things."""
    names = {f.name for f in fields(CeleryOptions)}
    assert set(CELERY_KEYS) | {"scale_down_after"} == names


def test_definition_reads_celery_keys_and_refuses_non_integers(tmp_path):
    path = tmp_path / "mwaa-local.toml"
    path.write_text(
        'backend = "celery"\nenvironment_class = "mw1.large"\nmin_workers = 2\n'
        'max_workers = 6\nbroker_url = "redis://127.0.0.1:6379/0"\n'
    )
    definition = load(path)
    assert definition.backend == "celery"
    assert definition.celery == {
        "environment_class": "mw1.large",
        "min_workers": 2,
        "max_workers": 6,
        "broker_url": "redis://127.0.0.1:6379/0",
    }
    for bad in ('min_workers = "2"', "schedulers = true", "max_workers = 2.5"):
        path.write_text(bad + "\n")
        with pytest.raises(ConfigError, match="must be a whole number"):
            load(path)


def _celery(tmp_path: Path, **options) -> CeleryBackend:
    return CeleryBackend(tmp_path, CeleryOptions(**options), "pw", "eu-west-1")


def test_moving_between_backends_is_refused_with_the_way_out(tmp_path):
    sqlite = SqliteBackend(tmp_path / "airflow.db")
    celery = _celery(tmp_path)
    check_unchanged({}, celery, tmp_path)  # a new environment: any backend
    check_unchanged({"backend": "celery"}, celery, tmp_path)
    check_unchanged({"migrated_version": "3.3.1"}, sqlite, tmp_path)  # before backends
    with pytest.raises(ConfigError) as info:
        check_unchanged({"migrated_version": "3.3.1"}, celery, tmp_path)
    message = str(info.value)
    assert "SQLite (LocalExecutor)" in message and "Postgres (CeleryExecutor)" in message
    assert "--backend sqlite" in message and "variables export" in message
    with pytest.raises(ConfigError, match="--backend celery"):
        check_unchanged({"backend": "celery"}, sqlite, tmp_path)


def test_celery_settings_owned_servers_and_the_users(tmp_path):
    owned = _celery(tmp_path, environment_class="mw1.micro", max_workers=4)
    settings = owned.settings(None)
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert settings["AIRFLOW__CORE__PARALLELISM"] == "12"  # 4 workers x 3 tasks
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert settings["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + owned.db_url()
    assert settings["AIRFLOW__CELERY__BROKER_URL"].startswith("sqs://")
    assert settings["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__IS_SECURE"] == "False"
    assert settings["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION"] == "eu-west-1"
    assert owned.opinionated(None)["AIRFLOW__CELERY__WORKER_AUTOSCALE"] == "3,3"
    theirs = _celery(
        tmp_path,
        db_url="postgresql+psycopg2://u:p@db.example:5432/airflow",
        broker_url="sqs://AKIA:secret@sqs.eu-west-1.amazonaws.com",
    )
    assert theirs.postgres is None and theirs.broker is None
    settings = theirs.settings(None)
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@db.example:5432/airflow")
    assert "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__IS_SECURE" not in settings  # HTTPS
    assert transport_options("redis://127.0.0.1:6379/0", "eu-west-1", False) == {}


def test_workers_name_themselves_and_only_the_api_server_opens_up(tmp_path):
    backend = _celery(tmp_path)
    env = backend.component_env("worker-2")
    assert env["MWAA_LOCAL_WORKER_NAME"] == worker_hostname("worker-2")
    assert worker_hostname("worker-2").startswith("worker-2@")
    assert backend.component_env("scheduler") == {}
    assert backend.component_env("api-server") == {}  # loopback only
    exposed = CeleryBackend(tmp_path, CeleryOptions(), "pw", listen=["127.0.0.1", "10.0.0.5"])
    assert exposed.component_env("api-server")["MWAA_LOCAL_HOSTS"] == "10.0.0.5"


@dataclass
class _Counts:
    """Task counts by worker hostname, as CeleryBackend.task_counts reads them from the DB."""

    options: CeleryOptions
    queued: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)

    def task_counts(self) -> dict[str, dict[str, int]]:
        return {"queued": dict(self.queued), "running": dict(self.running)}


@dataclass
class _Workers:
    started: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def start(self, argvs: dict, environ, nice=None) -> None:
        self.started.extend(argvs)

    def retire(self, name: str) -> None:
        self.retired.append(name)


def test_autoscaler_scales_up_at_once_and_down_only_idle_workers_later(tmp_path):
    counts = _Counts(CeleryOptions("mw1.micro", min_workers=1, max_workers=3, scale_down_after=60))
    workers = _Workers()
    scaler = Autoscaler(
        counts,  # type: ignore[arg-type]
        workers,
        lambda name: {"AIRFLOW__CELERY__WORKER_AUTOSCALE": "3,3"},
        tmp_path / "run" / "workers.json",
        say=lambda text: None,
    )
    scaler.adopt(["worker-1"])
    counts.queued = {"": 8}  # 8 queued, 3 per worker: 3 workers
    assert scaler.tick(now=0) == 3
    assert workers.started == ["worker-2", "worker-3"]
    counts.queued, counts.running = {}, {worker_hostname("worker-3"): 2}
    assert scaler.tick(now=1) == 1 and workers.retired == []  # not idle long enough yet
    counts.queued = {"": 1}
    assert scaler.tick(now=100) == 1 and workers.retired == []  # a queued message: wait
    counts.queued = {}
    assert scaler.tick(now=101) == 1
    # newest first, but worker-3 runs tasks: kept, and the idle ones go down to MinWorkers
    assert workers.retired == ["worker-2", "worker-1"] and list(scaler.workers) == ["worker-3"]
    status = read_status(tmp_path)
    assert status is not None and status["count"] == 1
    assert (status["min_workers"], status["max_workers"], status["running"]) == (1, 3, 2)
    counts.running = {}
    assert scaler.tick(now=102) == 1 and len(workers.retired) == 2  # MinWorkers stay
    assert any("scaled up to 3" in e for e in scaler.events)
