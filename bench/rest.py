"""REST benchmark: the same read (list the DAGs) through InvokeRestApi and through the CLI
data plane, against one local environment, side by side.

(a) boto3 `invoke_rest_api(Path="/dags")` in one process (SigV4 each call)
(b) the library's `Client.run(["dags", "list", "-o", "json"])` in one process (cached token)
(c) `mwaa api GET /dags` per call (a new process each time)
(d) `mwaa run -- dags list -o json` per call (a new process each time)
Prints p50/p90 per call and the ratios. Usage: python bench/rest.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import BIN, local_environment, summary, timed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with local_environment() as (_endpoint, environ, _home):
        os.environ.update(environ)
        import boto3
        from botocore.config import Config

        from mwaa_cli import Client

        mwaa = boto3.client("mwaa", config=Config(inject_host_prefix=False))
        deadline = time.monotonic() + 120
        while True:  # the API server and the DAGs are ready
            try:
                reply = mwaa.invoke_rest_api(Name="local", Path="/dags", Method="GET")
                if reply["RestApiResponse"]["total_entries"] >= 3:
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the environment's REST API never listed the sample DAGs")
            time.sleep(1)

        client = Client("local")

        def rest() -> None:
            assert (
                mwaa.invoke_rest_api(Name="local", Path="/dags", Method="GET")["RestApiStatusCode"]
                == 200
            )

        def cli() -> None:
            assert client.run(["dags", "list", "-o", "json"]).exit_code == 0

        def proc(*argv: str):
            def run() -> None:
                subprocess.run(
                    [str(BIN / "mwaa"), *argv], env=environ, check=True, capture_output=True
                )

            return run

        rows = [
            ("InvokeRestApi GET /dags (boto3, in process)", timed(rest, args.runs, warm=True)),
            ("CLI dags list -o json (library, in process)", timed(cli, args.runs, warm=True)),
            (
                "mwaa api GET /dags (a process per call)",
                timed(proc("api", "GET", "/dags"), args.runs, warm=True),
            ),
            (
                "mwaa run -- dags list -o json (a process per call)",
                timed(proc("run", "--", "dags", "list", "-o", "json"), args.runs, warm=True),
            ),
        ]
    print(f"same read, {args.runs} calls each, one local environment (Airflow 3.3.1, HTTPS)")
    print(f"  {'path':55} {'p50 ms':>8} {'p90 ms':>8}")
    stats = [(name, *summary(times)) for name, times in rows]
    for name, p50, p90 in stats:
        print(f"  {name:55} {p50:8.1f} {p90:8.1f}")
    print(f"  REST / CLI in process (p50): {stats[0][1] / stats[1][1]:.2f}")
    print(f"  mwaa api / mwaa run (p50):   {stats[2][1] / stats[3][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
