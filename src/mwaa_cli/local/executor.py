"""Run one Airflow command line: an argv list, never a shell, stdout and stderr apart.

Two executors with one contract (:meth:`run` returns an :class:`Execution` or raises
:class:`Busy`): :class:`WarmExecutor` forks each command from a pre-imported Airflow
(the zygote, tens of milliseconds), :class:`SubprocessExecutor` starts a cold ``airflow``
process (seconds; the fallback).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Execution:
    """What one command did."""

    argv: tuple[str, ...]
    stdout: bytes
    stderr: bytes
    exit_code: int
    duration: float
    timed_out: bool = False
    output_cut: bool = False  # the output passed the limit: the command was stopped


class Busy(Exception):
    """Every execution slot is taken (MWAA answers 503)."""


class ExecutorError(Exception):
    """The executor itself failed (not the command)."""


DEFAULT_OUTPUT_LIMIT = 64 * 1024 * 1024  # bytes per stream
POLL = 0.05  # seconds between looks at a running command's output size


class _Output:
    """A command's stdout and stderr in unlinked temporary files, watched against a limit:
    a command that writes more is stopped, and what it wrote is cut with a marker."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.err = tempfile.TemporaryFile()  # noqa: SIM115
        self.cut = False

    def over_limit(self) -> bool:
        return any(os.fstat(f.fileno()).st_size > self.limit for f in (self.out, self.err))

    def read(self) -> tuple[bytes, bytes]:
        streams = []
        for f in (self.out, self.err):
            f.seek(0)
            streams.append(f.read(self.limit))
        if self.cut:
            streams[1] += (
                f"\nmwaa-cli: the command wrote more than {self.limit} bytes to one stream "
                "(--output-limit): it was stopped and its output cut here\n"
            ).encode()
        return streams[0], streams[1]

    def close(self) -> None:
        self.out.close()
        self.err.close()


class _Limited:
    """At most ``concurrency`` commands at once; one more raises :class:`Busy` at once."""

    def __init__(
        self, *, timeout: float, concurrency: int, output_limit: int = DEFAULT_OUTPUT_LIMIT
    ) -> None:
        self.timeout = timeout
        self.output_limit = output_limit
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._running: set[int] = set()  # process groups of commands in flight
        self._running_lock = threading.Lock()

    def _track(self, pgid: int, running: bool) -> None:
        with self._running_lock:
            (self._running.add if running else self._running.discard)(pgid)

    def kill_running(self) -> int:
        """SIGKILL every command still running (the server is stopping); how many."""
        with self._running_lock:
            groups = list(self._running)
        for pgid in groups:
            kill_group(pgid)
        return len(groups)

    def run(self, argv: Sequence[str]) -> Execution:
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.concurrency} commands are already running")
        try:
            return self._run(tuple(argv))
        finally:
            self._slots.release()

    def _run(self, argv: tuple[str, ...]) -> Execution:
        raise NotImplementedError

    def start(self) -> None:
        """Get ready to run commands (no-op by default)."""

    def stop(self) -> None:
        """Kill commands still running and release resources."""
        self.kill_running()


