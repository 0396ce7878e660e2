"""The warm executor (fork per command) prints exactly what a cold `airflow` process does:
stdout, stderr and exit code, for every command on MWAA's allowlist that can run
here, on Airflow 3 and Airflow 2 runtimes. Times, run ids and durations are normalised; nothing else is."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from mwaa_cli.commands import Allowlist
from mwaa_cli.local.airflow.home import sample_dags_folder
from mwaa_cli.local.airflow.versions import DEFAULT
from mwaa_cli.local.executor import SubprocessExecutor, WarmExecutor

from .conftest import AIRFLOW2, prepared_home

RUN = "ident_run"
CONN_URI = "postgresql://user:secret@db.example.com:5432/x"
# (argv, setup): `setup` runs cold once before the case; the metadata DB is then
# snapshotted and restored between the warm and the cold run, so both start from the
# same state.
CASES: list[tuple[list[str], list[str] | None]] = [
    (["version"], None),
    (["cheat-sheet"], None),
    (["dags", "list"], None),
    (["dags", "list", "-o", "json"], None),
    (["dags", "list", "-o", "yaml"], None),
    (["dags", "list", "-o", "plain"], None),
    (["dags", "list", "--columns", "dag_id,is_paused"], None),
    (["dags", "list-jobs"], None),
    (["dags", "list-import-errors"], None),
    (["dags", "list-runs", "hello_mwaa"], None),
    (["dags", "next-execution", "daily_report"], None),
    (["dags", "report"], None),
    (["dags", "show", "hello_mwaa"], None),
    (["dags", "state", "hello_mwaa", RUN], None),
    (["dags", "pause", "daily_report"], ["dags", "unpause", "daily_report"]),
    (["dags", "unpause", "daily_report"], ["dags", "pause", "daily_report"]),
    (["dags", "trigger", "etl_with_params", "-c", '{"rows": 2}'], None),
    (["dags", "reserialize"], None),
    (["dags", "delete", "daily_report", "--yes"], ["dags", "reserialize"]),
    (["dags", "test", "hello_mwaa"], None),
    (
        [
            "backfill",
            "create",
            "--dag-id",
            "daily_report",
            "--from-date",
            "2025-01-01",
            "--to-date",
            "2025-01-03",
            "--dry-run",
        ],
        None,
    ),
    (["db", "clean", "--clean-before-timestamp", "2000-01-01", "--dry-run", "--yes"], None),
    (["tasks", "list", "hello_mwaa"], None),
    (["tasks", "list", "etl_with_params"], None),
    (["tasks", "render", "hello_mwaa", "say_hello", RUN], None),
    (["tasks", "state", "hello_mwaa", "say_hello", RUN], None),
    (["tasks", "states-for-dag-run", "hello_mwaa", RUN], None),
    (["tasks", "failed-deps", "hello_mwaa", "say_hello", RUN], None),
    (["tasks", "test", "hello_mwaa", "add"], None),
    (["tasks", "clear", "hello_mwaa", "--yes"], None),
    (["variables", "set", "ident_k", "v a l"], ["variables", "delete", "ident_k"]),
    (["variables", "get", "ident_k"], None),
    (["variables", "list"], None),
    (["variables", "delete", "ident_k"], ["variables", "set", "ident_k", "v a l"]),
    (["variables", "get", "no_such_key"], None),
    (
        ["connections", "add", "ident_c", "--conn-uri", CONN_URI],
        ["connections", "delete", "ident_c"],
    ),
    (
        ["connections", "delete", "ident_c"],
        ["connections", "add", "ident_c", "--conn-uri", CONN_URI],
    ),
    (["assets", "list"], None),
    (["assets", "details", "--name", "nope"], None),
    (["assets", "materialize", "--name", "nope"], None),
    (["providers", "list"], None),
    (["providers", "get", "apache-airflow-providers-standard"], None),
    (["providers", "hooks"], None),
    (["providers", "links"], None),
    (["providers", "behaviours"], None),
    (["providers", "notifications"], None),
    (["providers", "secrets"], None),
    (["providers", "triggerer"], None),
    (["providers", "widgets"], None),
    (["roles", "list"], None),
    (["roles", "create", "r1"], None),
    (["roles", "add-perms", "r1", "-r", "DAGs", "-a", "can_read"], None),
    (["roles", "del-perms", "r1", "-r", "DAGs", "-a", "can_read"], None),
    # errors: usage, unknown DAG, bad JSON
    (["dags", "list", "--no-such-flag"], None),
    (["dags", "trigger", "no_such_dag"], None),
    (["dags", "trigger", "hello_mwaa", "-c", "{not json"], None),
    (["tasks", "list", "no_such_dag"], None),
]
# Airflow 2's allowlist: the same commands where they exist, and its own
_ONLY_3 = {"assets", "backfill"}
CASES_2: list[tuple[list[str], list[str] | None]] = [
    (argv, setup)
    for argv, setup in CASES
    if argv[0] not in _ONLY_3 and argv[:2] != ["providers", "get"]
] + [
    (["providers", "get", "apache-airflow-providers-http"], None),
    (
        ["dags", "backfill", "daily_report", "-s", "2025-01-01", "-e", "2025-01-03", "--dry-run"],
        None,
    ),
    (["tasks", "run", "hello_mwaa", "say_hello", RUN, "--local"], None),
    (["tasks", "run", "no_such_dag", "t", RUN], None),
]
BY_VERSION = {DEFAULT: CASES, AIRFLOW2: CASES_2}

_NORMALISE = [
    (re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?"), b"<TS>"),
    (re.compile(rb"datetime\.datetime\([^)]*\)(, tzinfo=Timezone\('UTC'\)\))?"), b"<DT>"),
    (re.compile(rb"DateTime\([\d, ]+(, tzinfo=Timezone\('UTC'\))?\)"), b"<DT>"),
    (re.compile(rb"\d+:\d{2}:\d{2}\.\d+"), b"<DURATION>"),
    (re.compile(rb"\d{8}T\d{6}"), b"<TS>"),  # Airflow 2's compact dates
    (re.compile(rb"<TS>,\d{3}"), b"<TS>"),  # Airflow 2's task log lines
    (re.compile(rb"\b\d{2}:\d{2}:\d{2}\+00:00"), b"<TIME>"),  # a wrapped table cell's time
    (re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), b"<UUID>"),
    (re.compile(rb"(duration|pid|run_duration|id)=[0-9.]+"), rb"\1=<N>"),
    # delete_dag deletes per model in mapper-registry order; cascades make the count vary
    # from one cold run to the next
    (re.compile(rb"Removed \d+ record\(s\)"), b"Removed <N> record(s)"),
    (re.compile(rb"[ =]+"), b" "),  # table padding follows the width of normalised values
]


# Commands whose output order follows the process's hash seed (sets of tables, DAGs or
# dependencies): a cold process draws a new seed each time, fork children share the
# zygote's, so line order differs run to run; compare these as sorted lines.
# printed in an order no one guarantees: set iteration, or (dags report) sorted by parse
# duration, which a busy machine reorders
UNORDERED = {"db clean", "dags test", "tasks failed-deps", "dags report"}

_QUOTED_LIST = re.compile(rb"[\[{](?:'[^']*'(?:, )?)+[\]}]")


def normalise(data: bytes) -> bytes:
    # lists printed from sets follow each process's hash seed (db clean's table list)
    data = _QUOTED_LIST.sub(
        lambda m: (
            m.group(0)[:1] + b", ".join(sorted(m.group(0)[1:-1].split(b", "))) + m.group(0)[-1:]
        ),
        data,
    )
    for pattern, replacement in _NORMALISE:
        data = pattern.sub(replacement, data)
    return data


# Cases that read only what every earlier case leaves alone: both sides are run for them
# up front, the cold ones two at a time (a cold start is seconds of CPU-bound imports)
_STATELESS = {
    "version", "cheat-sheet", "dags list", "dags report", "dags show", "tasks list",
    "dags list-import-errors", "dags next-execution", "roles list", "assets list",
    "providers list", "providers get", "providers hooks", "providers links",
    "providers behaviours", "providers notifications", "providers secrets",
    "providers triggerer", "providers widgets",
}  # fmt: skip


def _stateless(argv: list[str], setup: list[str] | None) -> bool:
    command = " ".join(argv[:2]) if argv[0] not in ("version", "cheat-sheet") else argv[0]
    return setup is None and command in _STATELESS


def _ahead(warm: WarmExecutor, cold: SubprocessExecutor, cases) -> dict:
    """argv -> (warm, cold) results of the stateless cases, run before any other case."""
    from concurrent.futures import ThreadPoolExecutor

    argvs = [argv for argv, setup in cases if _stateless(argv, setup)]
    warm_done = {tuple(argv): warm.run(argv) for argv in argvs}
    with ThreadPoolExecutor(2) as pool:
        cold_done = dict(zip(map(tuple, argvs), pool.map(cold.run, argvs), strict=True))
    return {key: (warm_done[key], cold_done[key]) for key in warm_done}


@pytest.fixture(scope="module")
def executors_of():
    """version -> (warm, cold, DB path): one home per runtime, made on first use."""
    made: dict[str, tuple[WarmExecutor, SubprocessExecutor, Path, dict]] = {}

    def get(version: str) -> tuple[WarmExecutor, SubprocessExecutor, Path, dict]:
        if version in made:
            return made[version]
        for other in list(made):  # one runtime's processes at a time on two cores
            made.pop(other)[0].stop()
        root = Path(tempfile.mkdtemp(prefix="mwaa-ident-"))
        home = prepared_home(root, sample_dags_folder(), version)
        cold = SubprocessExecutor(home.airflow, home.environ(), timeout=300)
        for setup in (["dags", "reserialize"], ["dags", "trigger", "hello_mwaa", "-r", RUN]):
            done = cold.run(setup)
            assert done.exit_code == 0, done.stderr
        warm = WarmExecutor.for_home(home, root / "zygote.sock", timeout=300)
        warm.start()
        made[version] = (warm, cold, home.db_path, _ahead(warm, cold, BY_VERSION[version]))
        return made[version]

    yield get
    for warm, *_ in made.values():
        warm.stop()


@pytest.mark.parametrize("version", list(BY_VERSION))
def test_cases_cover_the_whole_allowlist(version):
    allowlist = Allowlist.for_version(version)
    covered = {allowlist.command_of(argv) for argv, _ in BY_VERSION[version]}
    assert covered == set(allowlist.commands)


def _marked(version: str) -> list:
    """Airflow 2's half of the matrix is `make test-slow` (a cold 2.10.3 run per case)."""
    return [pytest.mark.slow] if version == AIRFLOW2 else []


