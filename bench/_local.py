"""Start a throwaway `mwaa local serve` for a benchmark and stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_environment(*extra: str):
    """Yield (endpoint, environ for AWS tools, home) of a fresh local environment."""
    state = Path(tempfile.mkdtemp(prefix="mwaa-bench-"))
    port = free_port()
    log = open(state / "serve.log", "w+")  # noqa: SIM115
    aws = {
        "AWS_CONFIG_FILE": str(state / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(state / "aws" / "credentials"),
    }
    proc = subprocess.Popen(
        [str(BIN / "mwaa"), "local", "serve", "--port", str(port), *extra],
        env=dict(os.environ, MWAA_CLI_HOME=str(state), **aws),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while "Press Ctrl-C" not in (state / "serve.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                "mwaa local serve did not start:\n" + (state / "serve.log").read_text()
            )
        time.sleep(0.2)
    home = state / "local" / "local"
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in (home / "env.sh").read_text().splitlines()
        if line.startswith("export ")
    )
    environ = dict(
        os.environ,
        **exports,
        MWAA_CLI_HOME=str(state),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        MWAA_BENCH_SERVER_PID=str(proc.pid),
    )
    endpoint = f"https://127.0.0.1:{port}"
    try:
        yield endpoint, environ, home
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> tuple[float, float]:
    """(p50, p90) in milliseconds."""
    return statistics.median(values) * 1000, percentile(values, 0.9) * 1000


def timed(fn, runs: int, warm: bool = False) -> list[float]:
    """Seconds per call of ``fn``, ``runs`` times (``warm``: one untimed call first)."""
    if warm:
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
