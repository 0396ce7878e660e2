"""Executor benchmark: a cold `airflow …` subprocess vs the local environment's endpoint,
for every command on MWAA's allowlist of an Airflow version.

Runs each command alternately cold and through the endpoint (warm fork-server), N times,
and prints p50/p90 and the p50 ratio. Usage: python bench/executor.py [--runs N] [--quick]
[--airflow-version X] (--quick: the eight everyday commands only; the version's runtime is
created first if needed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, summary

from mwaa_cli.commands import Allowlist
from mwaa_cli.errors import CommandNotAllowed
from mwaa_cli.local.airflow.home import AirflowHome, sample_dags_folder
from mwaa_cli.local.airflow.runtime import ensure
from mwaa_cli.local.airflow.versions import DEFAULT
from mwaa_cli.local.executor import SubprocessExecutor

RUN = "bench_run"
QUICK = [
    ["version"],
    ["dags", "list"],
    ["dags", "list", "-o", "json"],
    ["tasks", "list", "hello_mwaa"],
    ["variables", "set", "bench_key", "bench value"],
    ["variables", "get", "bench_key"],
    ["dags", "trigger", "hello_mwaa"],
    ["dags", "list-runs", "hello_mwaa"],
]
# one successful form of every allowlist entry (Airflow 3), in an order where each finds
# what it needs; a command that changes state is followed by its inverse
EVERY = [
    *QUICK,
    ["cheat-sheet"],
    ["dags", "list-jobs"],
    ["dags", "list-import-errors"],
    ["dags", "next-execution", "daily_report"],
    ["dags", "report"],
    ["dags", "show", "hello_mwaa"],
    ["dags", "state", "hello_mwaa", RUN],
    ["dags", "pause", "daily_report"],
    ["dags", "unpause", "daily_report"],
    ["dags", "reserialize"],
    ["dags", "test", "hello_mwaa"],
    ["backfill", "create", "--dag-id", "daily_report", "--from-date", "2025-01-01",
     "--to-date", "2025-01-02", "--dry-run"],
    ["db", "clean", "--clean-before-timestamp", "2000-01-01", "--dry-run", "--yes"],
    ["tasks", "render", "hello_mwaa", "say_hello", RUN],
    ["tasks", "state", "hello_mwaa", "say_hello", RUN],
    ["tasks", "states-for-dag-run", "hello_mwaa", RUN],
    ["tasks", "failed-deps", "hello_mwaa", "say_hello", RUN],
    ["tasks", "test", "hello_mwaa", "add"],
    ["tasks", "clear", "hello_mwaa", "--yes"],
    ["variables", "list"],
    ["variables", "delete", "bench_key"],
    ["variables", "set", "bench_key", "bench value"],
    ["connections", "add", "bench_c", "--conn-uri", "http://h"],
    ["connections", "delete", "bench_c"],
    ["assets", "list"],
    ["assets", "details", "--name", "nope"],
    ["providers", "list"],
    ["providers", "get", "apache-airflow-providers-standard"],
    ["providers", "hooks"],
    ["providers", "links"],
    ["providers", "behaviours"],
    ["providers", "notifications"],
    ["providers", "secrets"],
    ["providers", "triggerer"],
    ["providers", "widgets"],
    ["roles", "list"],
    ["dags", "delete", "daily_report", "--yes"],
    ["dags", "reserialize"],
]  # fmt: skip
# Airflow 2's forms of the commands whose 3.x form it lacks
TO_2 = {
    ("backfill", "create", "--dag-id", "daily_report", "--from-date", "2025-01-01",
     "--to-date", "2025-01-02", "--dry-run"):
    ["dags", "backfill", "daily_report", "-s", "2025-01-01", "-e", "2025-01-02", "--dry-run"],
    ("providers", "get", "apache-airflow-providers-standard"):
    ["providers", "get", "apache-airflow-providers-http"],
    ("dags", "list-runs", "hello_mwaa"): ["dags", "list-runs", "-d", "hello_mwaa"],
}  # fmt: skip
# exit non-zero by nature here (nothing to materialize, no such asset): timed all the same
# commands that fail by design here: no such asset; `providers triggerer` is on MWAA's
# allowlist but Airflow 3.3.1 calls it `providers triggers` (a usage error, exit 2)
NON_ZERO = {("assets", "details"), ("providers", "triggerer")}


# what a state-changing command needs before each timed run of it (done untimed, cold)
BEFORE = {
    ("connections", "add"): ["connections", "delete", "bench_c"],
    ("connections", "delete"): ["connections", "add", "bench_c", "--conn-uri", "http://h"],
    ("dags", "delete"): ["dags", "reserialize"],
}


def prepare(cold: SubprocessExecutor, argv: list[str]) -> None:
    setup = BEFORE.get(tuple(argv[:2]))
    if setup:
        cold.run(setup)
    if argv[:2] == ["dags", "trigger"]:
        time.sleep(1.05)  # Airflow 2's manual run ids have whole seconds: one run a second


def allowed(allowlist: Allowlist, argv: list[str]) -> bool:
    try:
        allowlist.command_of(argv)
    except CommandNotAllowed:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--airflow-version", default=DEFAULT)
    args = parser.parse_args()
    commands = QUICK if args.quick else EVERY
    runtime = ensure(args.airflow_version)
    allowlist = Allowlist.for_version(args.airflow_version)
    if runtime.version.major == 2:  # the 2.x spellings of the few that differ
        commands = [TO_2.get(tuple(argv), argv) for argv in commands]
    commands = [argv for argv in commands if allowed(allowlist, argv)]
    print(f"Apache Airflow {args.airflow_version} (Python {runtime.python_version})")
    with local_environment("--no-scheduler", "--airflow-version", args.airflow_version) as (
        _endpoint,
        environ,
        home_root,
    ):
        import os

        os.environ.update(environ)
        from mwaa_cli import Client

        client = Client(env="local")
        assert client.run(["dags", "reserialize"]).ok
        home = AirflowHome(home_root, sample_dags_folder(), runtime)
        cold = SubprocessExecutor(home.airflow, home.environ(), timeout=300, concurrency=1)
        trigger = ["dags", "trigger", "hello_mwaa", "-r", RUN]
        assert cold.run(trigger).exit_code == 0, "a run to look up"
        client.run(["version"])  # token + connection, as any caller would hold them
        # a few idle seconds in, the fork-server loads the providers' classes: a running
        # environment has long done so
        status = home_root / "run" / "zygote.sock.warm"
        deadline = time.monotonic() + 120
        while not status.is_file() and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"fork-server warm-up: {status.read_text().strip() if status.is_file() else '?'}")
        print(
            f"{'command':48} {'cold p50':>9} {'p90':>7} {'endpoint p50':>13} {'p90':>7} "
            f"{'ratio':>7}"
        )
        ratios = []
        for argv in commands:
            cold_t, warm_t = [], []
            expect_ok = tuple(argv[:2]) not in NON_ZERO
            for _ in range(args.runs):
                prepare(cold, argv)
                start = time.perf_counter()
                done = cold.run(argv)
                cold_t.append(time.perf_counter() - start)
                if done.exit_code and b"invalid choice" in done.stderr:
                    # on MWAA's allowlist, not in this Airflow's CLI (roles without FAB):
                    # the usage error is timed all the same
                    expect_ok = False
                assert done.exit_code == 0 or not expect_ok, (argv, done.stderr[-500:])
                prepare(cold, argv)
                start = time.perf_counter()
                result = client.run(argv)
                warm_t.append(time.perf_counter() - start)
                assert result.ok or not expect_ok, (argv, result.stderr[-500:])
                if argv[:2] == ["dags", "trigger"]:
                    time.sleep(1.0)  # run ids have one-second resolution on some versions
            (c50, c90), (w50, w90) = summary(cold_t), summary(warm_t)
            ratios.append((c50 / w50, " ".join(argv)))
            print(
                f"{' '.join(argv)[:48]:48} {c50:7.0f}ms {c90:5.0f}ms {w50:11.0f}ms "
                f"{w90:5.0f}ms {c50 / w50:6.1f}x"
            )
        worst, name = min(ratios)
        below = [f"{n} ({r:.1f}x)" for r, n in sorted(ratios) if r < 20]
        print(f"min ratio {worst:.1f}x ({name}); target >= 20x; runs per command: {args.runs}")
        if below:
            print(f"below 20x: {', '.join(below)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
