"""Where an environment keeps its metadata and how its tasks run - the one seam that knows.

- :mod:`.sqlite`: SQLite + Airflow's LocalExecutor, the zero-setup default;
- :mod:`.celery`: Postgres + CeleryExecutor on an SQS-compatible broker, with workers that
  scale between ``MinWorkers`` and ``MaxWorkers`` as MWAA's do.

An environment keeps the backend its metadata DB was made with: starting it with another
is refused (:func:`check_unchanged`), with the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ...errors import ConfigError

NAMES = ("sqlite", "celery")


class Backend(Protocol):
    name: str

    def settings(self, home) -> dict[str, str]:
        """What Airflow must run with (over anything a user set): executor, DB, broker."""

    def opinionated(self, home) -> dict[str, str]:
        """Defaults a user's configuration options may override."""

    def start_services(self, supervisor, say: Callable[[str], None]) -> None:
        """Start (and wait for) the servers it owns, before the DB is migrated."""

    def components(self) -> dict[str, list[str]]:
        """Airflow processes beside the flavour's (name -> argv after ``airflow``)."""

    def migrated(self, home) -> bool:
        """Whether the metadata DB exists and has Airflow's tables."""

    def preflight(self, command: str) -> None:
        """Raise ``MetadataUnavailable`` when ``command`` cannot use the DB now."""

    def dag_files(self) -> set[str]:
        """Files the DAG processor registered: DAGs' and import errors' file names."""

    def describe(self) -> str:
        """One line for the banner and the status."""


def check_unchanged(state: dict, backend: Backend, root: Path) -> None:
    """Refuse to start an environment on another backend than the one its DB is on."""
    was = state.get("backend", "sqlite" if state.get("migrated_version") else None)
    if was is None or was == backend.name:
        return
    raise ConfigError(
        f"the environment at {root} keeps its Airflow metadata in {_label(was)}; it cannot "
        f"move to {_label(backend.name)} (its DAG runs, connections and variables would "
        f"stay behind). Start it with --backend {was}, or give the {backend.name} environment "
        "its own --name (or --home); to carry data over, `mwaa run -- variables export` / "
        "`connections export` here and import them there"
    )


def _label(name: str) -> str:
    return {"sqlite": "SQLite (LocalExecutor)", "celery": "Postgres (CeleryExecutor)"}.get(
        name, name
    )


def make_backend(spec, root: Path, region: str, host: str) -> Backend:
    """The backend ``spec`` asks for, for the environment at ``root`` served on ``host``
    (an address beyond loopback: its DB and broker listen there too, for joining workers)."""
    if spec.backend == "celery":
        import ipaddress
        import secrets
        import socket

        from ..._files import write_private
        from .celery import CeleryBackend

        secret = root / "postgres.password"
        try:
            password = secret.read_text().strip()
        except OSError:
            password = ""
        fresh = not password
        if fresh:
            password = secrets.token_urlsafe(24)
            write_private(secret, password.encode())
        listen = ["127.0.0.1"]
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            listen.append(host)
        return CeleryBackend(root, spec.celery, password, region, listen, fresh=fresh)
    from .sqlite import SqliteBackend

    return SqliteBackend(root / "airflow" / "airflow.db")