class SubprocessExecutor(_Limited):
    """Runs each command as a cold ``airflow …`` child process in its own session."""

    def __init__(
        self,
        airflow: Sequence[str],
        env: Mapping[str, str],
        *,
        timeout: float = 300.0,
        concurrency: int = 4,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        super().__init__(timeout=timeout, concurrency=concurrency, output_limit=output_limit)
        self.airflow = list(airflow)
        self.env = dict(env)

    def _run(self, argv: tuple[str, ...]) -> Execution:
        start = time.monotonic()
        output = _Output(self.output_limit)
        try:
            proc = subprocess.Popen(
                [*self.airflow, *argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output.out,
                stderr=output.err,
                start_new_session=True,  # its own process group, so a timeout kills all of it
            )
            self._track(proc.pid, True)
            timed_out = False
            try:
                deadline = start + self.timeout
                while proc.poll() is None:
                    try:
                        proc.wait(POLL)
                    except subprocess.TimeoutExpired:
                        pass
                    if time.monotonic() > deadline and not timed_out:
                        timed_out = True
                        kill_group(proc.pid)
                    if not output.cut and output.over_limit():
                        output.cut = True
                        kill_group(proc.pid)
            finally:
                if proc.poll() is None:  # e.g. the server thread was interrupted
                    kill_group(proc.pid)
                    proc.wait()
                self._track(proc.pid, False)
            out, err = output.read()
        finally:
            output.close()
        return Execution(
            argv, out, err, proc.returncode, time.monotonic() - start, timed_out, output.cut
        )


class WarmExecutor(_Limited):
    """Forks each command from a long-lived process that has Airflow imported (the zygote).

    Output goes to unlinked temporary files whose fds travel to the zygote over a Unix
    socket, so nothing has to be drained while the command runs. A crashed zygote is
    restarted on the next command.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        socket_path: Path,
        *,
        python: str | Path,
        script: str | Path,
        preload: Sequence[str] = (),
        timeout: float = 300.0,
        concurrency: int = 4,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        super().__init__(timeout=timeout, concurrency=concurrency, output_limit=output_limit)
        self.env = dict(env)
        self.socket_path = socket_path
        self.python = str(python)  # the Airflow installation's interpreter
        self.script = str(script)  # its `airflow` console script, which cold runs use
        self.preload = ",".join(preload)  # the Airflow major's modules to import once
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_home(cls, home, socket_path: Path, **limits) -> WarmExecutor:
        """The fork-server of an ``AirflowHome``: its runtime's interpreter and script, its
        Airflow major's preload list, its CLI environment."""
        return cls(
            home.environ("cli"),
            socket_path,
            python=home.python,
            script=home.airflow[0],
            preload=home.flavour.preload,
            **limits,
        )

    def start(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            self.socket_path.parent.mkdir(parents=True, exist_ok=True)
            from . import zygote

            # stdin is a pipe we never write to: when this server dies (even by SIGKILL) the
            # zygote reads end-of-file and exits, ending its commands. (PR_SET_PDEATHSIG would
            # fire when the *thread* that started it ends, and replacements are started from
            # short-lived worker threads.) Run by path, so that no mwaa_cli import is needed.
            self._proc = subprocess.Popen(
                [
                    self.python,
                    "-c",
                    _RUN_PATH,
                    zygote.__file__,
                    str(self.socket_path),
                    self.script,
                    self.preload,
                ],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
            assert self._proc.stdout is not None
            for line in self._proc.stdout:  # "ready" once Airflow is imported (after any
                if line.strip() == b"ready":  # line Airflow itself printed at import)
                    break
            else:
                code = self._proc.wait()
                raise ExecutorError(f"the warm executor failed to start (exit {code})")

    def stop(self) -> None:
        self.kill_running()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _run(self, argv: tuple[str, ...]) -> Execution:
        for _ in range(3):
            try:
                return self._attempt(argv)
            except _NotStarted:
                # the zygote is gone (crashed or killed): the command never started, so a
                # new zygote may run it
                self.start()
        raise ExecutorError("the warm executor could not be restarted; see the server log")

    def _attempt(self, argv: tuple[str, ...]) -> Execution:
        start = time.monotonic()
        output = _Output(self.output_limit)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                pid = self._submit(sock, argv, output.out.fileno(), output.err.fileno())
                self._track(pid, True)
                try:
                    code, timed_out = self._wait(sock, pid, output)
                finally:
                    self._track(pid, False)
            finally:
                sock.close()
            out, err = output.read()
        finally:
            output.close()
        return Execution(argv, out, err, code, time.monotonic() - start, timed_out, output.cut)

    def _submit(self, sock: socket.socket, argv: tuple[str, ...], out: int, err: int) -> int:
        payload = json.dumps({"argv": list(argv)}).encode()
        try:
            sock.settimeout(10)
            sock.connect(str(self.socket_path))
            socket.send_fds(sock, [struct.pack("!I", len(payload))], [out, err])
            sock.sendall(payload)
            line = _readline(sock)
        except OSError as exc:
            raise _NotStarted(str(exc)) from exc
        if not line:
            raise _NotStarted("the warm executor closed the connection")
        return int(json.loads(line)["pid"])

    def _wait(self, sock: socket.socket, pid: int, output: _Output) -> tuple[int, bool]:
        """The command's exit code (and whether it was stopped for its time), watching its
        deadline and its output size meanwhile."""
        deadline = time.monotonic() + self.timeout
        timed_out = False
        killed_at = None
        while True:
            readable, _, _ = select.select([sock], [], [], POLL)
            if readable:
                sock.settimeout(30)
                line = _readline(sock)
                if not line:
                    kill_group(pid)  # orphaned by the zygote's death: don't let it run on
                    raise ExecutorError("the warm executor died while a command ran")
                return int(json.loads(line)["exit_code"]), timed_out
            now = time.monotonic()
            if killed_at is None and now > deadline:
                timed_out = True
            if killed_at is None and not output.cut and output.over_limit():
                output.cut = True
            if killed_at is None and (timed_out or output.cut):
                kill_group(pid)
                killed_at = now
            elif killed_at is not None and now - killed_at > 30:
                raise ExecutorError("a killed command was never reaped")


class _NotStarted(Exception):
    pass


# python -c: run the zygote by path without putting its folder on sys.path
_RUN_PATH = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _readline(sock: socket.socket) -> bytes:
    """One ``\\n``-terminated line (the replies are tiny; byte-wise reads are fine)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
