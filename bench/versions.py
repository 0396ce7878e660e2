"""Per Airflow version: environment start time (first start: DB migration and users; later
start: same home) and warm command latency through the endpoint vs a cold `airflow`
process, side by side. Usage: python bench/versions.py [--versions 3.3.1,2.10.3|installed]
[--runs N]. Versions without a runtime are made first (not timed here: bench/runtimes.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import BIN, free_port

from mwaa_cli.local.airflow import runtime as rt
from mwaa_cli.local.airflow.home import AirflowHome, sample_dags_folder
from mwaa_cli.local.executor import SubprocessExecutor


def start(state: Path, version: str) -> tuple[subprocess.Popen, float, Path]:
    log = state / f"serve-{time.monotonic_ns()}.log"
    env = dict(
        os.environ,
        MWAA_CLI_HOME=str(state),
        AWS_CONFIG_FILE=str(state / "aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(state / "aws" / "credentials"),
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(BIN / "mwaa"),
            "local",
            "serve",
            "--port",
            str(free_port()),
            "--airflow-version",
            version,
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    while "Press Ctrl-C" not in log.read_text():
        if proc.poll() is not None:
            raise SystemExit(log.read_text())
        time.sleep(0.05)
    return proc, time.perf_counter() - started, log


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", default="installed")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.versions == "installed":
        versions = [r.version.version for r in rt.installed()]
    else:
        versions = args.versions.split(",")
    rows = []
    for version in versions:
        runtime = rt.ensure(version, say=lambda line: print(f"  {line}", file=sys.stderr))
        state = Path(tempfile.mkdtemp(prefix=f"mwaa-bench-{version}-"))
        proc, first, _ = start(state, version)
        stop(proc)
        proc, later, _ = start(state, version)
        try:
            env = dict(os.environ, MWAA_CLI_HOME=str(state))
            for line in (state / "local" / "local" / "env.sh").read_text().splitlines():
                if line.startswith("export "):
                    key, _, value = line.removeprefix("export ").partition("=")
                    env[key] = value.strip("'")
            os.environ.update(env)
            from mwaa_cli import Client

            client = Client(env="local")
            home = AirflowHome(state / "local" / "local", sample_dags_folder(), runtime)
            cold = SubprocessExecutor(home.airflow, home.environ(), timeout=300, concurrency=1)
            argv = ["dags", "list"]
            client.run(argv)
            warm_t, cold_t = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                assert client.run(argv).ok
                warm_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert cold.run(argv).exit_code == 0
                cold_t.append(time.perf_counter() - t)
            client.close()
        finally:
            stop(proc)
        warm, cold_p50 = statistics.median(warm_t) * 1000, statistics.median(cold_t) * 1000
        rows.append((version, runtime.python_version, first, later, warm, cold_p50))
        print(f"  {version} done", file=sys.stderr)
    print(
        f"{'Airflow':9} {'Python':8} {'first start':>12} {'later start':>12} "
        f"{'dags list warm':>15} {'cold':>8} {'ratio':>6}"
    )
    for version, python, first, later, warm, cold_p50 in rows:
        print(
            f"{version:9} {python:8} {first:10.1f} s {later:10.1f} s {warm:12.0f} ms "
            f"{cold_p50:5.0f} ms {cold_p50 / warm:5.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
