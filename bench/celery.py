"""The Celery backend beside SQLite, in one run on this machine:

- start time (new home to banner) of a SQLite environment and of a Celery one;
- tasks/s of the 50-task fan-out DAG (tests/e2e/celery_dags/fan_out.py, 2 s per task) on
  LocalExecutor and on Celery with 1, 2 and 4 fixed workers (mw1.small: 5 tasks each);
- the scale-up: seconds from triggering the fan-out on a 1..4-worker environment to the
  autoscaler's fourth worker;
- memory per worker: PSS of a worker's main process and its prefork pool, idle (RSS would
  count the pages the pool shares with its parent once per process).

Usage: python bench/celery.py [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import BIN, local_environment

DAGS = Path(__file__).parents[1] / "tests" / "e2e" / "celery_dags"


def api(environ: dict, *argv: str) -> dict:
    done = subprocess.run(
        [str(BIN / "mwaa"), "api", *argv], env=environ, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode())
    return json.loads(done.stdout)


def wait_listed(environ: dict, dag_id: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            api(environ, "get", f"/dags/{dag_id}")
            return
        except SystemExit:
            time.sleep(1)
    raise SystemExit(f"{dag_id} never registered")


def fan_out(environ: dict, home: Path, watch_workers: int = 0) -> tuple[float, float | None]:
    """(tasks/s from the first task's start to the last one's end, seconds to reach
    ``watch_workers`` workers)."""
    wait_listed(environ, "fan_out")
    api(environ, "patch", "/dags/fan_out", "--body", '{"is_paused": false}')
    started = time.monotonic()
    run = api(environ, "post", "/dags/fan_out/dagRuns", "--body", '{"logical_date": null}')
    run_id = run["dag_run_id"]
    scaled = None
    while True:
        if watch_workers and scaled is None:
            try:
                status = json.loads((home / "run" / "workers.json").read_text())
                if status["count"] >= watch_workers:
                    scaled = time.monotonic() - started
            except (OSError, ValueError):
                pass
        state = api(environ, "get", f"/dags/fan_out/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(0.5)
    tis = api(environ, "get", f"/dags/fan_out/dagRuns/{run_id}/taskInstances", "--paginate")[
        "task_instances"
    ]
    first = min(_stamp(t["start_date"]) for t in tis)
    last = max(_stamp(t["end_date"]) for t in tis)
    return len(tis) / (last - first), scaled


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def worker_pss_mb(name: str = "worker-1") -> float:
    """PSS of the worker's main process and its pool (by Celery's process titles)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        if title.startswith(f"[celeryd: {name}@".encode()):
            for line in rollup.splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def timed_start(*flags: str):
    started = time.monotonic()
    ctx = local_environment("--dags", str(DAGS), *flags)
    _endpoint, environ, home = ctx.__enter__()
    return time.monotonic() - started, ctx, environ, home


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows = []
    seconds, ctx, environ, home = timed_start()
    rate, _ = fan_out(environ, home)
    ctx.__exit__(None, None, None)
    rows.append(("SQLite + LocalExecutor", seconds, rate, None, None))
    for n in counts:
        seconds, ctx, environ, home = timed_start(
            "--backend", "celery", "--min-workers", str(n), "--max-workers", str(n),
            "--schedulers", "1",
        )  # fmt: skip
        rss = worker_pss_mb()
        rate, _ = fan_out(environ, home)
        ctx.__exit__(None, None, None)
        rows.append((f"Celery, {n} worker(s)", seconds, rate, None, rss))
    top = max(counts)
    seconds, ctx, environ, home = timed_start(
        "--backend", "celery", "--min-workers", "1", "--max-workers", str(top),
        "--schedulers", "1",
    )  # fmt: skip
    rate, scaled = fan_out(environ, home, watch_workers=top)
    ctx.__exit__(None, None, None)
    rows.append((f"Celery, autoscaled 1..{top}", seconds, rate, scaled, None))
    base = rows[0][2]
    print(
        f"{'setup':28} {'start s':>8} {'tasks/s':>8} {'vs local':>9} {'scale-up s':>11} "
        f"{'MB/worker':>10} (PSS)"
    )
    for label, start, rate, scale, rss in rows:
        scale_text = "" if scale is None else f"{scale:.1f}"
        rss_text = "" if rss is None else f"{rss:.0f}"
        print(
            f"{label:28} {start:8.1f} {rate:8.2f} {rate / base:8.2f}x "
            f"{scale_text:>11} {rss_text:>10}"
        )


if __name__ == "__main__":
    main()
