"""Secrets never reach the audit log or the shell history: what is masked and what is kept."""

import pytest

from mwaa_cli.masking import mask_argv, mask_line, mask_uri


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["variables", "set", "api_key", "s3cr3t"], ["variables", "set", "api_key", "***"]),
        (
            ["variables", "set", "--description", "the key", "api_key", "s3cr3t"],
            ["variables", "set", "--description", "the key", "api_key", "***"],
        ),
        (
            ["variables", "set", "cfg", '{"a": 1}', "--serialize-json"],
            ["variables", "set", "cfg", "***", "--serialize-json"],
        ),
        (
            ["connections", "add", "db", "--conn-uri", "postgres://admin:PASSWORD@db:5432/x"],
            ["connections", "add", "db", "--conn-uri", "postgres://admin:***@db:5432/x"],
        ),
        (
            ["connections", "add", "db", "--conn-uri=postgres://admin:PASSWORD@db/x"],
            ["connections", "add", "db", "--conn-uri=postgres://admin:***@db/x"],
        ),
        (  # an unambiguous abbreviation is the same option to argparse
            ["connections", "add", "db", "--conn-pass", "PASSWORD", "--conn-login", "bob"],
            ["connections", "add", "db", "--conn-pass", "***", "--conn-login", "bob"],
        ),
        (
            ["connections", "add", "db", "--conn-extra", '{"token": "T"}'],
            ["connections", "add", "db", "--conn-extra", "***"],
        ),
        (
            ["connections", "add", "db", "--conn-json", '{"conn_type": "http", "password": "P"}'],
            ["connections", "add", "db", "--conn-json", '{"conn_type": "http", "password": "***"}'],
        ),
        (
            ["connections", "add", "api", "--conn-uri", "https://h/x?api_key=K&region=eu"],
            ["connections", "add", "api", "--conn-uri", "https://h/x?api_key=***&region=eu"],
        ),
        (["variables", "get", "api_key"], ["variables", "get", "api_key"]),
        (
            ["dags", "trigger", "d", "-c", '{"password": "x"}'],
            ["dags", "trigger", "d", "-c", '{"password": "x"}'],
        ),
    ],
)
def test_secret_values_are_masked_and_the_rest_kept(argv, expected):
    assert mask_argv(argv) == expected


def test_a_uri_without_a_password_is_unchanged():
    assert mask_uri("postgres://admin@db:5432/x") == "postgres://admin@db:5432/x"
    assert mask_uri("aws://") == "aws://"


def test_a_typed_line_is_masked_or_kept_as_typed():
    assert mask_line("variables set token 'a b c'") == "variables set token '***'"
    assert mask_line("dags list -o plain") == "dags list -o plain"
    assert mask_line("variables set 'unbalanced") == "variables set 'unbalanced"
