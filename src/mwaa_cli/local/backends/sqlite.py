"""SQLite + LocalExecutor: one file, tasks run by the scheduler's own worker processes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..metadata_db import check_sqlite

PARALLELISM = 4  # task processes at once: enough for two cores


@dataclass
class SqliteBackend:
    path: Path  # the DB file
    name: str = "sqlite"

    def settings(self, home) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.path}",
        }

    def opinionated(self, home) -> dict[str, str]:
        return {}

    def start_services(self, supervisor, say: Callable[[str], None]) -> None:
        return None

    def components(self) -> dict[str, list[str]]:
        return {}

    def migrated(self, home) -> bool:
        return self.path.exists()

    def preflight(self, command: str) -> None:
        check_sqlite(self.path, command)

    def dag_files(self) -> set[str]:
        names: set[str] = set()
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1) as db:
                for table, column in (("dag", "fileloc"), ("import_error", "filename")):
                    try:
                        names |= {r[0] for r in db.execute(f"SELECT {column} FROM {table}")}
                    except sqlite3.Error:
                        pass
        except sqlite3.Error:
            return set()
        return {n for n in names if isinstance(n, str)}

    def describe(self) -> str:
        return f"SQLite ({self.path}) + LocalExecutor, {PARALLELISM} tasks at once"
