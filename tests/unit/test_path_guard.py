"""Path options of CLI commands stay inside the environment's DAGs folder."""

import os

import pytest

from mwaa_cli.commands import Allowlist
from mwaa_cli.errors import CommandNotAllowed
from mwaa_cli.local.path_guard import dags_folder_guard

V2 = Allowlist.for_version("2.10.3")


@pytest.fixture
def dags(tmp_path, monkeypatch):
    folder = tmp_path / "dags"
    (folder / "team").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (folder / "escape").symlink_to(tmp_path / "outside")
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.parametrize(
    "value", ["{dags}", "{dags}/team", "dags/team", "DAGS_FOLDER/team", "{dags}/team/../team"]
)
def test_paths_inside_the_dags_folder_pass(dags, value):
    check = dags_folder_guard(V2, dags)
    check("dags list", ["dags", "list", "-S", value.format(dags=dags)])


@pytest.mark.parametrize(
    "value", ["/tmp", "{dags}/..", "outside", "{dags}/escape", "~", "", "{dags}x"]
)
def test_paths_outside_it_are_refused(dags, value):
    check = dags_folder_guard(V2, dags)
    with pytest.raises(CommandNotAllowed, match="inside the DAGs folder"):
        check("dags list", ["dags", "list", "--subdir", value.format(dags=dags)])


def test_commands_without_path_options_pass(dags):
    dags_folder_guard(V2, dags)("variables get", ["variables", "get", "k"])
    assert os.getcwd()  # the guard resolves relative paths against the working directory
