"""One environment of a region as its own ``mwaa local serve`` process.

The child gets the environment's folders and parts as flags, a pipe on stdin (its closing -
the region exiting, even by kill -9 - stops the child and its Airflow), and its output in
``serve.log``. It is ready when its lock file says so; that record also says what failed of
the user's parts (requirements, startup script).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...paths import LocalLayout


@dataclass
class Launch:
    """What one start of an environment runs."""

    name: str
    home: Path
    dags: Path
    port: int
    region: str
    airflow_version: str
    requirements: Path | None = None
    plugins: Path | None = None
    startup_script: Path | None = None
    airflow_config: Path | None = None  # a JSON file (the options are secrets: not in argv)
    env_file: Path | None = None  # an empty definition, so none in the bucket applies
    backend: list[str] = field(default_factory=list)  # --backend … flags

    def argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "mwaa_cli",
            "local",
            "serve",
            "--name",
            self.name,
            "--home",
            str(self.home),
            "--dags",
            str(self.dags),
            "--port",
            str(self.port),
            "--region",
            self.region,
            "--airflow-version",
            self.airflow_version,
            "--no-profile",
            "--exit-with-stdin",
        ]
        for flag, path in (
            ("--requirements", self.requirements),
            ("--plugins", self.plugins),
            ("--startup-script", self.startup_script),
            ("--env-file", self.env_file),
        ):
            if path is not None:
                argv += [flag, str(path)]
        if self.airflow_config is not None:
            argv += ["--airflow-config", f"@{self.airflow_config}"]
        return argv + self.backend


@dataclass
class Outcome:
    ok: bool
    error: str | None = None  # what failed (LastUpdate.Error's message)
    port_in_use: bool = False


def owner_record(home: Path) -> dict:
    try:
        return json.loads(LocalLayout(home).owner.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def is_locked(home: Path) -> bool:
    try:  # read-only: asking never creates the file (a deleted home stays deleted)
        fh = open(LocalLayout(home).owner)  # noqa: SIM115
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def stop_leftover(home: Path, wait: float = 60.0) -> bool:
    """Stop a server still holding ``home`` (left by a region that was killed); True if one
    was running."""
    if not is_locked(home):
        return False
    pid = owner_record(home).get("pid")
    if isinstance(pid, int) and pid > 1:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while is_locked(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    if is_locked(home) and isinstance(pid, int) and pid > 1:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.5)
    return True


class Child:
    """A running ``mwaa local serve`` for one environment."""

    def __init__(self, launch: Launch, log: Path) -> None:
        self.launch = launch
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.launch.argv(),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.launch.home.parent,
                start_new_session=True,  # a Ctrl-C in the region's terminal is the region's
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> Outcome:
        """Until the server says it serves, exits, or ``timeout`` passes."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not cancelled():
            owner = owner_record(self.launch.home)
            if owner.get("ready") and owner.get("pid") == self.proc.pid:
                return Outcome(True, owner.get("error"))
            if self.proc.poll() is not None:
                tail = self.tail()
                return Outcome(False, tail or "the environment exited", "already in use" in tail)
            time.sleep(0.2)
        self.stop()
        return Outcome(False, f"the environment did not start within {timeout:.0f} s")

    def tail(self, lines: int = 12) -> str:
        """Why this start failed: from the server's own error on (it names the component
        that did not come up and quotes its log), else the log's last ``lines``."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        last = [line for line in text.rsplit("\n--- ", 1)[-1].splitlines()[1:] if line.strip()]
        error = next((i for i, line in enumerate(last) if line.startswith("mwaa: error:")), None)
        if error is not None:
            return "\n".join(last[error : error + 40])
        return "\n".join(last[-lines:])

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM (the server stops its Airflow), SIGKILL after ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        finally:
            if self.proc.stdin:
                self.proc.stdin.close()
