import pytest

from mwaa_cli.commands import Allowlist
from mwaa_cli.errors import CommandNotAllowed

V3 = Allowlist.for_version("3.3.1")
V2 = Allowlist.for_version("2.10.3")


@pytest.mark.parametrize(
    "argv,entry",
    [
        (["dags", "list"], "dags list"),
        (["dags", "list", "-o", "json"], "dags list"),
        (["version"], "version"),
        (["backfill", "create", "--dag-id", "d"], "backfill create"),
        (["variables", "set", "k", "v"], "variables set"),
        (["dags", "show", "d", "--imgcat"], "dags show"),
    ],
)
def test_v3_allows(argv, entry):
    assert V3.command_of(argv) == entry


@pytest.mark.parametrize(
    "argv,reason",
    [
        ([], "empty"),
        (["users", "list"], "not a command"),
        (["db", "reset", "-y"], "not a command"),
        (["scheduler"], "not a command"),
        (["dags", "backfill", "d"], "not a command"),  # 2.x only
        (["DAGS", "list"], "not a command"),
        (["dags"], "needs a subcommand"),
        (["dags", "--help"], "needs a subcommand"),
        (["--verbose", "dags", "list"], "before the command"),
        (["dags", "show", "d", "--save", "x.png"], "--save"),
        (["dags", "show", "d", "--save=x.png"], "--save"),
        (["dags", "show", "d", "--sa", "x.png"], "--save"),
        (["dags", "show", "d", "-s", "x.png"], "-s"),
        (["dags", "show", "d", "-vs", "x.png"], "-s"),
        (["dags", "test", "d", "--save-dagrun", "x"], "--save-dagrun"),
        # runs any Python file on the host: every spelling argparse accepts
        (["dags", "test", "d", "-f", "/tmp/x.py"], "-f"),
        (["dags", "test", "d", "-f/tmp/x.py"], "-f"),
        (["dags", "test", "d", "-vf", "/tmp/x.py"], "-f"),
        (["dags", "test", "d", "--dagfile-path", "/tmp/x.py"], "--dagfile-path"),
        (["dags", "test", "d", "--dagfile-path=/tmp/x.py"], "--dagfile-path"),
        (["dags", "test", "d", "--dagf", "/tmp/x.py"], "--dagfile-path"),
        (["dags", "test", "d", "--dag", "/tmp/x.py"], "--dagfile-path"),
    ],
)
def test_v3_refuses(argv, reason):
    with pytest.raises(CommandNotAllowed, match=reason):
        V3.command_of(argv)


def test_flags_after_double_dash_are_arguments():
    assert V3.command_of(["dags", "show", "d", "--", "--save"]) == "dags show"


def test_v2_respects_minimum_versions():
    assert V2.command_of(["dags", "backfill", "d"]) == "dags backfill"
    assert V2.command_of(["tasks", "run", "d", "t", "2025-01-01"]) == "tasks run"
    old = Allowlist.for_version("2.2.2")
    with pytest.raises(CommandNotAllowed):
        old.command_of(["dags", "reserialize"])  # 2.4+
    assert Allowlist.for_version("2.4.3").command_of(["dags", "reserialize"])


def test_v1_uses_old_spellings():
    v1 = Allowlist.for_version("1.10.12")
    assert v1.command_of(["list_dags"]) == "list_dags"
    with pytest.raises(CommandNotAllowed):
        v1.command_of(["dags", "list"])


def test_v2_refuses_a_config_file_for_tasks_run():
    with pytest.raises(CommandNotAllowed, match="--cfg-path"):
        V2.command_of(["tasks", "run", "d", "t", "2025-01-01", "--cfg-path", "/etc/passwd"])


@pytest.mark.parametrize(
    "argv,values",
    [
        (["dags", "list", "-S", "/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "-S/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "-vS", "/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "--subdir", "/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "--subdir=/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "--sub", "/tmp/x"], ["/tmp/x"]),
        (["dags", "list", "-S"], [""]),
        (["dags", "list", "-o", "json"], []),
        (["dags", "list", "--", "-S", "x"], []),
        (["tasks", "test", "d", "t", "-S", "a", "--subdir", "b"], ["a", "b"]),
    ],
)
def test_subdir_values_are_found_in_every_spelling(argv, values):
    key = " ".join(argv[:2])
    assert V2.dags_folder_paths(key, argv) == values


def test_the_flag_review_is_recorded_in_the_data():
    from mwaa_cli.commands import _data

    review = _data()["flag_review"]
    assert "dags test -f/--dagfile-path FILE" in review["refused"]
    assert "-S/--subdir PATH" in review["dags_folder_only"]
