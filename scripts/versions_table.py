"""Print a table of test results per Airflow version from a pytest JUnit XML report
(scripts/test-versions.sh)."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

VERSION = re.compile(r"\[(\d+\.\d+\.\d+)")


def main(path: str) -> None:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[str, float] = defaultdict(float)
    failures: dict[str, list[str]] = defaultdict(list)
    for case in ET.parse(path).getroot().iter("testcase"):
        match = VERSION.search(case.get("name", ""))
        if not match:
            continue
        version = match.group(1)
        seconds[version] += float(case.get("time", 0))
        if case.find("failure") is not None or case.find("error") is not None:
            counts[version]["failed"] += 1
            failures[version].append(case.get("name", ""))
        elif case.find("skipped") is not None:
            counts[version]["skipped"] += 1
        else:
            counts[version]["passed"] += 1
    order = sorted(counts, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
    print(f"\n{'Airflow':9} {'passed':>6} {'failed':>6} {'skipped':>7} {'seconds':>8}")
    for version in order:
        c = counts[version]
        print(
            f"{version:9} {c['passed']:6} {c['failed']:6} {c['skipped']:7} "
            f"{seconds[version]:8.0f}"
        )
        for name in failures[version]:
            print(f"  FAILED {name}")


if __name__ == "__main__":
    main(sys.argv[1])
