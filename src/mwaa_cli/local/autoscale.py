"""MWAA's worker autoscaling for a Celery environment.

Every ``interval`` seconds: queued + running task instances (from the metadata DB) divided
by the tasks one worker runs at once, rounded up, within ``MinWorkers``..``MaxWorkers``, is
the number of workers wanted (MWAA's documented rule). More are started at once; when fewer
have been wanted for ``scale_down_after`` seconds and no task is queued (a queued task's
message may sit in any worker), workers that run nothing (no running task instance names
them as its host) are stopped - the newest first, never below ``MinWorkers`` - with
Celery's warm shutdown. What it decided is written to ``HOME/run/workers.json`` for the banner,
``mwaa local status`` and the tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._files import write_private
from .backends.celery import CeleryBackend, required_workers, worker_argv, worker_hostname


@dataclass
class Autoscaler:
    backend: CeleryBackend
    supervisor: object  # local.supervisor.Supervisor
    environ: Callable[[str], Mapping[str, str]]
    status_path: Path
    say: Callable[[str], None] = print
    nice: int = 0
    interval: float = 2.0
    workers: dict[str, float] = field(default_factory=dict)  # name -> when it started
    events: list[str] = field(default_factory=list)  # what it did, newest last
    _low_since: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    last: dict = field(default_factory=dict)

    @property
    def per_worker(self) -> int:
        value = self.environ("worker-1").get("AIRFLOW__CELERY__WORKER_AUTOSCALE", "")
        try:
            return max(1, int(value.split(",")[0]))
        except ValueError:
            return self.backend.options.concurrency

    def adopt(self, names: list[str]) -> None:
        """Workers already started with the environment (``MinWorkers`` of them)."""
        now = time.monotonic()
        for name in names:
            self.workers[name] = now
        self._write(0, 0, len(names))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="autoscaler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # the DB restarting: try again next turn
                self.last["error"] = str(exc).strip().splitlines()[0] if str(exc) else repr(exc)

    def tick(self, now: float | None = None) -> int:
        """One decision; returns the number of workers wanted."""
        now = time.monotonic() if now is None else now
        counts = self.backend.task_counts()
        queued = sum(counts["queued"].values())
        running = sum(counts["running"].values())
        o = self.backend.options
        wanted = required_workers(queued, running, self.per_worker, o.min_workers, o.max_workers)
        if wanted > len(self.workers):
            self._low_since = None
            added = [self._add(now) for _ in range(wanted - len(self.workers))]
            self._event(
                f"scaled up to {len(self.workers)} worker(s) ({queued} queued + {running} "
                f"running tasks, {self.per_worker} per worker): started {', '.join(added)}"
            )
        elif wanted < len(self.workers):
            self._low_since = self._low_since or now
            # a queued task's message may be in any worker's hands (received, not started):
            # a worker stopped then would lose it until the broker's visibility timeout
            if now - self._low_since >= o.scale_down_after and not queued:
                busy = set(counts["running"]) | set(counts["queued"])
                for name in sorted(self.workers, key=self._index, reverse=True):
                    if len(self.workers) <= wanted:
                        break
                    if worker_hostname(name) in busy:
                        continue
                    self.supervisor.retire(name)  # type: ignore[attr-defined]
                    del self.workers[name]
                    self._event(f"scaled down to {len(self.workers)} worker(s): {name} was idle")
        else:
            self._low_since = None
        self._write(queued, running, wanted)
        return wanted

    def _add(self, now: float) -> str:
        index = 1
        while f"worker-{index}" in self.workers:
            index += 1
        name = f"worker-{index}"
        self.supervisor.start(  # type: ignore[attr-defined]
            {name: worker_argv(name)}, self.environ, nice={name: self.nice}
        )
        self.workers[name] = now
        return name

    @staticmethod
    def _index(name: str) -> int:
        return int(name.rsplit("-", 1)[1])

    def _event(self, text: str) -> None:
        self.events = [*self.events[-19:], f"{time.strftime('%H:%M:%S')} {text}"]
        self.say(text)

    def _write(self, queued: int, running: int, wanted: int) -> None:
        o = self.backend.options
        self.last = {
            "workers": sorted(self.workers, key=self._index),
            "count": len(self.workers),
            "wanted": wanted,
            "min_workers": o.min_workers,
            "max_workers": o.max_workers,
            "tasks_per_worker": self.per_worker,
            "queued": queued,
            "running": running,
            "events": self.events,
            "updated_at": time.time(),
        }
        write_private(self.status_path, json.dumps(self.last, indent=1).encode())


def read_status(home: Path) -> dict | None:
    """What the autoscaler of the environment at ``home`` last wrote (None: not Celery)."""
    try:
        return json.loads((home / "run" / "workers.json").read_text())
    except (OSError, ValueError):
        return None
