"""Client.prepare: translation, the allowlist check, --yes - and what happens when IAM lets a
caller create CLI tokens but not read the environment (only real AWS does that, so the
GetEnvironment refusal is simulated here)."""

from __future__ import annotations

import pytest

from mwaa_cli import Client
from mwaa_cli.errors import AuthError, CommandNotAllowed


class DeniedGetEnvironment(Client):
    def get_environment(self, name=None):
        raise AuthError("GetEnvironment refused (AccessDeniedException): not authorized")


def test_prepare_with_a_known_version():
    client = Client("prod", airflow_version="2.10.3", cache_tokens=False)
    prepared = client.prepare(["backfill", "create", "--dag-id", "d", "--from-date", "2025-01-01"])
    assert prepared.argv == ("dags", "backfill", "d", "-s", "2025-01-01")
    assert "Airflow 2" in prepared.notes[0]
    clear = client.prepare(["tasks", "clear", "d", "-t", "extract"])
    assert "--yes" not in clear.argv  # asked first, not added behind the user's back
    assert clear.confirm == (
        "clear the task instances of DAG d matching 'extract' on prod (they run again)?"
    )
    assert clear.confirmed().argv[-1] == "--yes" and clear.confirmed().confirm is None
    assert client.prepare(["tasks", "clear", "d", "-y"]).confirm is None  # already confirmed
    with pytest.raises(CommandNotAllowed, match="--force"):
        client.prepare(["users", "list"])
    assert client.prepare(["users", "list"], force=True).argv == ("users", "list")
    assert client.prepare(["list_dags"], translate=False, force=True).argv == ("list_dags",)


def test_overrides_from_settings():
    client = Client("prod", airflow_version="3.0.6", allow=["users list"], deny=["db clean"])
    assert client.prepare(["users", "list"]).argv == ("users", "list")
    with pytest.raises(CommandNotAllowed):
        client.prepare(["db", "clean"])


def test_unknown_version_sends_as_typed_and_says_why(monkeypatch, tmp_path):
    client = DeniedGetEnvironment("prod", cache_tokens=False)
    prepared = client.prepare(["list_dags"])
    assert prepared.argv == ("list_dags",)
    assert "not checked or translated" in prepared.notes[0]
    assert "--airflow-version" in prepared.notes[0]


def test_a_bad_airflow_version_is_a_config_error():
    from mwaa_cli.errors import ConfigError

    with pytest.raises(ConfigError, match=r"such as 2\.10\.3"):
        Client("prod", airflow_version="banana")
    assert Client("prod", airflow_version="2.10.3").airflow_version() == "2.10.3"


@pytest.mark.parametrize("name", ["bad name!", "1starts-with-digit", "x" * 81, "a;rm -rf"])
def test_an_invalid_environment_name_is_refused_before_any_call(name):
    from mwaa_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid environment name"):
        Client(name)


@pytest.mark.parametrize(
    ("argv", "version", "question"),
    [
        (
            ["dags", "delete", "daily_report"],
            "3.3.1",
            "delete DAG daily_report and all its records on prod?",
        ),
        (
            ["db", "clean", "--clean-before-timestamp", "2025-01-01"],
            "3.3.1",
            "delete metadata older than 2025-01-01 from the database of prod?",
        ),
        (
            ["dags", "pause", "--treat-dag-id-as-regex", "^etl"],
            "3.3.1",
            "pause every DAG whose id matches '^etl' on prod?",
        ),
        (["dags", "pause", "etl"], "3.3.1", None),  # no regex: Airflow does not ask
        (
            ["dags", "backfill", "d", "-s", "2025-01-01", "--reset-dagruns"],
            "2.10.3",
            "reset existing runs of DAG d while backfilling on prod?",
        ),
    ],
)
def test_commands_airflow_confirms_come_with_a_question(argv, version, question):
    client = Client("prod", airflow_version=version, cache_tokens=False)
    assert client.prepare(argv).confirm == question
