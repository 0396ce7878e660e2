"""Old Airflow CLI syntax -> the environment's syntax, and the confirmations a remote CLI
cannot answer.

Airflow 1.10 spelled commands ``list_dags``, ``trigger_dag D -c …``, ``variables -s K V``;
2.x grouped them (``dags list``); 3.x moved ``dags backfill`` to ``backfill create`` and
``-e/--exec-date`` to ``-l/--logical-date``. :func:`translate` rewrites an argv for the
target major version and says what it did; every rule is in :data:`RULES` with an example.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Argv = list[str]


@dataclass(frozen=True)
class Rule:
    """One rewrite: applies to argv whose command is ``match`` (1.10 name or "group sub")."""

    match: str
    source: str  # the Airflow version family the spelling comes from: "1.10", "2.x", "3.x"
    targets: tuple[int, ...]  # major versions it rewrites for
    rewrite: Callable[[Argv, int], Argv]
    example: tuple[str, dict[int, str]]  # input, {major: output}


def _rename_flags(args: Argv, names: dict[str, str]) -> Argv:
    out = []
    for arg in args:
        name, eq, value = arg.partition("=")
        if names.get(name):
            out.append(names[name] + eq + value)
        else:
            out.append(arg)
    return out


def _grouped(new: str, flags: dict[str, str] | None = None) -> Callable[[Argv, int], Argv]:
    def rewrite(argv: Argv, major: int) -> Argv:
        return [*new.split(), *_rename_flags(argv[1:], flags or {})]

    return rewrite


def _trigger(args: Argv, major: int) -> Argv:
    date_flag = "--logical-date" if major >= 3 else "--exec-date"
    return _rename_flags(
        args,
        {
            "--run_id": "--run-id",
            "--exec_date": date_flag,
            "-e": "-l" if major >= 3 else "-e",
            "--exec-date": date_flag,
            "--logical-date": date_flag,
            "-l": "-l" if major >= 3 else "-e",
        },
    )


def _trigger_dag(argv: Argv, major: int) -> Argv:
    return ["dags", "trigger", *_trigger(argv[1:], major)]


def _dags_trigger(argv: Argv, major: int) -> Argv:
    return ["dags", "trigger", *_trigger(argv[2:], major)]


# options (of the commands rewritten here, any version) that take a value
_VALUED = {
    "-c", "--conf", "-s", "--start-date", "--start_date", "-e", "--end-date", "--end_date",
    "-t", "--task-regex", "--task_regex", "--pool", "--delay-on-limit", "-S", "--subdir",
    "--from-date", "--to-date", "--dag-run-conf", "--max-active-runs", "--reprocess-behavior",
    "--state", "-o", "--output", "-r", "--run-id", "--run_id", "-l", "--logical-date",
    "--exec-date", "--exec_date",
}  # fmt: skip


def _positional_dag(args: Argv) -> tuple[str | None, Argv]:
    """Split the DAG id (``-d/--dag-id D``, or the first positional) out of ``args``."""
    rest: Argv = []
    dag = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-d", "--dag-id", "--dag_id") and i + 1 < len(args):
            dag, i = args[i + 1], i + 2
            continue
        if arg.startswith(("--dag-id=", "--dag_id=")):
            dag, i = arg.split("=", 1)[1], i + 1
            continue
        if arg in _VALUED and i + 1 < len(args):
            rest += args[i : i + 2]
            i += 2
            continue
        if dag is None and not arg.startswith("-"):
            dag, i = arg, i + 1
            continue
        rest.append(arg)
        i += 1
    return dag, rest


def _list_runs(args: Argv, major: int) -> Argv:
    dag, rest = _positional_dag(args)
    rest = _rename_flags(rest, {"--no_backfill": "--no-backfill"})
    if dag is None:
        return ["dags", "list-runs", *rest]
    if major >= 3:
        return ["dags", "list-runs", dag, *rest]
    return ["dags", "list-runs", "-d", dag, *rest]


_BACKFILL_2 = {"-s": "-s", "--start_date": "-s", "--start-date": "-s", "-e": "-e"}
_BACKFILL_3 = {
    "-s": "--from-date",
    "--start_date": "--from-date",
    "--start-date": "--from-date",
    "-e": "--to-date",
    "--end_date": "--to-date",
    "--end-date": "--to-date",
    "-c": "--dag-run-conf",
    "--conf": "--dag-run-conf",
    "--run-backwards": "--run-backwards",
    "-B": "--run-backwards",
    "--dry-run": "--dry-run",
}


def _backfill(args: Argv, major: int) -> Argv:
    dag, rest = _positional_dag(args)
    if major >= 3:
        rest = _rename_flags(rest, _BACKFILL_3)
        return ["backfill", "create", *(["--dag-id", dag] if dag else []), *rest]
    rest = _rename_flags(rest, {**_BACKFILL_2, "--end_date": "-e", "--end-date": "-e"})
    rest = _rename_flags(rest, {"--from-date": "-s", "--to-date": "-e", "--dag-run-conf": "-c"})
    return ["dags", "backfill", *([dag] if dag else []), *rest]


def _variables(argv: Argv, major: int) -> Argv:
    """1.10: ``variables -s K V`` / ``-g K`` / ``-x K`` / ``-i F`` / ``-e F`` / (nothing)."""
    args = argv[1:]
    if not args or args[0] in ("-l", "--list"):
        return ["variables", "list", *args[1:]]
    verbs = {
        "-s": "set",
        "--set": "set",
        "-g": "get",
        "--get": "get",
        "-x": "delete",
        "--delete": "delete",
        "-i": "import",
        "--import": "import",
        "-e": "export",
        "--export": "export",
    }
    if args[0] in verbs:
        return ["variables", verbs[args[0]], *args[1:]]
    return argv


def _is_110_variables(argv: Sequence[str]) -> bool:
    return len(argv) == 1 or (len(argv) > 1 and argv[1].startswith("-") and argv[1] != "-h")


_DAG_TASK_DATE = "D T 2025-01-01"

RULES: list[Rule] = [
    Rule("list_dags", "1.10", (2, 3), _grouped("dags list"), ("list_dags", {3: "dags list"})),
    Rule(
        "list_tasks", "1.10", (2, 3), _grouped("tasks list"), ("list_tasks D", {3: "tasks list D"})
    ),
    Rule(
        "list_dag_runs",
        "1.10",
        (2, 3),
        lambda a, m: _list_runs(a[1:], m),
        ("list_dag_runs D", {2: "dags list-runs -d D", 3: "dags list-runs D"}),
    ),
    Rule(
        "trigger_dag",
        "1.10",
        (2, 3),
        _trigger_dag,
        (
            "trigger_dag D -c {} -e 2025-01-01",
            {
                2: "dags trigger D -c {} -e 2025-01-01",
                3: "dags trigger D -c {} -l 2025-01-01",
            },
        ),
    ),
    Rule("pause", "1.10", (2, 3), _grouped("dags pause"), ("pause D", {3: "dags pause D"})),
    Rule("unpause", "1.10", (2, 3), _grouped("dags unpause"), ("unpause D", {3: "dags unpause D"})),
    Rule(
        "dag_state",
        "1.10",
        (2, 3),
        _grouped("dags state"),
        ("dag_state D 2025-01-01", {3: "dags state D 2025-01-01"}),
    ),
    Rule(
        "task_state",
        "1.10",
        (2, 3),
        _grouped("tasks state"),
        (f"task_state {_DAG_TASK_DATE}", {3: f"tasks state {_DAG_TASK_DATE}"}),
    ),
    Rule(
        "next_execution",
        "1.10",
        (2, 3),
        _grouped("dags next-execution"),
        ("next_execution D", {3: "dags next-execution D"}),
    ),
    Rule(
        "delete_dag",
        "1.10",
        (2, 3),
        _grouped("dags delete"),
        ("delete_dag D", {3: "dags delete D"}),
    ),
    Rule(
        "clear",
        "1.10",
        (2, 3),
        _grouped("tasks clear"),
        ("clear D -t t1", {3: "tasks clear D -t t1"}),
    ),
    Rule(
        "test",
        "1.10",
        (2, 3),
        _grouped("tasks test"),
        (f"test {_DAG_TASK_DATE}", {3: f"tasks test {_DAG_TASK_DATE}"}),
    ),
    Rule(
        "render",
        "1.10",
        (2, 3),
        _grouped("tasks render"),
        (f"render {_DAG_TASK_DATE}", {3: f"tasks render {_DAG_TASK_DATE}"}),
    ),
    Rule(
        "run",
        "1.10",
        (2,),
        _grouped("tasks run"),
        (f"run {_DAG_TASK_DATE}", {2: f"tasks run {_DAG_TASK_DATE}"}),
    ),
    Rule(
        "task_failed_deps",
        "1.10",
        (2, 3),
        _grouped("tasks failed-deps"),
        (f"task_failed_deps {_DAG_TASK_DATE}", {3: f"tasks failed-deps {_DAG_TASK_DATE}"}),
    ),
    Rule("show_dag", "1.10", (2, 3), _grouped("dags show"), ("show_dag D", {3: "dags show D"})),
    Rule(
        "backfill",
        "1.10",
        (2, 3),
        lambda a, m: _backfill(a[1:], m),
        (
            "backfill D -s 2025-01-01 -e 2025-01-02",
            {
                2: "dags backfill D -s 2025-01-01 -e 2025-01-02",
                3: "backfill create --dag-id D --from-date 2025-01-01 --to-date 2025-01-02",
            },
        ),
    ),
    Rule(
        "variables",
        "1.10",
        (2, 3),
        _variables,
        ("variables -s K V", {3: "variables set K V"}),
    ),
    Rule(
        "dags backfill",
        "2.x",
        (3,),
        lambda a, m: _backfill(a[2:], m),
        (
            "dags backfill D -s 2025-01-01 -e 2025-01-02",
            {3: "backfill create --dag-id D --from-date 2025-01-01 --to-date 2025-01-02"},
        ),
    ),
    Rule(
        "backfill create",
        "3.x",
        (2,),
        lambda a, m: _backfill(a[2:], m),
        (
            "backfill create --dag-id D --from-date 2025-01-01 --to-date 2025-01-02",
            {2: "dags backfill D -s 2025-01-01 -e 2025-01-02"},
        ),
    ),
    Rule(
        "dags list-runs",
        "2.x/3.x",
        (2, 3),
        lambda a, m: _list_runs(a[2:], m),
        ("dags list-runs -d D", {3: "dags list-runs D"}),
    ),
    Rule(
        "dags trigger",
        "2.x/3.x",
        (2, 3),
        _dags_trigger,
        (
            "dags trigger D -e 2025-01-01",
            {3: "dags trigger D -l 2025-01-01", 2: "dags trigger D -e 2025-01-01"},
        ),
    ),
]


def _command(argv: Sequence[str]) -> str | None:
    if not argv:
        return None
    two = " ".join(argv[:2])
    if any(r.match == two for r in RULES):
        return two
    return argv[0]


def translate(argv: Sequence[str], major: int) -> tuple[list[str], str | None]:
    """``argv`` in the syntax of Airflow ``major``, and a note when it changed."""
    argv = list(argv)
    key = _command(argv)
    for rule in RULES:
        if rule.match != key or major not in rule.targets:
            continue
        if rule.match == "variables" and not _is_110_variables(argv):
            continue
        new = rule.rewrite(argv, major)
        if new != argv:
            return new, (
                f"translated Airflow {rule.source} syntax '{rule.match}' for Airflow {major}, "
                f"sending: {shlex.join(new)}  (--no-translate sends it as typed)"
            )
        return argv, None
    return argv, None
