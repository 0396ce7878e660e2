"""Did a remote command fail? The rule for replies without ``exit_code`` (real MWAA)."""

from __future__ import annotations

import re

# Lines that only a failing Airflow command writes to stderr.
_FAILURE_PATTERNS = [
    re.compile(rb"^Traceback \(most recent call last\):", re.M),
    re.compile(rb"^airflow(\.[a-z_]+)*\.exceptions\.\w+", re.M),
    re.compile(rb"^(airflow\.)?\w*(Error|Exception): ", re.M),
    re.compile(rb"^airflow( [\w-]+)*: error: ", re.M),  # argparse usage error
    re.compile(rb"^Error: ", re.M),
    # "Variable k does not exist.", "Dag id x not found", "Connection c not found"
    re.compile(
        rb"^(Variable|Connection|Pool|Dag|DAG|Task|Role|Asset)\b.* (does not exist|not found)", re.M
    ),
]
_USAGE = re.compile(rb"^airflow( [\w-]+)*: error: ", re.M)


def infer_exit_code(stderr: bytes) -> int:
    """0 unless stderr shows a traceback, an Airflow exception, a usage or not-found error.

    Usage errors give 2 (as argparse would), other failures 1. Warnings and log lines on
    stderr do not count as failure.
    """
    if _USAGE.search(stderr):
        return 2
    return 1 if any(p.search(stderr) for p in _FAILURE_PATTERNS) else 0
