"""Precedence of settings: flag > the chosen environment's table > environment variable >
default, one test per row of the README's table."""

from __future__ import annotations

import pytest

from mwaa_cli.errors import ConfigError
from mwaa_cli.settings import config_path, load_file, resolve

FILE = {
    "default_env": "dev",
    "envs": {
        "dev": {
            "name": "analytics-dev",
            "region": "eu-west-1",
            "profile": "dev-sso",
            "endpoint_url": "https://dev.example",
            "airflow_version": "2.10.3",
            "proxy": "socks5h://127.0.0.1:8157",
            "allow": ["dags test"],
            "deny": ["db clean"],
        },
        "prod": {"region": "us-west-2"},
    },
}
# setting: (flag value, environment variable, its value, file value, default)
ROWS = {
    "region": ("ap-south-1", "AWS_REGION", "sa-east-1", "eu-west-1", None),
    "profile": ("flag-p", "AWS_PROFILE", "env-p", "dev-sso", None),
    "endpoint_url": ("https://flag", "AWS_ENDPOINT_URL_MWAA", "https://env", "https://dev.example", None),
    "airflow_version": ("3.0.6", "MWAA_AIRFLOW_VERSION", "2.11.2", "2.10.3", None),
    "proxy": ("http://flag:3128", "HTTPS_PROXY", "http://env:3128", "socks5h://127.0.0.1:8157", None),
}  # fmt: skip


@pytest.mark.parametrize("setting", ROWS)
@pytest.mark.parametrize("level", ["flag", "file", "env", "default"])
def test_precedence_row(setting, level):
    flag, var, env_value, file_value, default = ROWS[setting]
    flags = {setting: flag} if level == "flag" else {}
    environ = {var: env_value} if level in ("flag", "file", "env") else {}
    file = FILE if level in ("flag", "file") else {}
    got = resolve(flags, environ, file)
    expected = {"flag": flag, "env": env_value, "file": file_value, "default": default}[level]
    assert getattr(got, setting) == expected
    if level != "default":
        assert got.sources[setting].split()[0] == level


@pytest.mark.parametrize(
    ("flags", "environ", "file", "name", "source"),
    [
        ({"env": "prod"}, {"MWAA_ENV": "dev"}, FILE, "prod", "flag"),  # flag
        ({}, {"MWAA_ENV": "prod"}, FILE, "prod", "env MWAA_ENV"),  # env var
        ({}, {}, FILE, "analytics-dev", "file default_env"),  # file (alias -> MWAA name)
        ({}, {}, {}, None, None),  # default: the only environment in the region
    ],
)
def test_precedence_of_the_environment(flags, environ, file, name, source):
    got = resolve(flags, environ, file)
    assert got.name == name
    assert got.sources.get("env") == source


def test_a_name_not_in_the_file_is_an_mwaa_name():
    got = resolve({"env": "other"}, {}, FILE)
    assert (got.name, got.alias, got.region) == ("other", None, None)


def test_the_chosen_table_beats_generic_variables_and_flags_beat_it():
    environ = {
        "AWS_PROFILE": "mine",
        "AWS_REGION": "sa-east-1",
        "AWS_ENDPOINT_URL_MWAA": "https://local",
    }
    got = resolve({"env": "dev", "region": "us-east-2"}, environ, FILE)
    assert (got.name, got.alias) == ("analytics-dev", "dev")
    assert (got.region, got.profile, got.endpoint_url) == (
        "us-east-2",  # the flag
        "dev-sso",  # the table, not AWS_PROFILE
        "https://dev.example",  # the table, not a sourced env.sh's endpoint
    )
    assert (got.allow, got.deny) == (("dags test",), ("db clean",))
    prod = resolve({"env": "prod"}, environ, FILE)  # a table with a region only
    assert (prod.region, prod.profile) == ("us-west-2", "mine")  # the rest from the variables


def test_a_local_environments_profile_does_not_leak_into_a_real_environment(tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "[profile work]\nregion = eu-west-1\n\n"
        "[profile mwaa-local]\n# mwaa-cli local environment 'local' (mwaa local serve)\n"
        "region = us-east-1\n"
    )
    environ = {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "mwaa-local"}
    prod = resolve({"env": "prod"}, environ, FILE)  # region only: means real AWS
    assert prod.profile is None and prod.ignore_env_profile
    local = resolve({}, dict(environ, MWAA_ENV="local"), FILE)  # not a table: the shell's
    assert local.profile == "mwaa-local" and not local.ignore_env_profile
    work = resolve({"env": "prod"}, dict(environ, AWS_PROFILE="work"), FILE)
    assert work.profile == "work" and not work.ignore_env_profile  # a real profile applies


def test_config_path_follows_its_variable(tmp_path):
    assert config_path({"MWAA_CLI_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert config_path({}).name == "config.toml"


def test_file_errors_are_clear(tmp_path):
    path = tmp_path / "config.toml"
    assert load_file(path) == {}
    path.write_text("[envs.dev\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_file(path)
    path.write_text('[envs.dev]\nregoin = "x"\n')
    with pytest.raises(ConfigError, match="unknown keys"):
        load_file(path)
    path.write_text('[envs.dev]\nallow = "dags test"\n')
    with pytest.raises(ConfigError, match="list of commands"):
        load_file(path)
    path.write_text('default_env = "dev"\n[envs.dev]\nregion = "eu-west-1"\n')
    assert load_file(path)["envs"]["dev"]["region"] == "eu-west-1"
