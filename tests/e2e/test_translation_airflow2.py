"""Every translation rule whose target is Airflow 2, run on a real Airflow 2.10.3 CLI
(the 2.10.3 runtime, installed by scripts/test.sh) with a SQLite metadata DB: the translated
command must be accepted by the 2.x allowlist and succeed. These run the Airflow 2 CLI
directly, without a server.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from mwaa_cli.commands import Allowlist
from mwaa_cli.confirmations import add_yes
from mwaa_cli.translate import RULES, translate

from .conftest import AIRFLOW2, require_runtime
from .translation_cases import DAY, LIVE_110

DAGS = Path(__file__).with_name("airflow2_dags")
# Each rule's old spelling: the 1.10 ones, and 3.x spellings as a 2.x user might type them.
LIVE = {
    **LIVE_110,
    "run": f"run hello_mwaa say_hello {DAY}",
    "backfill create": "backfill create --dag-id daily_report --from-date 2025-02-01 --to-date 2025-02-02",
    "dags list-runs": "dags list-runs hello_mwaa",
    "dags trigger": "dags trigger hello_mwaa -l 2025-03-01T00:00:00+00:00",
}
ORDER = [r.match for r in RULES if 2 in r.targets]
ORDER.remove("delete_dag")
ORDER.append("delete_dag")  # last: it removes a DAG


@pytest.fixture(scope="module")
def airflow2(tmp_path_factory):
    airflow = require_runtime(AIRFLOW2).airflow
    home = tmp_path_factory.mktemp("airflow2")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PATH": f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}",  # tasks run
    }

    def run(*argv: str, extra: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(airflow), *argv],
            env={**env, **(extra or {})},
            capture_output=True,
            timeout=300,
            cwd=home,
        )

    for setup in (["db", "migrate"], ["dags", "reserialize"]):
        done = run(*setup)
        assert done.returncode == 0, done.stderr
    trig = run("dags", "trigger", "hello_mwaa", "-e", f"{DAY}T00:00:00+00:00")
    assert trig.returncode == 0, trig.stderr
    # what three of the exit-code cases below need (once, not before each case)
    assert run("variables", "set", "infer_not_json", "plain text").returncode == 0
    assert run("connections", "add", "infer_dup", "--conn-uri", "http://a").returncode == 0
    return run


def test_every_airflow2_rule_has_a_live_case():
    assert set(ORDER) <= set(LIVE)


# the Airflow 2 matrix runs a cold 2.10.3 CLI per case: `make test-slow` (the rule and the
# exit-code rule run on Airflow 3 in make test: test_translation_live.py, test_flow.py)
SLOW = pytest.mark.slow


@SLOW
def test_airflow2_is_the_version_we_think(airflow2):
    assert airflow2("version").stdout.strip() == b"2.10.3"


@SLOW
@pytest.mark.parametrize("rule", ORDER)
def test_rule_runs_on_real_airflow2(airflow2, rule):
    argv, note = translate(shlex.split(LIVE[rule]), 2)
    assert note and f"'{rule}'" in note
    command = Allowlist.for_version("2.10.3").command_of(argv)  # accepted before sending
    argv, _ = add_yes(argv, command, 2)
    done = airflow2(*argv)
    assert done.returncode == 0, (argv, done.stderr[-2000:])


@SLOW
def test_translated_commands_really_happened(airflow2):
    def runs(dag: str) -> str:
        out = airflow2("dags", "list-runs", "-d", dag, "-o", "json").stdout
        return out.decode()

    assert "2025-03-01" in runs("hello_mwaa")  # dags trigger -l -> -e
    assert "2025-02-01" in runs("daily_report")  # backfill create -> dags backfill
    assert airflow2("variables", "get", "translated_key").stdout == b"42\n"
    assert "manual__" not in runs("etl_with_params")  # delete_dag (+ --yes) removed its run


# Failing and succeeding Airflow 2 commands: MWAA 2.x sends their stdout and stderr without an
# exit code, so the client's rule must recover it from what real Airflow 2 writes.
INFER2 = [
    "version",
    "dags list -o json",
    "variables get no_such_variable",
    "dags state no_such_dag 2025-01-01",
    "dags list --bogus-flag",
    "dags lst",
    "tasks list no_such_dag",
    "dags next-execution no_such_dag",
    "dags trigger no_such_dag",
    "connections delete no_such_connection",
    "dags show no_such_dag",
    "tasks test hello_mwaa no_such_task 2025-01-01",
    "dags delete no_such_dag --yes",
    "providers get no.such.provider",
    "db clean --clean-before-timestamp notadate --yes",
    "dags list-runs -d hello_mwaa",
    "tasks states-for-dag-run hello_mwaa no_such_run",
    # the three the rule used to miss (set-up in the test)
    "variables get infer_not_json -j",
    "connections add infer_dup --conn-uri http://a",
    "connections add infer_no_uri",
]


@SLOW
@pytest.mark.parametrize("command", INFER2)
def test_exit_code_rule_on_real_airflow2_output(airflow2, command):
    from mwaa_cli.cli.present import filter_noise
    from mwaa_cli.exit_codes import infer_exit_code

    done = airflow2(*shlex.split(command))
    inferred = infer_exit_code(done.stderr, stdout=done.stdout)
    assert inferred == min(done.returncode, 2), done.stderr[-1500:]
    if done.returncode == 0:  # Airflow 2's own warnings are noise the filter removes
        assert b"Warning: " not in filter_noise(done.stderr)


@SLOW
def test_exit_code_rule_with_a_plugin_that_fails_to_import_on_airflow2(airflow2, tmp_path):
    """Airflow 2 logs a broken plugin's traceback too (classic layout): never a failure."""
    from mwaa_cli.exit_codes import infer_exit_code

    (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
    extra = {"AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path)}
    seen_traceback = False
    for argv, real in (
        (["dags", "trigger", "hello_mwaa"], 0),  # loads plugins; logs the failure to stdout
        (["tasks", "list", "hello_mwaa"], 0),
        (["variables", "get", "no_such_variable"], 1),
    ):
        done = airflow2(*argv, extra=extra)
        assert done.returncode == real, (argv, done.stderr[-800:])
        seen_traceback |= b"Failed to import plugin" in done.stderr + done.stdout
        for mode in ("default", "strict"):
            assert infer_exit_code(done.stderr, mode, done.stdout) == real, (argv, mode)
    assert seen_traceback  # Airflow 2 really logged it
