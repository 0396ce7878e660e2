"""Did a remote command fail? The rule for replies without ``exit_code`` (real MWAA)."""

from __future__ import annotations

import re

# Lines that only a failing Airflow command writes to stderr.
_FAILURE_PATTERNS = [
    re.compile(rb"^Traceback \(most recent call last\):", re.M),
    re.compile(rb"^airflow(\.[a-z_]+)*\.exceptions\.\w+", re.M),
    re.compile(rb"^(airflow\.)?\w*(Error|Exception): ", re.M),
    re.compile(rb"^airflow( [\w-]+)*:? (command )?error: ", re.M),  # argparse usage error
    re.compile(rb"^Error: ", re.M),
    # "Did not find a connection …", "Can not find dag 'd' in database", "Could not find …"
    re.compile(rb"^(Did not|Can ?not|Could not) find ", re.M),
    re.compile(rb"^No such \w+", re.M),  # "No such provider installed: p"
    re.compile(rb"^The \S+ provided to --[\w-]+ is invalid", re.M),  # connections add
    # "Variable k does not exist.", "Dag id x not found", "Connection c not found"
    re.compile(
        rb"^(Variable|Connection|Pool|Dag|DAG|Task|Role|Asset)\b.* (does not exist|not found)", re.M
    ),
]
# argparse (Airflow 2: "airflow dags: error: …"; Airflow 3: "airflow command error: …")
_USAGE = re.compile(rb"^airflow( [\w-]+)*(: error| command error): ", re.M)


_TRACEBACK = _FAILURE_PATTERNS[0]
# ERROR/CRITICAL log records, classic ("[…] {…} ERROR - …") and structlog ("… [error    ] …")
_ERROR_LOG = re.compile(
    rb"^(\[[^\]]*\]\s*(\{[^}]*\}\s*)?(ERROR|CRITICAL)\b|\S+\s+\[(error|critical)\s*\])", re.M
)


def infer_exit_code(stderr: bytes, mode: str = "default") -> int:
    """The exit code a reply without one (real MWAA) most likely had, from its stderr.

    default: 0 unless stderr shows a traceback, an Airflow exception, an argparse usage error
    or a not-found error; usage errors give 2 (as argparse would), other failures 1.
    Warnings and log lines do not count. ``strict`` also fails on ERROR/CRITICAL log lines;
    ``lenient`` fails only on a traceback or a usage error.
    """
    if _USAGE.search(stderr):
        return 2
    if mode == "lenient":
        return 1 if _TRACEBACK.search(stderr) else 0
    if any(p.search(stderr) for p in _FAILURE_PATTERNS):
        return 1
    if mode == "strict" and _ERROR_LOG.search(stderr):
        return 1
    return 0
