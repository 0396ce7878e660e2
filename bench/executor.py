"""Executor benchmark: a cold `airflow …` subprocess vs the local environment's endpoint.

Runs each command alternately cold and through the endpoint (warm fork-server), N times,
and prints p50/p90 and the p50 ratio. Usage: python bench/executor.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, summary

from mwaa_cli.local.airflow_home import (
    AirflowHome,
    airflow_command,
    sample_dags_folder,
)
from mwaa_cli.local.executor import SubprocessExecutor

COMMANDS = [
    ["version"],
    ["dags", "list"],
    ["dags", "list", "-o", "json"],
    ["tasks", "list", "hello_mwaa"],
    ["variables", "set", "bench_key", "bench value"],
    ["variables", "get", "bench_key"],
    ["dags", "trigger", "hello_mwaa"],
    ["dags", "list-runs", "hello_mwaa"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with local_environment("--no-scheduler") as (_endpoint, environ, home_root):
        import os

        os.environ.update(environ)
        from mwaa_cli import Client

        client = Client(env="local")
        assert client.run(["dags", "reserialize"]).ok
        home = AirflowHome(home_root, sample_dags_folder())
        cold = SubprocessExecutor(airflow_command(), home.environ(), timeout=300, concurrency=1)
        client.run(["version"])  # token + connection, as any caller would hold them
        print(
            f"{'command':32} {'cold p50':>9} {'p90':>7} {'endpoint p50':>13} {'p90':>7} "
            f"{'ratio':>7}"
        )
        ratios = []
        for argv in COMMANDS:
            cold_t, warm_t = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                assert cold.run(argv).exit_code == 0, argv
                cold_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                result = client.run(argv)
                warm_t.append(time.perf_counter() - start)
                assert result.ok, result.stderr
                if argv[:2] == ["dags", "trigger"]:
                    time.sleep(1.0)  # run ids have one-second resolution on some versions
            (c50, c90), (w50, w90) = summary(cold_t), summary(warm_t)
            ratios.append(c50 / w50)
            print(
                f"{' '.join(argv):32} {c50:7.0f}ms {c90:5.0f}ms {w50:11.0f}ms {w90:5.0f}ms "
                f"{c50 / w50:6.1f}x"
            )
        print(f"min ratio {min(ratios):.1f}x (target >= 20x); runs per command: {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
