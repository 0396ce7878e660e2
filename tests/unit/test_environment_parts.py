"""The parts of a user's environment, each on its own: MWAA's rules for requirements,
plugins, startup scripts, configuration options, the env file and version moves."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mwaa_cli.errors import ConfigError
from mwaa_cli.local.airflow import config_options, plugins, requirements, startup
from mwaa_cli.local.airflow.runtime import Runtime
from mwaa_cli.local.airflow.versions import VERSIONS, lookup, upgrade_problem
from mwaa_cli.local.definition import FILE_NAME, find, load

# -- versions --------------------------------------------------------------------------------


def test_every_offered_version_has_committed_pins_with_airflow_itself():
    for version, meta in VERSIONS.items():
        pins = meta.pins.read_text()
        # Airflow's own constraints leave Airflow out (the runtime installs it by name)
        if meta.pins_source != "constraints":
            assert f"apache-airflow=={version}" in pins.splitlines(), version
        assert "apache-airflow-providers-amazon==" in pins, version


def test_an_unknown_version_lists_the_offered_ones():
    with pytest.raises(ConfigError, match=r"choose one of 3\.3\.1, 3\.2\.1, .*2\.9\.2"):
        lookup("2.0.2")


@pytest.mark.parametrize(
    "old,new,refused",
    [
        ("2.10.1", "2.10.3", None),  # minor upgrade in place
        ("2.10.3", "2.11.2", None),
        ("2.11.2", "3.0.6", None),  # to 3.x from the latest 2.11: MWAA's rule
        ("3.0.6", "3.3.1", None),
        ("2.10.3", "3.3.1", "only from 2.11.2"),
        ("3.3.1", "3.2.1", "is a downgrade"),
        ("2.10.3", "2.9.2", "is a downgrade"),
    ],
)
def test_version_moves_follow_mwaa(old, new, refused):
    problem = upgrade_problem(old, new)
    if refused is None:
        assert problem is None
    else:
        assert refused in problem and "--airflow-version" in problem


# -- requirements ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,has",
    [
        ("boto3\n", False),
        ("-c https://example.com/c.txt\nboto3\n", True),
        ("--constraint c.txt\n", True),
        ("# -c commented out: MWAA's documented opt-out\nboto3\n", True),
        ("pkg-c==1\n", False),
    ],
)
def test_constraint_line_detection_is_mwaa_s(text, has):
    assert requirements.has_constraints(text) is has


def test_airflow_s_published_constraints_url_is_read_from_the_committed_pins():
    runtime = Runtime(lookup("2.10.3"), Path("/nowhere"))
    url = "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
    assert (
        requirements.localized(f"-c {url}\nboto3\n", runtime)
        == f"-c {lookup('2.10.3').pins}\nboto3\n"
    )
    other = url.replace("2.10.3", "2.8.1")
    assert requirements.localized(f"-c {other}\n", runtime) == f"-c {other}\n"  # kept


def test_essential_constraints_keep_airflow_and_its_core_packages():
    runtime = Runtime(lookup("3.3.1"), Path("/nowhere"))
    lines = requirements.essential_constraints(runtime).splitlines()
    assert lines[0] == "apache-airflow==3.3.1"
    names = {line.split("==")[0].lower() for line in lines}
    assert {"sqlalchemy", "pydantic", "fastapi"} <= names


# -- plugins ---------------------------------------------------------------------------------


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_plugins_zip_is_unpacked_and_replaces_what_was_there(tmp_path):
    target = tmp_path / "plugins"
    target.mkdir()
    (target / "stale.py").write_text("old")
    source = _zip(tmp_path / "p.zip", {"my_op.py": "x = 1", "helpers/__init__.py": ""})
    assert plugins.sync(source, target) == []
    assert sorted(p.name for p in target.iterdir()) == ["helpers", "my_op.py"]


def test_a_top_level_plugins_folder_in_the_zip_is_warned_about(tmp_path):
    source = _zip(tmp_path / "p.zip", {"plugins/my_op.py": "x = 1"})
    (warning,) = plugins.sync(source, tmp_path / "out")
    assert "top-level plugins/ folder" in warning and "zip -r" in warning


def test_a_zip_entry_outside_the_folder_is_refused(tmp_path):
    source = _zip(tmp_path / "p.zip", {"../../evil.py": "x"})
    with pytest.raises(plugins.PluginsError, match="outside plugins/"):
        plugins.sync(source, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_plugins_from_a_folder(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "op.py").write_text("y = 2")
    plugins.sync(source, tmp_path / "out")
    assert (tmp_path / "out" / "op.py").read_text() == "y = 2"


# -- startup script --------------------------------------------------------------------------


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "startup.sh"
    path.write_text(text)
    return path


def test_exports_are_kept_even_when_the_script_exits(tmp_path):
    script = _script(
        tmp_path, 'export A="one two"\nexport C=$MWAA_AIRFLOW_COMPONENT\nexit 4\nexport B=never\n'
    )
    result = startup.run(script, "scheduler", {"PATH": "/usr/bin:/bin"}, tmp_path / "log")
    assert result.exit_code == 4 and not result.ok
    assert result.exports == {"A": "one two", "C": "scheduler"}
    assert "exited 4" in result.describe()


def test_reserved_variables_are_restored_and_reported(tmp_path):
    script = _script(
        tmp_path, "export AIRFLOW_HOME=/elsewhere\nexport PYTHONPATH=/x\nexport MINE=1\n"
    )
    base = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": "/home/airflow"}
    result = startup.run(script, "webserver", base, tmp_path / "log")
    assert result.ok and result.exports == {"MINE": "1"}
    assert result.restored == ["AIRFLOW_HOME", "PYTHONPATH"]


def test_output_goes_to_the_log_and_the_time_limit_applies(tmp_path):
    script = _script(tmp_path, "echo hello from startup\nsleep 30\n")
    result = startup.run(script, "worker", {"PATH": "/usr/bin:/bin"}, tmp_path / "log", timeout=1)
    assert result.timed_out and "limit" in result.describe()
    log = (tmp_path / "log").read_text()
    assert "hello from startup" in log and "(timed out)" in log


def test_nothing_reaches_a_shell_but_the_script_itself(tmp_path):
    """The script's path is passed as a variable, never spliced into the command line."""
    odd = tmp_path / "my $(touch pwned) ; script.sh"
    odd.write_text("export OK=1\n")
    result = startup.run(odd, "webserver", {"PATH": "/usr/bin:/bin"}, tmp_path / "log")
    assert result.exports == {"OK": "1"}
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


