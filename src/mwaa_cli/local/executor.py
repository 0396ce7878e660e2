"""Run one Airflow command line: an argv list, never a shell, stdout and stderr apart."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Execution:
    """What one command did."""

    argv: tuple[str, ...]
    stdout: bytes
    stderr: bytes
    exit_code: int
    duration: float
    timed_out: bool = False


class Busy(Exception):
    """Every execution slot is taken (MWAA answers 503)."""


class SubprocessExecutor:
    """Runs each command as a cold ``airflow …`` child process in its own session.

    At most ``concurrency`` commands run at once; one more raises :class:`Busy` at once
    instead of queueing. A command past ``timeout`` seconds has its whole process group
    killed.
    """

    def __init__(
        self,
        airflow: Sequence[str],
        env: Mapping[str, str],
        *,
        timeout: float = 300.0,
        concurrency: int = 4,
    ) -> None:
        self.airflow = list(airflow)
        self.env = dict(env)
        self.timeout = timeout
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)

    def run(self, argv: Sequence[str]) -> Execution:
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.concurrency} commands are already running")
        try:
            return self._run(tuple(argv))
        finally:
            self._slots.release()

    def _run(self, argv: tuple[str, ...]) -> Execution:
        start = time.monotonic()
        proc = subprocess.Popen(
            [*self.airflow, *argv],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )
        timed_out = False
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            out, err = proc.communicate()
        finally:
            if proc.poll() is None:  # e.g. the server thread was interrupted
                _kill_group(proc.pid)
                proc.wait()
        return Execution(argv, out, err, proc.returncode, time.monotonic() - start, timed_out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
