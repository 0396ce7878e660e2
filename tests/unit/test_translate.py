"""Every translation rule, its did-you-mean, and the automatic --yes."""

from __future__ import annotations

import shlex

import pytest

from mwaa_cli.commands import Allowlist
from mwaa_cli.confirmations import add_yes
from mwaa_cli.errors import CommandNotAllowed
from mwaa_cli.translate import RULES, translate

CASES = [
    (rule.match, major, rule.example[0], out)
    for rule in RULES
    for major, out in rule.example[1].items()
]


@pytest.mark.parametrize(("rule", "major", "given", "expected"), CASES, ids=lambda v: str(v))
def test_rule(rule, major, given, expected):
    argv, note = translate(shlex.split(given), major)
    assert argv == shlex.split(expected)
    if argv != shlex.split(given):
        assert note and rule in note and "--no-translate" in note
    # the result is something the target version accepts
    Allowlist.for_version(f"{major}.10").command_of(argv)


@pytest.mark.parametrize(
    ("given", "major", "expected"),
    [
        ("variables -g K", 3, "variables get K"),
        ("variables -x K", 2, "variables delete K"),
        ("variables", 3, "variables list"),
        ("variables get K", 3, "variables get K"),  # already new: untouched
        ("trigger_dag D --run_id r1 --exec_date 2025-01-01", 3, "dags trigger D --run-id r1 --logical-date 2025-01-01"),
        ("dags trigger D -l 2025-01-01", 2, "dags trigger D -e 2025-01-01"),
        ("dags list-runs D --state success", 2, "dags list-runs -d D --state success"),
        ("dags list-runs --dag-id=D", 3, "dags list-runs D"),
        ("dags backfill -c {} D -s 2025-01-01", 3, "backfill create --dag-id D --dag-run-conf {} --from-date 2025-01-01"),
        ("dags list -o json", 3, "dags list -o json"),
        ("version", 2, "version"),
    ],
)  # fmt: skip
def test_more_spellings(given, major, expected):
    assert translate(shlex.split(given), major)[0] == shlex.split(expected)


def test_nothing_changes_without_a_rule():
    argv = ["dags", "list", "-o", "json"]
    assert translate(argv, 3) == (argv, None)


@pytest.mark.parametrize(
    ("argv", "version", "hint"),
    [
        ("list_dags", "3.3.1", "'dags list'"),
        ("dags lst", "3.3.1", "'dags list'"),
        ("dag list", "2.10.3", "'dags list'"),
        ("dags backfill D -s 2025-01-01", "3.0.6", "'backfill create --dag-id D --from-date 2025-01-01'"),
        ("backfill create --dag-id D", "2.10.3", "'dags backfill D'"),
        ("variables -s k v", "3.3.1", "'variables set k v'"),
    ],
)  # fmt: skip
def test_did_you_mean(argv, version, hint):
    with pytest.raises(CommandNotAllowed, match="did you mean") as info:
        Allowlist.for_version(version).command_of(shlex.split(argv))
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("argv", "command", "major", "added"),
    [
        ("tasks clear D", "tasks clear", 3, True),
        ("dags delete D", "dags delete", 3, True),
        ("db clean --clean-before-timestamp 2025-01-01", "db clean", 2, True),
        ("dags delete D -y", "dags delete", 3, False),
        ("dags pause D", "dags pause", 3, False),
        ("dags pause ^etl --treat-dag-id-as-regex", "dags pause", 3, True),
        ("dags backfill D -s 2025-01-01 --reset-dagruns", "dags backfill", 2, True),
        ("dags list", "dags list", 3, False),
    ],
)
def test_add_yes(argv, command, major, added):
    new, note = add_yes(shlex.split(argv), command, major)
    assert (new[-1] == "--yes") == added
    assert (note is not None) == added


def test_overrides_allow_and_deny():
    base = Allowlist.for_version("3.3.1")
    custom = base.with_overrides(allow=["users list"], deny=["db clean"])
    assert custom.command_of(["users", "list"]) == "users list"
    with pytest.raises(CommandNotAllowed):
        custom.command_of(["db", "clean"])
    assert custom.major == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ("users list", "'users' is not a command MWAA accepts"),  # nothing close: no noise
        ("dags", "'dags' needs a subcommand; did you mean 'dags list'?"),
        ("verison", "'verison' is not a command MWAA accepts; did you mean 'version'?"),
        ("tasks lst", "'tasks lst' is not a command MWAA accepts; did you mean 'tasks list'?"),
    ],
)
def test_suggestions_are_few_and_close(argv, message):
    with pytest.raises(CommandNotAllowed) as info:
        Allowlist.for_version("3.3.1").command_of(shlex.split(argv))
    assert str(info.value) == message