# -- configuration options -------------------------------------------------------------------


def test_options_become_airflow_variables():
    env = config_options.to_environ({"core.default_timezone": "utc", "my_section.some_key": "v"})
    assert env == {"AIRFLOW__CORE__DEFAULT_TIMEZONE": "utc", "AIRFLOW__MY_SECTION__SOME_KEY": "v"}


@pytest.mark.parametrize(
    "options,message",
    [
        ({"core.executor": "x"}, "set by MWAA itself"),
        ({"database.sql_alchemy_conn": "x"}, "set by MWAA itself"),
        ({"Core.Timezone": "x"}, "lower case"),
        ({"nosection": "x"}, "lower case"),
        ({"core.x": "tab\there"}, "printable ASCII"),
    ],
)
def test_options_mwaa_refuses_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        config_options.to_environ(options)


def test_options_from_a_file_json_or_lines(tmp_path):
    (tmp_path / "o.json").write_text(json.dumps({"core.default_timezone": "utc"}))
    (tmp_path / "o.txt").write_text("# comment\ncore.x=1\n\nwebserver.y = 2\n")
    parsed = config_options.parse([f"@{tmp_path / 'o.json'}", f"@{tmp_path / 'o.txt'}", "core.x=3"])
    assert parsed == {"core.default_timezone": "utc", "core.x": "3", "webserver.y": "2"}
    with pytest.raises(ConfigError, match=r"(?i)no such file"):
        config_options.parse([f"@{tmp_path / 'missing.json'}"])


# -- the env file ----------------------------------------------------------------------------


def test_env_file_paths_are_relative_to_it_and_found_beside_the_dags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    (project / "requirements.txt").write_text("boto3\n")
    (project / FILE_NAME).write_text(
        'airflow_version = "2.10.3"\nrequirements = "requirements.txt"\n'
        '[airflow_configuration_options]\n"core.default_timezone" = "utc"\n'
    )
    found = find(None, project / "dags")
    assert found == project / FILE_NAME
    definition = load(found)
    assert definition.airflow_version == "2.10.3"
    assert definition.requirements == (project / "requirements.txt").resolve()
    assert definition.airflow_configuration_options == {"core.default_timezone": "utc"}


@pytest.mark.parametrize(
    "text,message",
    [
        ('airflow_versoin = "2.10.3"\n', "unknown keys"),
        ('requirements = "missing.txt"\n', "does not exist"),
        ("airflow_version = \n", "Invalid value"),
    ],
)
def test_env_file_mistakes_are_clear(tmp_path, text, message):
    path = tmp_path / FILE_NAME
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_a_failed_install_is_summed_up_by_uvs_own_reason():
    from mwaa_cli.local.airflow.requirements import failure_cause

    piped = (
        "Using Python 3.11.7 environment at: venv\n"
        "error: No solution found when resolving dependencies\n"
        "  cause: Because pyfiglet==99 was not found in the package registry and you require "
        "pyfiglet==99, we can conclude that your requirements are unsatisfiable.\n"
    )
    assert failure_cause(piped) == (
        "No solution found when resolving dependencies: Because pyfiglet==99 was not found in "
        "the package registry and you require pyfiglet==99, we can conclude that your "
        "requirements are unsatisfiable."
    )
    terminal = (
        "  \u00d7 No solution found when resolving dependencies:\n  ╰─▶ Because x==1 fails.\n"
    )
    assert (
        failure_cause(terminal)
        == "No solution found when resolving dependencies: Because x==1 fails."
    )
    assert (
        failure_cause("error: Failed to build `broken==1.0`\n") == "Failed to build `broken==1.0`"
    )
    assert failure_cause("") == "no output"
