"""Throughput: commands per second at concurrency 1, 4 and 16 against the local environment.

Each level runs a fixed number of commands from that many threads (library clients, one
connection each). The server runs at most 4 commands at once (MWAA's limit) and answers
503 beyond: those are counted, and any other error fails the run.
Usage: python bench/throughput.py [--commands N]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, percentile

COMMAND = ["variables", "get", "bench_key"]


def run_level(concurrency: int, total: int) -> tuple[float, int, int, list[float]]:
    from mwaa_cli import Client, ServerBusy

    done, busy, latencies, errors = [0], [0], [], []
    lock = threading.Lock()
    remaining = [total]

    def worker():
        with Client(env="local") as client:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                try:
                    result = client.run(COMMAND)
                except ServerBusy:
                    with lock:
                        busy[0] += 1
                    continue
                except Exception as exc:
                    errors.append(repr(exc))
                    continue
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if result.stdout == b"bench value\n":
                        done[0] += 1
                    else:
                        errors.append(f"garbled: {result.stdout!r}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"errors at concurrency {concurrency}: {errors[:3]}")
    return done[0] / elapsed, done[0], busy[0], latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=60)
    args = parser.parse_args()
    with local_environment("--no-scheduler") as (_endpoint, environ, _home):
        os.environ.update(environ)
        from mwaa_cli import Client

        Client(env="local").run(["variables", "set", "bench_key", "bench value"])
        print(f"{'concurrency':>11} {'ok':>5} {'503':>5} {'cmd/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
        for level in (1, 4, 16):
            rate, ok, busy, lat = run_level(level, args.commands)
            print(
                f"{level:>11} {ok:>5} {busy:>5} {rate:7.1f} {percentile(lat, 0.5) * 1000:8.0f} "
                f"{percentile(lat, 0.99) * 1000:8.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
