"""A cheap check, before each command, that Airflow's SQLite metadata DB is there and usable.

Without it a missing ``airflow.db`` is silently re-created empty by the next command (and
every later command fails with "no such table"), and a DB locked by another process makes
the command wait, then fail half-way. Opened with ``mode=rw`` (never creates the file) and
write-locked for an instant, it costs well under a millisecond.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class MetadataUnavailable(Exception):
    """The metadata DB cannot serve a command right now (the message says why and what to do)."""


def check_sqlite(path: Path, timeout: float = 2.0) -> None:
    """Raise :class:`MetadataUnavailable` unless ``path`` is a migrated, readable Airflow DB."""
    if not path.is_file():
        raise MetadataUnavailable(
            f"the Airflow metadata database {path} is missing; the command was not run. "
            "Restore the file, or restart 'mwaa local serve' to create a new one"
        )
    try:
        conn = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=timeout, isolation_level=None
        )
        try:
            # take the write lock for a moment: in WAL mode readers never wait, so a plain
            # read would not notice another process holding the DB
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise MetadataUnavailable(
                f"the Airflow metadata database {path} is locked by another process "
                f"(waited {timeout:.0f} s); the command was not run. Retry when it is released"
            ) from exc
        raise MetadataUnavailable(
            f"the Airflow metadata database {path} is not usable ({exc}); the command was "
            "not run. Restart 'mwaa local serve' to migrate it"
        ) from exc
    except sqlite3.DatabaseError as exc:
        raise MetadataUnavailable(
            f"the Airflow metadata database {path} is damaged ({exc}); the command was not run"
        ) from exc