@pytest.mark.parametrize(
    "version,argv,setup",
    [
        pytest.param(v, argv, setup, marks=_marked(v), id=f"{v}: {' '.join(argv)}")
        for v, cases in BY_VERSION.items()
        for argv, setup in cases
    ],
)
def test_warm_equals_cold(executors_of, version, argv, setup):
    warm, cold, db, ahead = executors_of(version)
    command = " ".join(argv[:2])
    if tuple(argv) in ahead:
        w, c = ahead[tuple(argv)]
    else:
        if setup:
            cold.run(setup)
        snapshot = db.with_suffix(".snapshot")
        shutil.copyfile(db, snapshot)  # no process holds the SQLite DB open between commands
        w = warm.run(argv)
        shutil.copyfile(snapshot, db)
        c = cold.run(argv)
    assert w.exit_code == c.exit_code

    def canon(data: bytes) -> bytes:
        data = normalise(data)
        return b"\n".join(sorted(data.split(b"\n"))) if command in UNORDERED else data

    assert canon(w.stdout) == canon(c.stdout)
    assert canon(w.stderr) == canon(c.stderr)


AFTER_WARM_UP = [
    ["version"],
    ["cheat-sheet"],
    ["dags", "list"],
    ["dags", "list", "-o", "json"],
    ["dags", "list-import-errors"],
    ["dags", "show", "hello_mwaa"],
    ["tasks", "list", "hello_mwaa"],
    ["providers", "list"],
    ["providers", "secrets"],
    ["providers", "hooks"],
    ["providers", "links"],
    ["providers", "behaviours"],
    ["providers", "notifications"],
    ["providers", "widgets"],
    ["providers", "triggerer"],
]


@pytest.mark.parametrize("version", [pytest.param(v, marks=_marked(v)) for v in BY_VERSION])
def test_commands_after_the_idle_warm_up_equal_cold(executors_of, version):
    """A few idle seconds in, the fork-server loads the providers' classes and the modules
    the DAG files import (so that these commands skip seconds of imports); what they print
    stays what a cold process prints."""
    warm, _cold, _db, ahead = executors_of(version)
    status = Path(f"{warm.socket_path}.warm")
    deadline = time.monotonic() + 180
    while not status.is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status.read_text().strip() == "providers: loaded; dag imports: loaded"
    compared = [argv for argv in AFTER_WARM_UP if tuple(argv) in ahead]  # cold runs made
    assert len(compared) >= 12, compared  # up front: `dags show` differs on 2.x, etc.
    for argv in compared:
        w = warm.run(argv)
        c = ahead[tuple(argv)][1]  # the cold run made up front
        assert w.exit_code == c.exit_code, argv
        assert normalise(w.stdout) == normalise(c.stdout), argv
        assert normalise(w.stderr) == normalise(c.stderr), argv
