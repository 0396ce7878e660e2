"""Supervise Airflow's own long-running components (scheduler, dag-processor, ...).

The processes themselves are started, restarted and stopped by the warden
(:mod:`mwaa_cli.local.warden`), a small single-threaded child that outlives a crash of the
server just long enough to stop everything. This module is the server's side of it: it
sends the warden what to run and reports what the warden says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import warden as warden_module


@dataclass
class StopReport:
    """How the components were stopped."""

    stopped: dict[str, str]  # name -> "SIGTERM" (exited in time) | "SIGKILL"
    strays: int  # processes they had left behind, killed too
    seconds: float

    def describe(self) -> str:
        parts = [f"{name} ({how})" for name, how in self.stopped.items()]
        if self.strays:
            parts.append(f"{self.strays} leftover process(es) killed")
        return ", ".join(parts) or "nothing was running"


@dataclass
class Supervisor:
    airflow: list[str]
    env: Mapping[str, str]
    log_dir: Path
    report: Callable[[str], None] = print
    components: dict[str, int] = field(default_factory=dict)  # name -> pid of the leader
    given_up: dict[str, str] = field(default_factory=dict)  # name -> why (crashed too often)
    _proc: subprocess.Popen | None = None
    _reader: threading.Thread | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)
    _stop_report: StopReport | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: dict[str, dict] = field(default_factory=dict)  # name -> the warden's spec
    _stopping: bool = False
    warden_restarts: int = 0

    def _ensure_warden(self) -> subprocess.Popen:
        if self._proc is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / "warden.log", "ab") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", warden_module.__file__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    start_new_session=True,  # Ctrl-C in the terminal reaches only the server
                )
            self._reader = threading.Thread(target=self._read, name="warden", daemon=True)
            self._reader.start()
        return self._proc

    def _send(self, request: dict) -> None:
        proc = self._ensure_warden()
        assert proc.stdin is not None
        with self._lock:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()

    def start(
        self,
        commands: Mapping[str, list[str]],
        environ: Callable[[str], Mapping[str, str]] | None = None,
        nice: Mapping[str, int] | None = None,
        user: int | None = None,
        stop_signal: int | None = None,
    ) -> None:
        """Start each component (name -> Airflow argv), restarted when it crashes;
        ``environ(name)``: its environment (default: the supervisor's); ``nice``: name ->
        how much lower its CPU priority is than the server's; ``user``: the uid they run
        as; ``stop_signal``: what asks them to stop (default SIGTERM)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, argv in commands.items():
            self.components[name] = 0
            self._started[name] = {
                "argv": [*self.airflow, *argv],
                "env": dict(environ(name) if environ else self.env),
                "nice": (nice or {}).get(name, 0),
                "user": user,
                "stop_signal": stop_signal,
            }
            self._start_one(name)

    def retire(self, name: str, grace: float = 60.0) -> None:
        """Stop ``name`` for good (not restarted): its stop signal, then up to ``grace``
        seconds for it to finish what it runs, then SIGKILL."""
        if self._started.pop(name, None) is None:
            return
        self.components.pop(name, None)
        self._send({"op": "retire", "name": name, "grace": grace})

    def _start_one(self, name: str) -> None:
        self._send(
            {
                "op": "start",
                "name": name,
                **self._started[name],
                "log": str(self.log_dir / f"{name}.log"),
            }
        )

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self._on(event)
        if self._stopping:
            self._stopped.set()
            return
        self._warden_lost(proc)

    def _warden_lost(self, proc: subprocess.Popen) -> None:
        """The warden died (kill -9, OOM) while the server runs: its components died with
        it, what they left behind (LocalExecutor workers) is killed by process group, and a
        new warden starts them all again."""
        proc.wait()
        leaders = [pid for pid in self.components.values() if pid]
        for pid in leaders:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.warden_restarts += 1
        self.report(
            f"the warden exited ({proc.returncode}); its components' leftovers were killed, "
            f"starting {', '.join(self._started) or 'nothing'} again (log: "
            f"{self.log_dir / 'warden.log'})"
        )
        with self._lock:
            self._proc = None
        if self._stopping:
            self._stopped.set()
            return
        for name in self._started:
            self.components[name] = 0
            self._start_one(name)

    def _on(self, event: dict) -> None:
        kind, name = event.get("event"), event.get("name", "")
        if kind == "started":
            self.components[name] = int(event["pid"])
        elif kind == "exited":
            log = self.log_dir / f"{name}.log"
            left = (
                f"; killed {event['strays']} process(es) it left behind" if event["strays"] else ""
            )
            if event["restart_in"] is None:
                self.given_up[name] = f"it exited with code {event['code']} and kept crashing"
                self.report(
                    f"{name} exited with code {event['code']}{left}; it keeps crashing, "
                    f"giving up (see {log})"
                )
            else:
                self.report(
                    f"{name} exited with code {event['code']}{left}; restarting in "
                    f"{event['restart_in']:.0f} s ({event['attempt']}/{event['max_restarts']}); "
                    f"log: {log}"
                )
        elif kind == "stopped":
            self._stop_report = StopReport(
                dict(event["stopped"]), int(event["strays"]), float(event["seconds"])
            )

    def stop(self, grace: float = 1.0) -> StopReport:
        """SIGTERM every component at once, SIGKILL what is left after ``grace`` seconds
        (process groups and leftovers included); wait for the warden to finish."""
        self._stopping = True
        if self._proc is None:
            return StopReport({}, 0, 0.0)
        try:
            self._send({"op": "stop", "grace": grace})
        except (OSError, ValueError):
            pass
        self._stopped.wait(grace + 10)
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        return self._stop_report or StopReport({}, 0, 0.0)

    @property
    def warden_pid(self) -> int | None:
        return self._proc.pid if self._proc else None
