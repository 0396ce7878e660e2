"""Load: 50 concurrent clients x 20 commands each against a local environment (loopback).

Every reply must be either the right output or the documented 503 (busy); anything else -
a lost, garbled or failed reply - fails the run. Prints counts and p50/p99 latency.
Usage: python bench/load.py [--clients 50] [--commands 20]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--commands", type=int, default=20)
    args = parser.parse_args()
    with local_environment("--no-scheduler") as (_endpoint, environ, _home):
        os.environ.update(environ)
        from mwaa_cli import Client, ServerBusy

        Client(env="local").run(["variables", "set", "load_key", "load value"])
        ok, busy, bad, latencies = [0], [0], [], []
        lock = threading.Lock()

        def client_loop():
            with Client(env="local") as client:
                for _ in range(args.commands):
                    start = time.perf_counter()
                    try:
                        result = client.run(["variables", "get", "load_key"])
                    except ServerBusy:
                        with lock:
                            busy[0] += 1
                        continue
                    except Exception as exc:
                        bad.append(repr(exc))
                        continue
                    with lock:
                        latencies.append(time.perf_counter() - start)
                        if result.stdout == b"load value\n" and result.exit_code == 0:
                            ok[0] += 1
                        else:
                            bad.append(f"garbled: {result.stdout!r}")

        threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    total = args.clients * args.commands
    print(
        f"{args.clients} clients x {args.commands} commands = {total} requests in "
        f"{elapsed:.1f} s: {ok[0]} ok, {busy[0]} busy (503), {len(bad)} bad"
    )
    if latencies:
        print(
            f"latency of answered commands: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms"
        )
    if bad or ok[0] + busy[0] != total:
        print("FAILED:", bad[:5])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
