"""Runtime creation: the same Airflow version's runtime made with an empty uv cache (every
wheel downloaded) and again with the cache that run left (what every later version, or a
second machine user, gets), side by side. Usage: python bench/runtimes.py [--airflow-version X]
(needs the network to PyPI; takes a few minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mwaa_cli.local.airflow import runtime as rt


def create(version: str, runtimes: Path, cache: Path) -> float:
    os.environ[rt.RUNTIMES_VAR] = str(runtimes)
    os.environ["UV_CACHE_DIR"] = str(cache)
    shutil.rmtree(runtimes, ignore_errors=True)
    started = time.perf_counter()
    made = rt.ensure(version, say=lambda line: print(f"  {line}", file=sys.stderr))
    elapsed = time.perf_counter() - started
    assert made.ready()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--airflow-version", default="2.10.3")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mwaa-bench-runtimes-"))
    try:
        cache = work / "uv-cache"
        empty = create(args.airflow_version, work / "runtimes", cache)
        size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 2**20
        warm = create(args.airflow_version, work / "runtimes", cache)
        ready = rt.runtime_for(args.airflow_version)
        started = time.perf_counter()
        for _ in range(100):
            assert ready.ready()
        check = (time.perf_counter() - started) / 100
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Apache Airflow {args.airflow_version} runtime creation")
    print(f"  empty uv cache  {empty:7.1f} s  (downloaded {size:.0f} MiB)")
    print(f"  warm uv cache   {warm:7.1f} s  ({empty / warm:.1f}x faster)")
    print(f"  already made    {check * 1000:7.2f} ms (the check every later start does)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
