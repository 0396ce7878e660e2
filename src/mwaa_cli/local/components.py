"""Supervise Airflow's own long-running components (scheduler, dag-processor, ...).

Each runs as a child in its own session (so Ctrl-C in the terminal reaches only us and we
stop them in order), logs to its own file, dies with us (PR_SET_PDEATHSIG) and is restarted
with a back-off when it crashes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
MAX_RESTARTS = 5


def die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def component_commands(airflow_major: int) -> dict[str, list[str]]:
    """The Airflow components that make triggered runs execute, as on MWAA."""
    if airflow_major >= 3:
        return {
            "api-server": ["api-server"],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
        }
    return {"scheduler": ["scheduler"], "triggerer": ["triggerer"]}


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    airflow: Sequence[str]
    env: Mapping[str, str]
    log_dir: Path
    report: Callable[[str], None] = print
    components: dict[str, Component] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def start(self, commands: Mapping[str, list[str]]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, argv in commands.items():
            comp = Component(name, [*self.airflow, *argv], self.log_dir / f"{name}.log")
            self.components[name] = comp
            self._spawn(comp)
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()

    def _spawn(self, comp: Component) -> None:
        with open(comp.log_path, "ab") as log:
            comp.proc = subprocess.Popen(
                comp.argv,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for comp in self.components.values():
                code = comp.proc.poll() if comp.proc else None
                if code is None or self._stopping.is_set():
                    continue
                if comp.restarts >= MAX_RESTARTS:
                    if comp.restarts == MAX_RESTARTS:
                        self.report(f"{comp.name} keeps crashing; giving up (see {comp.log_path})")
                        comp.restarts += 1
                    continue
                comp.restarts += 1
                self.report(
                    f"{comp.name} exited with code {code}; restarting "
                    f"({comp.restarts}/{MAX_RESTARTS}); log: {comp.log_path}"
                )
                time.sleep(min(2**comp.restarts, 10))
                if not self._stopping.is_set():
                    self._spawn(comp)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every component's process group, then SIGKILL what is left after ``grace``."""
        self._stopping.set()
        procs = [c.proc for c in self.components.values() if c.proc is not None]
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in procs:  # the group may hold task runners even after the leader exited
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
