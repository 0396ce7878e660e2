"""Did a remote command fail? The rule for replies without ``exit_code`` (real MWAA).

MWAA sends a command's stdout and stderr but not its exit code. What a failing Airflow
command writes is recognisable - an uncaught traceback, an argparse usage error, Airflow's
not-found and invalid-input messages - but two things look like failures without being
ones, and are set aside first:

- log records, and the tracebacks logged with them: an environment with a plugin that
  fails to import logs "ERROR - Failed to import plugin" and its traceback on *every*
  command, successful or not;
- Python warnings.

The rule is tested on a corpus of real Airflow 2.x and 3.x outputs (tests/unit and the
end-to-end tests, which compare it with the real exit code).
"""

from __future__ import annotations

import re

# A log record's first line: classic "[2024-05-01T10:00:00.000+0000] {file.py:12} LEVEL - "
# and structlog's console "2026-11-25T19:30:45.633826Z [level    ] ".
_LOG_RECORD = re.compile(
    rb"^(\[\d{4}-\d\d-\d\d[T ][^\]]*\]\s*(\{[^}]*\}\s*)?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b"
    rb"|\d{4}-\d\d-\d\d[T ][\d:.]+Z?\s+\[(debug|info|warning|error|critical)\s*\])"
)
_ERROR_RECORD = re.compile(
    rb"^(\[[^\]]*\]\s*(\{[^}]*\}\s*)?(ERROR|CRITICAL)\b|\S+\s+\[(error|critical)\s*\])"
)
# records about the environment rather than the command (MWAA logs them on every command)
_ENVIRONMENT_LOGGERS = re.compile(
    rb"plugins_manager|providers_manager|\{(plugins_manager|providers_manager)\.py"
)
_WARNING = re.compile(rb"^\S.*:\d+:? \w*Warning: ")
_TRACEBACK = b"Traceback (most recent call last):"
_CHAINED = (
    b"During handling of the above exception, another exception occurred:",
    b"The above exception was the direct cause of the following exception:",
)

# Lines that only a failing Airflow command writes to stderr (once logged output is set aside).
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
    # "A connection with `conn_id`=x already exists.", "Role r already exists"
    re.compile(rb"^.{0,80}\balready exists\b", re.M),
    # "Must supply either conn-uri or conn-json if not supplying conn-type"
    re.compile(rb"^Must supply ", re.M),
    # a JSON error alone on its line: `variables get K -j` of a value that is not JSON
    re.compile(
        rb"^(Expecting [\w ,':]+|Extra data|Unterminated string[\w ]*|Invalid [\w \\]+)"
        rb": line \d+ column \d+ \(char \d+\)$",
        re.M,
    ),
]
# argparse (Airflow 2: "airflow dags: error: …"; Airflow 3: "airflow command error: …")
_USAGE = re.compile(rb"^airflow( [\w-]+)*(: error| command error): ", re.M)
_UNCAUGHT = _FAILURE_PATTERNS[0]


def _skip_traceback(lines: list[bytes], start: int) -> int:
    """The index after the traceback (chained ones included) that starts at ``start``."""
    index = start + 1
    while index < len(lines):
        line = lines[index]
        if line[:1] in (b" ", b"\t"):  # frames and source lines
            index += 1
            continue
        if line.strip() == b"":
            index += 1
            continue
        if line.strip() in _CHAINED or line.startswith(_TRACEBACK):
            index += 1
            continue
        index += 1  # the exception line itself ("ModuleNotFoundError: …")
        if index < len(lines) and lines[index].strip() == b"":
            following = index + 1
            if following < len(lines) and lines[following].strip() in _CHAINED:
                index = following + 1
                continue
        break
    return index


def commands_own(stream: bytes) -> bytes:
    """``stream`` without log records, the tracebacks logged with them, and warnings: what the
    command itself wrote."""
    lines = stream.splitlines(keepends=True)
    kept: list[bytes] = []
    index = 0
    after_record = False
    while index < len(lines):
        line = lines[index]
        if _LOG_RECORD.match(line):
            after_record = True
            index += 1
            continue
        if line.startswith(_TRACEBACK) and after_record:
            index = _skip_traceback(lines, index)  # logged with the record above it
            after_record = False
            continue
        if _WARNING.match(line):
            index += 1
            if index < len(lines) and lines[index][:1] in (b" ", b"\t"):
                index += 1  # the warning's source line
            after_record = False
            continue
        after_record = False
        kept.append(line)
        index += 1
    return b"".join(kept)


def infer_exit_code(stderr: bytes, mode: str = "default", stdout: bytes = b"") -> int:
    """The exit code a reply without one (real MWAA) most likely had.

    default: 0 unless what the command itself wrote to stderr (log records and their
    tracebacks set aside) shows an uncaught traceback, an Airflow exception, an argparse
    usage error or a not-found / invalid-input error; usage errors give 2 (as argparse
    would), other failures 1. ``strict`` also fails on an ERROR/CRITICAL log record of the
    command (in stderr or stdout, where Airflow 3 writes its logs; records about plugins and
    providers, which MWAA logs on every command, do not count); ``lenient`` fails only on an
    uncaught traceback or a usage error.
    """
    own = commands_own(stderr)
    if _USAGE.search(own):
        return 2
    if mode == "lenient":
        return 1 if _UNCAUGHT.search(own) else 0
    if any(p.search(own) for p in _FAILURE_PATTERNS):
        return 1
    if mode == "strict":
        for line in (stderr + b"\n" + stdout).splitlines():
            if _ERROR_RECORD.match(line) and not _ENVIRONMENT_LOGGERS.search(line):
                return 1
    return 0
