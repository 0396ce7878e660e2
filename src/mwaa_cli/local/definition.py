"""An environment's definition in one file a team commits beside its DAGs: ``mwaa-local.toml``.

::

    airflow_version = "2.10.3"
    dags = "dags"                       # paths are relative to this file
    requirements = "requirements.txt"
    plugins = "plugins.zip"             # or a folder
    startup_script = "startup.sh"
    backend = "celery"                  # Postgres + Celery workers (default: "sqlite")
    environment_class = "mw1.medium"    # the Celery backend: tasks per worker
    min_workers = 1
    max_workers = 4
    schedulers = 2

    [airflow_configuration_options]
    "core.default_timezone" = "utc"

Found with ``--env-file FILE``, else as ``mwaa-local.toml`` in the current folder or beside
the DAGs folder given with ``--dags``. Flags override what the file says.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

FILE_NAME = "mwaa-local.toml"
# the Celery backend's options a definition may set (backends.celery.CeleryOptions' fields,
# which `mwaa local serve` also takes as flags, with --scale-down-after)
CELERY_KEYS = (
    "environment_class",
    "min_workers",
    "max_workers",
    "schedulers",
    "db_url",
    "broker_url",
)
_CELERY_INTS = ("min_workers", "max_workers", "schedulers")
_KEYS = {
    "airflow_version",
    "dags",
    "requirements",
    "plugins",
    "startup_script",
    "airflow_configuration_options",
    "backend",
    *CELERY_KEYS,
}


@dataclass
class Definition:
    path: Path | None = None
    airflow_version: str | None = None
    dags: Path | None = None
    requirements: Path | None = None
    plugins: Path | None = None
    startup_script: Path | None = None
    airflow_configuration_options: dict[str, str] = field(default_factory=dict)
    backend: str | None = None
    celery: dict = field(default_factory=dict)  # CeleryOptions' fields it sets


def find(explicit: Path | None, dags: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"--env-file {explicit}: no such file")
        return explicit
    for folder in (Path.cwd(), *([dags.resolve().parent, dags.resolve()] if dags else [])):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load(path: Path | None) -> Definition:
    if path is None:
        return Definition()
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    base = path.resolve().parent

    def file(key: str) -> Path | None:
        value = doc.get(key)
        if value is None:
            return None
        resolved = (base / str(value)).resolve()
        if not resolved.exists():
            raise ConfigError(f"{path}: {key} = {value!r}: {resolved} does not exist")
        return resolved

    options = doc.get("airflow_configuration_options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{path}: [airflow_configuration_options] must be a table")
    return Definition(
        path=path,
        airflow_version=str(doc["airflow_version"]) if "airflow_version" in doc else None,
        dags=file("dags"),
        requirements=file("requirements"),
        plugins=file("plugins"),
        startup_script=file("startup_script"),
        airflow_configuration_options={str(k): str(v) for k, v in options.items()},
        backend=str(doc["backend"]) if "backend" in doc else None,
        celery=_celery(path, doc),
    )


def _celery(path: Path, doc: dict) -> dict:
    found: dict = {}
    for key in CELERY_KEYS:
        if key in doc and key not in _CELERY_INTS:
            found[key] = str(doc[key])
    for key in _CELERY_INTS:
        if key in doc:
            if not isinstance(doc[key], int) or isinstance(doc[key], bool):
                raise ConfigError(f"{path}: {key} must be a whole number")
            found[key] = doc[key]
    return found
