"""``mwaa local serve --background``, ``mwaa local stop NAME``, and the serve environments
``mwaa local status`` and ``logs`` list beside the region's.

A background serve is the same command detached (its own session, stdin from /dev/null),
its output appended to ``HOME/serve.log``; the caller returns once the environment's lock
record says it serves - every component answering - or with the log's end when it failed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExitStatus
from ..paths import state_dir
from .autoscale import read_status
from .joining import joined_workers
from .region.children import is_locked, owner_record
from .serve import StartupError

BANNER_START = "mwaa local environment '"
BANNER_END = "Press Ctrl-C to stop."


@dataclass(frozen=True)
class ServeEnv:
    name: str
    home: Path
    running: bool
    pid: int | None
    endpoint: str | None
    ready: bool

    @property
    def log(self) -> Path:
        return self.home / "serve.log"

    def describe(self) -> dict:
        return {
            "name": self.name,
            "home": str(self.home),
            "running": self.running,
            "ready": self.ready,
            "pid": self.pid,
            "endpoint": self.endpoint,
            "log": str(self.log) if self.log.is_file() else None,
            "workers": read_status(self.home),
            "joined": joined_workers(self.home),
        }


def serve_envs() -> list[ServeEnv]:
    """Every `mwaa local serve` home under ``$MWAA_CLI_HOME/local`` (running or not)."""
    found = []
    for lock in sorted((state_dir() / "local").glob("*/serve.lock")):
        home = lock.parent
        running = is_locked(home)
        record = owner_record(home)
        found.append(
            ServeEnv(
                home.name,
                home,
                running,
                record.get("pid") if running else None,
                record.get("endpoint"),
                bool(record.get("ready")) and running,
            )
        )
    return found


def find(name: str, home: Path | None = None) -> ServeEnv | None:
    home = (home or state_dir() / "local" / name).resolve()
    return next((e for e in serve_envs() if e.home.resolve() == home), None) or (
        ServeEnv(name, home, is_locked(home), None, None, False) if home.is_dir() else None
    )


def start(argv: list[str], home: Path, wait: float = 1800.0) -> tuple[int, str]:
    """Run ``mwaa local serve ARGV`` detached; (pid, the banner) once it serves."""
    if is_locked(home):
        pid = owner_record(home).get("pid", "?")
        raise StartupError(
            f"an environment already runs on {home} (pid {pid}): `mwaa local stop` stops it",
            ExitStatus.USAGE,
        )
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = home / "serve.log"
    with open(log, "ab") as out:
        offset = out.tell()
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mwaa_cli", "local", "serve", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not the terminal's: closing it does not stop it
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        record = owner_record(home)
        if record.get("ready") and record.get("pid") == proc.pid:
            return proc.pid, _banner(log, offset)
        if proc.poll() is not None:
            raise StartupError(
                f"the environment did not start (exit {proc.returncode}); the end of "
                f"{log}:\n{_tail(log, offset)}",
                ExitStatus.UNAVAILABLE,
            )
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise StartupError(f"the environment did not start within {wait:.0f} s (see {log})")


def _text_since(log: Path, offset: int) -> str:
    with open(log, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", "replace")


def _banner(log: Path, offset: int) -> str:
    text = _text_since(log, offset)
    deadline = time.monotonic() + 10  # the banner is printed right after the record
    while BANNER_END not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = _text_since(log, offset)
    start = text.find(BANNER_START)
    end = text.find(BANNER_END)
    return text[start:end].rstrip() if start >= 0 and end > start else text.rstrip()


def _tail(log: Path, offset: int, lines: int = 25) -> str:
    kept = [line for line in _text_since(log, offset).splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def stop(env: ServeEnv, grace: float = 60.0) -> int | None:
    """SIGTERM the environment's server (it stops its Airflow), SIGKILL after ``grace``;
    its pid, or None when it was not running."""
    if not is_locked(env.home):
        return None
    pid = owner_record(env.home).get("pid")
    if not isinstance(pid, int) or pid <= 1:
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + grace
    while is_locked(env.home) and time.monotonic() < deadline:
        time.sleep(0.2)
    if is_locked(env.home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pid


def as_json(envs: list[ServeEnv]) -> str:
    return json.dumps([e.describe() for e in envs])
