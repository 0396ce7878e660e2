"""Load: many concurrent clients against a local environment (loopback, HTTPS).

1. server alone: 50 clients x 20 commands with client retries off - how many the server
   answers by itself (at most 4 run at once; the others wait in its queue);
2. clients with retries (--busy-timeout): must be every one of them, answered correctly;
3. --soak SECONDS: steady mixed traffic for that long on a full environment (after
   --soak-warmup seconds, 60 by default, of the same traffic; scheduler and
   all), with the resident memory and open files of every process of the environment
   before and after.

Every reply must be the right output or, without retries, the documented 503; anything
else - a lost, garbled or failed reply - fails the run. Prints counts and p50/p99.
Usage: python bench/load.py [--clients 50] [--commands 20] [--soak 180]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_environment, percentile


def hammer(clients: int, commands: int, busy_timeout: float) -> dict:
    from mwaa_cli import Client, ServerBusy

    ok, busy, bad, latencies = [0], [0], [], []
    lock = threading.Lock()

    def client_loop() -> None:
        with Client(env="local", busy_timeout=busy_timeout) as client:
            for _ in range(commands):
                start = time.perf_counter()
                try:
                    result = client.run(["variables", "get", "load_key"])
                except ServerBusy:
                    with lock:
                        busy[0] += 1
                    continue
                except Exception as exc:
                    with lock:
                        bad.append(repr(exc))
                    continue
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if result.stdout == b"load value\n" and result.exit_code == 0:
                        ok[0] += 1
                    else:
                        bad.append(f"garbled: {result.stdout!r}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "elapsed": time.perf_counter() - started,
        "ok": ok[0],
        "busy": busy[0],
        "bad": bad,
        "latencies": latencies,
    }


def report(label: str, total: int, doc: dict) -> bool:
    lat = doc["latencies"]
    line = (
        f"{label}: {total} requests in {doc['elapsed']:.1f} s: {doc['ok']} answered correctly, "
        f"{doc['busy']} turned away (503), {len(doc['bad'])} lost/garbled/failed"
    )
    if lat:
        line += (
            f"; latency p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(lat, 0.99) * 1000:.0f} ms"
        )
    print(line)
    if doc["bad"]:
        print("  e.g.", doc["bad"][:3])
    return not doc["bad"] and doc["ok"] + doc["busy"] == total


def processes(root: int) -> dict[int, str]:
    """pid -> short name of ``root`` and every process below it."""
    found = {root: "server"}
    todo = [root]
    while todo:
        parent = todo.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pid = int(entry.name)
                found[pid] = " ".join(cmd.split()[:3])[-60:]
                todo.append(pid)
    return found


def footprint(pid: int) -> tuple[int, int] | None:
    """(RSS KiB, open fds) of a process, None when it is gone."""
    try:
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


def traffic(seconds: float, mix: list[list[str]], clients: int = 8) -> tuple[int, list]:
    """``clients`` threads sending random commands of ``mix`` for ``seconds``."""
    from mwaa_cli import Client

    stop = time.monotonic() + seconds
    counts, failures = [0], []
    lock = threading.Lock()

    def loop() -> None:
        with Client(env="local") as client:
            while time.monotonic() < stop:
                try:
                    result = client.run(random.choice(mix))
                    if not result.ok:
                        failures.append(result.stderr[-200:])
                except Exception as exc:
                    failures.append(repr(exc))
                with lock:
                    counts[0] += 1
                time.sleep(random.uniform(0, 0.2))

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts[0], failures


def soak(seconds: float, server_pid: int, warmup: float) -> bool:
    from mwaa_cli import Client

    mix = [
        ["variables", "get", "load_key"],
        ["variables", "set", "soak_key", "x"],
        ["dags", "list", "-o", "json"],
        ["version"],
        ["dags", "list-runs", "hello_mwaa"],
    ]
    Client(env="local").run(["dags", "reserialize"])
    # the same traffic first, untimed: Airflow's components finish importing and fill their
    # caches in their first minute, which is start-up, not growth
    traffic(warmup, mix)
    time.sleep(2)
    before = {pid: (name, footprint(pid)) for pid, name in processes(server_pid).items()}
    count, failures = traffic(seconds, mix)
    time.sleep(2)
    print(
        f"soak: {count} commands in {seconds:.0f} s from 8 clients (after {warmup:.0f} s of "
        f"the same traffic), {len(failures)} failed"
    )
    print(f"  {'process':60} {'RSS before':>11} {'after':>9} {'fds before':>11} {'after':>6}")
    grew = []
    for pid, (name, first) in sorted(before.items()):
        last = footprint(pid)
        if first is None or last is None:
            continue
        print(f"  {name:60} {first[0]:9d}KB {last[0]:7d}KB {first[1]:11d} {last[1]:6d}")
        if last[1] > first[1] + 2 or last[0] > first[0] * 1.2 + 20_000:
            grew.append(name)
    if grew:
        print("  grew:", grew)
    return not failures and not grew


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--soak", type=float, default=0, help="seconds of steady traffic")
    parser.add_argument(
        "--soak-warmup", type=float, default=60, help="seconds of the same traffic before it"
    )
    args = parser.parse_args()
    total = args.clients * args.commands
    healthy = True
    with local_environment("--no-scheduler") as (_endpoint, environ, _home):
        os.environ.update(environ)
        from mwaa_cli import Client

        Client(env="local").run(["variables", "set", "load_key", "load value"])
        print(f"{args.clients} clients x {args.commands} commands, variables get, over HTTPS")
        alone = hammer(args.clients, args.commands, busy_timeout=0)
        healthy &= report("server alone (no client retries)", total, alone)
        retried = hammer(args.clients, args.commands, busy_timeout=60)
        healthy &= report("clients with retries (--busy-timeout 60)", total, retried)
        healthy &= retried["ok"] == total
    if args.soak:
        with local_environment() as (_endpoint, environ, _home):
            os.environ.update(environ)
            from mwaa_cli import Client

            Client(env="local").run(["variables", "set", "load_key", "load value"])
            pid = int(environ["MWAA_BENCH_SERVER_PID"])
            healthy &= soak(args.soak, pid, args.soak_warmup)
    if not healthy:
        print("FAILED")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
