"""Ready means ready: wait until every component answers what users will call.

The banner, ``mwaa local up``'s status and GetEnvironment's ``AVAILABLE`` come after
:func:`wait_until_ready`: Airflow's API server answers its health and execution API (3.x) or
the webserver its login page (2.x), and the scheduler, DAG processor and triggerer have each
written a heartbeat since this start (Airflow's own health endpoint reads them from the
metadata DB). One progress line says what is still starting; a component that does not come
up within the limit is named with the last lines of its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from .progress import ProgressLine


class NotReady(Exception):
    """A component did not come up; the message names it and quotes its log."""


@dataclass
class Readiness:
    """What to wait for: ``answers`` (component -> paths on Airflow's API server/webserver
    that must answer 200), ``heartbeats`` (component -> its key in Airflow's health JSON at
    ``health_path``), all written after ``since``."""

    base_url: str
    health_path: str
    answers: Mapping[str, tuple[str, ...]]
    heartbeats: Mapping[str, str]
    since: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    dags: DagsParsed | None = None  # the DAG files' first parse (when a component parses)
    more: Callable[[], dict[str, str]] | None = None  # other components' pending (workers)

    def pending(self, http: httpx.Client) -> dict[str, str]:
        """component -> what it has not done yet (empty: everything answers)."""
        waiting: dict[str, str] = {}
        for component, paths in self.answers.items():
            for path in paths:
                status = _status(http, self.base_url + path)
                if status != 200:
                    waiting[component] = f"{path} " + (
                        f"answered {status}" if status else "is not listening yet"
                    )
                    break
        health = _json(http, self.base_url + self.health_path) if not waiting else None
        for component, key in self.heartbeats.items():
            beat = _heartbeat(health, key)
            if beat is None or beat < self.since:
                waiting[component] = "no heartbeat yet"
        if not waiting and self.more is not None:
            waiting.update(self.more())
        if not waiting and self.dags is not None and (left := self.dags.unparsed()):
            waiting[self.dags.component] = f"{len(left)} DAG file(s) not parsed yet"
        return waiting


@dataclass
class DagsParsed:
    """The DAGs folder's first parse: every file that Airflow's safe mode would parse (it
    mentions both "airflow" and "dag") has its DAGs in the metadata DB or an import error.
    Given up (the banner says so) ``patience`` seconds after the components answer, as a
    file that defines no DAG never registers."""

    names: Callable[[], set[str]]  # file names the metadata DB has DAGs or import errors of
    folder: Path
    component: str  # the one that parses: dag-processor (3.x), scheduler (2.x)
    patience: float = 60.0
    _first_asked: float | None = None

    def candidates(self) -> set[Path]:
        found = set()
        for path in self.folder.rglob("*.py"):
            if any(part.startswith(".") for part in path.relative_to(self.folder).parts):
                continue
            try:
                text = path.read_bytes().lower()
            except OSError:
                continue
            if b"airflow" in text and b"dag" in text:
                found.add(path.resolve())
        return found

    def registered(self) -> set[Path]:
        return {(self.folder / n).resolve() for n in self.names()}

    def unparsed(self) -> set[Path]:
        now = time.monotonic()
        if self._first_asked is None:
            self._first_asked = now
        if now - self._first_asked > self.patience:
            return set()
        return self.candidates() - self.registered()


def _status(http: httpx.Client, url: str) -> int:
    try:
        return http.get(url).status_code
    except httpx.HTTPError:
        return 0


def _json(http: httpx.Client, url: str) -> dict | None:
    try:
        response = http.get(url)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _heartbeat(health: dict | None, key: str) -> datetime | None:
    """The latest heartbeat of ``key`` (``scheduler``, ``dag_processor``…) in Airflow's
    health JSON (``latest_scheduler_heartbeat``…)."""
    entry = (health or {}).get(key) or {}
    value = entry.get(f"latest_{key}_heartbeat")
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def tail(log: Path, lines: int = 15) -> str:
    """The last non-empty lines of ``log``."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept) or "    (the log is empty)"


def wait_until_ready(
    readiness: Readiness | None,
    log_dir: Path,
    limit: float,
    given_up: Callable[[], Mapping[str, str]] = dict,
    progress: ProgressLine | None = None,
    interval: float = 0.5,
) -> float:
    """Block until nothing is pending; seconds waited. Raises :class:`NotReady` after
    ``limit`` seconds, or at once when the supervisor gave up on a component
    (``given_up()``: name -> why)."""
    started = time.monotonic()
    if readiness is None:
        return 0.0
    progress = progress or ProgressLine("[mwaa local] ")
    with httpx.Client(trust_env=False, timeout=5.0, follow_redirects=False) as http:
        while True:
            waiting = readiness.pending(http)
            elapsed = time.monotonic() - started
            if not waiting:
                progress.done()
                return elapsed
            for name, why in given_up().items():
                progress.done()
                raise NotReady(
                    f"Airflow's {name} did not start ({why}); the last lines of "
                    f"{log_dir / (name + '.log')}:\n{tail(log_dir / (name + '.log'))}"
                )
            if elapsed > limit:
                progress.done()
                name, why = next(iter(waiting.items()))
                raise NotReady(
                    f"Airflow's {name} did not come up within {limit:.0f} s ({why}; still "
                    f"starting: {', '.join(waiting)}); the last lines of "
                    f"{log_dir / (name + '.log')}:\n{tail(log_dir / (name + '.log'))}\n"
                    "(a slow machine may need a longer --ready-timeout)"
                )
            progress.update(f"waiting for {', '.join(waiting)} … {elapsed:.0f} s")
            time.sleep(interval)
