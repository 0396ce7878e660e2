"""Every translation rule whose target is the installed Airflow's major version, executed
against the real local Airflow: the old spelling, translated by `mwaa run`, must do exactly
what the new spelling does when run directly. Plus the automatic --yes, and `doctor` on an
environment that reports PRIVATE_ONLY (`--webserver-access-mode`).

Its own CLI-only environment (`--no-scheduler`), so that pausing, triggering, backfilling and
deleting sample DAGs does not disturb other tests.
"""

from __future__ import annotations

import json
import shlex

import pytest

from mwaa_cli.confirmations import needs_confirmation
from mwaa_cli.errors import ExitStatus
from mwaa_cli.translate import RULES

from .conftest import installed_airflow, start_local_env, stop
from .translation_cases import DAY, LIVE_110

MAJOR = int(installed_airflow().split(".")[0])
# Each rule's old spelling: the 1.10 ones, and 2.x spellings as a 3.x user might type them.
LIVE = {
    **LIVE_110,
    "dags backfill": "dags backfill daily_report -s 2025-02-01 -e 2025-02-02",
    "dags list-runs": "dags list-runs -d hello_mwaa",
    "dags trigger": "dags trigger hello_mwaa -e 2025-03-01T00:00:00+00:00",
}
RUN_HERE = [r for r in RULES if MAJOR in r.targets]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    local = start_local_env(
        tmp_path_factory.mktemp("translate"),
        "--no-scheduler",
        "--webserver-access-mode",
        "PRIVATE_ONLY",
    )
    try:  # stopped even when the set-up below fails
        assert local.mwaa("run", "--", "dags", "reserialize").returncode == 0
        # a run on DAY, for the commands that look one up
        trig = local.airflow("dags", "trigger", "hello_mwaa", "-l", f"{DAY}T00:00:00+00:00")
        assert trig.returncode == 0, trig.stderr
        yield local
    finally:
        stop(local)


def test_every_rule_for_this_version_has_a_live_case():
    assert {r.match for r in RUN_HERE} <= set(LIVE)


# Rules whose command cannot simply run twice (a second backfill of a DAG, a second run
# at the same logical date): their effect is checked instead of a direct re-run.
# (The 1.10 `backfill` case is a --dry-run: a DAG can have one backfill at a time.)
ONCE = {"dags backfill", "dags trigger"}


@pytest.mark.parametrize("rule", [r.match for r in RUN_HERE if r.match != "delete_dag"])
def test_rule_runs_on_real_airflow(env, rule):
    old = shlex.split(LIVE[rule])
    out = env.mwaa("run", "--yes", "--", *old)  # --yes: 1.10's clear is tasks clear
    assert out.returncode == 0, out.stderr
    note = out.stderr.decode()
    assert "translated Airflow" in note and f"'{rule}'" in note
    sent = shlex.split(note.split("sending: ", 1)[1].split("  (--no-translate", 1)[0])
    if needs_confirmation(sent, " ".join(sent[:2]), MAJOR):
        sent.append("--yes")
    if rule not in ONCE:
        # the translated command is the new syntax: it does the same when run directly
        direct = env.airflow(*sent)
        assert direct.returncode == 0, direct.stderr
        if rule in ("list_dags", "list_tasks", "show_dag", "next_execution", "variables"):
            assert direct.stdout == out.stdout
    # untranslated, the old spelling fails: refused before sending (65) or by Airflow
    refused = env.mwaa("run", "--no-translate", "--", *old)
    assert refused.returncode != 0


def test_translated_commands_really_happened(env):
    def runs(dag: str) -> list[dict]:
        listed = env.airflow("dags", "list-runs", dag, "-o", "json").stdout
        return json.loads(listed.splitlines()[-1])

    assert runs("etl_with_params")  # trigger_dag
    assert "2025-03-01" in json.dumps(runs("hello_mwaa"))  # dags trigger -e -> -l
    backfilled = json.dumps(runs("daily_report"))
    assert "2025-02-01" in backfilled and "2025-01-01" not in backfilled  # the dry run did not
    assert env.airflow("variables", "get", "translated_key").stdout == b"42\n"


def test_a_script_must_confirm_a_delete_with_yes(env):
    old = shlex.split(LIVE["delete_dag"])
    refused = env.mwaa("run", "--", *old)  # no terminal to ask on, no --yes
    assert refused.returncode == ExitStatus.USAGE, refused.stderr
    assert b"asks for confirmation" in refused.stderr and b"--yes" in refused.stderr
    assert b"delete DAG etl_with_params and all its records on local?" in refused.stderr
    assert "etl_with_params" in env.airflow("dags", "list", "-o", "json").stdout.decode()
    out = env.mwaa("run", "--yes", "--", *old)
    assert out.returncode == 0, out.stderr
    listed = env.airflow("dags", "list", "-o", "json").stdout.decode()
    assert "etl_with_params" not in listed


def test_tasks_clear_needs_yes_without_a_terminal_and_never_hangs(env):
    argv = ["tasks", "clear", "hello_mwaa", "-t", "say_hello"]
    refused = env.mwaa("run", "--", *argv)
    assert refused.returncode == ExitStatus.USAGE and b"--yes" in refused.stderr
    assert env.mwaa("run", "--", *argv, "--yes").returncode == 0  # Airflow's own flag
    assert env.mwaa("run", "--yes", "--", *argv).returncode == 0  # or mwaa's


def test_force_sends_what_the_client_would_refuse(env):
    out = env.mwaa("run", "--force", "--no-translate", "--", "list_dags")
    assert out.returncode == 65
    assert b"the web server refused the command" in out.stderr  # the server's own check


def test_doctor_explains_a_private_web_server(env):
    out = env.mwaa("doctor")
    text = out.stdout.decode()
    assert out.returncode == 0, text  # a warning, not a failure: it is reachable from here
    assert "! access mode  PRIVATE_ONLY" in text
    assert "socks5h://127.0.0.1:8157" in text and "bastion" in text.lower()
    assert "all checks passed (with warnings)" in text
