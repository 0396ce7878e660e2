"""A cheap check, before each command, that Airflow's SQLite metadata DB is there and usable.

Without it a missing ``airflow.db`` is silently re-created empty by the next command (and
every later command fails with "no such table"), and a DB locked by another process makes
a writing command wait, then fail half-way.

- Commands that never open the DB (``version``, ``providers …``) are not checked at all.
- Commands that only read are checked without any lock (``mode=ro``: never creates the
  file; in WAL mode readers never wait for a writer, so they are never held up).
- Commands that may write take the write lock for an instant (``BEGIN IMMEDIATE``), waiting
  up to ``WRITE_LOCK_WAIT`` seconds for a writer that holds it - a busy scheduler only
  delays them - and are refused with a clear error when it is held longer.

Each check costs well under a millisecond.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

WRITE_LOCK_WAIT = 5.0  # what Airflow's own SQLite connections wait, too

NO_DB = frozenset({"version", "cheat-sheet"})
READ_ONLY = frozenset(
    {
        "assets details", "assets list", "connections get", "connections list",
        "dags list", "dags list-import-errors", "dags list-jobs", "dags list-runs",
        "dags next-execution", "dags report", "dags show", "dags state", "pools get",
        "pools list", "roles list", "tasks failed-deps", "tasks render", "tasks state",
        "tasks states-for-dag-run", "variables get", "variables list",
    }
)  # fmt: skip


RECHECK_AFTER = 1.0  # seconds a reader's successful check of one DB file is trusted
_checked: dict[str, tuple[int, float]] = {}  # path -> (inode, when it was found usable)


class MetadataUnavailable(Exception):
    """The metadata DB cannot serve a command right now (the message says why and what to do)."""


def check_sqlite(path: Path, command: str = "", timeout: float = WRITE_LOCK_WAIT) -> None:
    """Raise :class:`MetadataUnavailable` unless ``path`` is a migrated Airflow DB that
    ``command`` (an allowlist entry such as ``"variables set"``) can use now."""
    if command in NO_DB or command.startswith("providers "):
        return
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not path.is_file():
        raise MetadataUnavailable(
            f"the Airflow metadata database {path} is missing; the command was not run. "
            "Restore the file, or restart 'mwaa local serve' to create a new one"
        )
    reads_only = command in READ_ONLY
    inode = info.st_ino
    seen = _checked.get(str(path))
    if reads_only and seen and seen[0] == inode and time.monotonic() - seen[1] < RECHECK_AFTER:
        return  # the same file was found migrated an instant ago; a reader takes no lock
    try:
        conn = sqlite3.connect(
            f"file:{path}?mode={'ro' if reads_only else 'rw'}",
            uri=True,
            timeout=timeout,
            isolation_level=None,
        )
        try:
            if not reads_only:
                # take the write lock for a moment: in WAL mode readers never wait, so a
                # plain read would not notice another process holding the DB
                conn.execute("BEGIN IMMEDIATE")
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if not reads_only:
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
    _checked[str(path)] = (inode, time.monotonic())
