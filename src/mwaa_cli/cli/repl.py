"""The interactive ``mwaa shell``: prompt_toolkit with history and completion of the
environment's allowed commands, DAG ids and variable keys."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..client import Client
from ..commands import Allowlist
from ..errors import MwaaError

BUILTINS = ("help", "exit", "quit", "clear")
# commands whose next positional argument is a DAG id / a variable key
_TAKES_DAG = {
    "dags delete", "dags list-runs", "dags next-execution", "dags pause", "dags unpause",
    "dags report", "dags show", "dags state", "dags test", "dags trigger", "tasks clear",
    "tasks failed-deps", "tasks list", "tasks render", "tasks run", "tasks state",
    "tasks states-for-dag-run", "tasks test", "dags backfill",
}  # fmt: skip
_TAKES_VARIABLE = {"variables get", "variables set", "variables delete"}


class Names:
    """DAG ids and variable keys, fetched once (on first use) from the environment, and
    again after a command that changes them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._cache: dict[str, list[str]] = {}

    def _fetch(self, argv: list[str], key: str) -> list[str]:
        if key not in self._cache:
            try:
                result = self.client.run(argv)
                lines = result.stdout.decode(errors="replace").splitlines()
                # Airflow 3 may log a line before the JSON; take the JSON line
                doc = json.loads(next((ln for ln in lines if ln.startswith("[")), "[]"))
                self._cache[key] = sorted({str(row.get(key, "")) for row in doc} - {""})
            except (MwaaError, ValueError, AttributeError):
                self._cache[key] = []
        return self._cache[key]

    def forget_after(self, argv: Sequence[str]) -> None:
        """Drop what a command may have changed, so the next Tab fetches it again."""
        command = " ".join(argv[:2])
        if command in ("variables set", "variables delete", "variables import"):
            self._cache.pop("key", None)
        if command in ("dags delete", "dags reserialize"):
            self._cache.pop("dag_id", None)

    def dag_ids(self) -> list[str]:
        return self._fetch(["dags", "list", "-o", "json"], "dag_id")

    def variable_keys(self) -> list[str]:
        return self._fetch(["variables", "list", "-o", "json"], "key")


def candidates(words: Sequence[str], allowlist: Allowlist, names: Names) -> list[str]:
    """What may come next after the complete ``words`` (the word being typed excluded)."""
    if not words:
        tops = {c.split(" ")[0] for c in allowlist.commands}
        return sorted(tops | set(BUILTINS))
    head = words[0]
    if len(words) == 1 and head in allowlist.groups:
        return sorted(c.split(" ", 1)[1] for c in allowlist.commands if c.startswith(head + " "))
    command = " ".join(words[:2])
    positional = [w for w in words[2:] if not w.startswith("-")]
    if command in _TAKES_DAG and not positional:
        return names.dag_ids()
    if command in _TAKES_VARIABLE and not positional:
        return names.variable_keys()
    if command == "backfill create" and words[-1] == "--dag-id":
        return names.dag_ids()
    return []


def make_completer(allowlist: Allowlist, names: Names):
    from prompt_toolkit.completion import Completer, Completion

    class AirflowCompleter(Completer):
        def get_completions(self, document, complete_event) -> Iterable[Completion]:
            text = document.text_before_cursor
            try:
                words = shlex.split(text)
            except ValueError:
                return
            typing = bool(text) and not text[-1].isspace() and bool(words)
            current = words.pop() if typing else ""
            if words and words[0] == "airflow":
                words = words[1:]
            for option in candidates(words, allowlist, names):
                if option.startswith(current):
                    yield Completion(option, start_position=-len(current))

    return AirflowCompleter()


def private_history(path: Path):
    """prompt_toolkit's file history, kept private (0600 in a 0700 folder) and without
    secret values (variable values, connection passwords - masked as the audit log does)."""
    import os

    from prompt_toolkit.history import FileHistory

    from .._files import make_private_dir
    from ..masking import mask_line

    make_private_dir(path.parent)
    if path.exists():
        os.chmod(path, 0o600)  # older versions left it world-readable
    else:
        path.touch(mode=0o600)

    class PrivateHistory(FileHistory):
        def store_string(self, string: str) -> None:
            super().store_string(mask_line(string))

    return PrivateHistory(str(path))


def help_text(allowlist: Allowlist, env: str, version: str) -> str:
    commands = sorted(allowlist.commands)
    return (
        f"Airflow {version} on '{env}' accepts:\n  "
        + "\n  ".join(commands)
        + "\nOld syntax (list_dags, trigger_dag …) is translated. 'clear' clears the screen;"
        + " Ctrl-C stops waiting for a command; exit, quit or Ctrl-D leave."
    )


def loop(
    client: Client,
    execute: Callable[[list[str]], int],
    history: Path,
    *,
    interactive: bool | None = None,
) -> int:
    """Read commands until EOF/exit, run each with ``execute``; the last exit code."""
    env, version = client.env, client.airflow_version()
    allowlist = client.allowlist()
    interactive = sys.stdin.isatty() if interactive is None else interactive
    names = Names(client)
    if interactive:
        from prompt_toolkit import PromptSession

        session = PromptSession(
            history=private_history(history),
            completer=make_completer(allowlist, names),
            complete_while_typing=False,
        )
        print(f"mwaa shell: {env} (Airflow {version}). 'help' lists commands; Ctrl-D leaves.")

        def read() -> str:
            return session.prompt(f"{env}> ")

    else:

        def read() -> str:
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line

    last = 0
    while True:
        try:
            line = read().strip()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not line or line.startswith("#"):
            continue
        if line in ("exit", "quit"):
            break
        if line == "help":
            print(help_text(allowlist, env, version))
            continue
        if line == "clear":
            if interactive:
                print("\x1b[2J\x1b[H", end="", flush=True)
            else:
                print(
                    "mwaa: 'clear' clears the screen of an interactive shell; Airflow's is "
                    "'tasks clear'",
                    file=sys.stderr,
                )
            continue
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            print(f"mwaa: {exc}", file=sys.stderr)
            last = 2
            continue
        if argv[0] == "airflow":
            argv = argv[1:]
        last = execute(argv)
        names.forget_after(argv)
        if last and interactive:
            print(f"[exit {last}]", file=sys.stderr)
    return last
