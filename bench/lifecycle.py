"""Start and stop times of `mwaa local serve`: start to ready (a new home, then an existing
one) and Ctrl-C to exit, with every process of the environment gone.

Each figure is the median of N starts/stops, measured side by side on the same machine.
Usage: python bench/lifecycle.py [--runs N]
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


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == parent and stat[0] != "Z":
                    found.add(int(entry.name))
                    todo.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def one(state: Path, *extra: str) -> tuple[float, float, int]:
    """(start to ready, Ctrl-C to exit, processes left behind)."""
    log = state / "serve.log"
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(BIN / "mwaa"), "local", "serve", "--port", str(free_port()), *extra],
            env=dict(os.environ, MWAA_CLI_HOME=str(state)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    while "Press Ctrl-C" not in log.read_text():
        if proc.poll() is not None:
            raise SystemExit(log.read_text())
        time.sleep(0.05)
    ready = time.monotonic() - started
    time.sleep(8)  # let the components settle (the scheduler forks its workers)
    tree = descendants(proc.pid)
    stopping = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    while [p for p in tree if alive(p)] and time.monotonic() - stopping < 30:
        time.sleep(0.02)
    stopped = time.monotonic() - stopping
    return ready, stopped, len([p for p in tree if alive(p)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, extra in (
        ("full (scheduler, API server…)", ()),
        ("--no-scheduler", ("--no-scheduler",)),
    ):
        first, later, stops, left = [], [], [], 0
        for _ in range(args.runs):
            state = Path(tempfile.mkdtemp(prefix="mwaa-bench-"))
            ready, stop, leftover = one(state, *extra)
            first.append(ready)
            stops.append(stop)
            left += leftover
            ready, stop, leftover = one(state, *extra)  # the same home again
            later.append(ready)
            stops.append(stop)
            left += leftover
        rows.append(
            (
                label,
                statistics.median(first),
                statistics.median(later),
                statistics.median(stops),
                max(stops),
                left,
            )
        )
    widths = (32, 12, 12, 11, 6, 5)
    header = ("environment", "first start", "later start", "Ctrl-C p50", "max", "left")
    print(
        " ".join(
            f"{h:{'<' if i == 0 else '>'}{w}}"
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    for label, first, later, stop, worst, left in rows:
        print(f"{label:32} {first:10.1f} s {later:10.1f} s {stop:9.2f} s {worst:5.2f}s {left:5d}")
    print("(start: to the banner; Ctrl-C: until every process of the environment is gone;")
    print(" target <= 2 s)")
    return 0 if all(row[5] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
