"""Commands that Airflow confirms interactively, and the question to ask in their place.

The remote CLI has no terminal: a command that would ask "Are you sure? (y/n)" reads
end-of-file and fails. So the client asks instead - naming the environment - and sends
``--yes`` once the user agrees; a script must pass ``--yes`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence

# Commands that ask "Are you sure? (y/n)" on a terminal, per major version; the value says
# when (None: always, else only when that flag is present).
PROMPTING: dict[int, dict[str, str | None]] = {
    2: {
        "dags delete": None,
        "tasks clear": None,
        "db clean": None,
        "dags backfill": "--reset-dagruns",
    },
    3: {
        "dags delete": None,
        "tasks clear": None,
        "db clean": None,
        "dags pause": "--treat-dag-id-as-regex",
        "dags unpause": "--treat-dag-id-as-regex",
    },
}


def has_yes(argv: Sequence[str]) -> bool:
    return any(a in ("-y", "--yes") for a in argv)


def needs_confirmation(argv: Sequence[str], command: str, major: int) -> bool:
    """Whether Airflow would ask before running ``argv`` (and it carries no ``--yes``)."""
    table = PROMPTING.get(major, {})
    if command not in table or has_yes(argv):
        return False
    needs = table[command]
    return needs is None or any(a.split("=")[0] == needs for a in argv)


def add_yes(argv: Sequence[str], command: str, major: int) -> tuple[list[str], str | None]:
    """``argv`` with ``--yes`` when it needs a confirmation nobody can type remotely."""
    if not needs_confirmation(argv, command, major):
        return list(argv), None
    return [*argv, "--yes"], (
        f"added --yes: '{command}' asks for confirmation, which the remote CLI cannot answer"
    )


# options of these commands that take a value (the others are flags)
_VALUED = {
    "-o", "--output", "-S", "--subdir", "-t", "--task-regex", "-s", "--start-date",
    "-e", "--end-date", "--clean-before-timestamp", "--tables", "--bundle-name",
    "--batch-size", "--run-id", "-c", "--conf", "--map-index",
}  # fmt: skip


def _positional(argv: Sequence[str], skip: int) -> str:
    """The first argument after the command words that is not an option or its value."""
    rest = list(argv[skip:])
    index = 0
    while index < len(rest):
        arg = rest[index]
        if arg.startswith("-"):
            index += 2 if arg in _VALUED else 1
            continue
        return arg
    return "?"


def _value(argv: Sequence[str], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in names:
            return value if eq else (argv[index + 1] if index + 1 < len(argv) else "")
    return None


def question(argv: Sequence[str], command: str, env: str, detail: str = "") -> str:
    """What to ask before running ``argv`` on ``env`` (``detail``: e.g. what it affects)."""
    words = len(command.split())
    if command == "dags delete":
        dag = _positional(argv, words)
        extra = f" ({detail})" if detail else ""
        return f"delete DAG {dag} and all its records{extra} on {env}?"
    if command == "tasks clear":
        dag = _positional(argv, words)
        tasks = _value(argv, "-t", "--task-regex")
        start = _value(argv, "-s", "--start-date")
        end = _value(argv, "-e", "--end-date")
        scope = "".join(
            [
                f" matching '{tasks}'" if tasks else "",
                f" from {start}" if start else "",
                f" to {end}" if end else "",
            ]
        )
        return f"clear the task instances of DAG {dag}{scope} on {env} (they run again)?"
    if command == "db clean":
        before = _value(argv, "--clean-before-timestamp") or "the given time"
        return f"delete metadata older than {before} from the database of {env}?"
    if command in ("dags pause", "dags unpause"):
        verb = command.split()[1]
        return f"{verb} every DAG whose id matches '{_positional(argv, words)}' on {env}?"
    if command == "dags backfill":
        return f"reset existing runs of DAG {_positional(argv, words)} while backfilling on {env}?"
    return f"run '{command}' on {env}? Airflow asks for confirmation first"
