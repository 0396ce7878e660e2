"""The CLI layer in-process: argument handling and error mapping without a server."""

from mwaa_cli.cli import main
from mwaa_cli.errors import ExitStatus


def test_run_needs_a_command(capsys):
    assert main(["run"]) == ExitStatus.USAGE
    assert "Missing argument" in capsys.readouterr().err


def test_unreachable_endpoint_is_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    code = main(
        [
            "run",
            "--env",
            "e",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--",
            "dags",
            "list",
        ]
    )
    err = capsys.readouterr().err
    assert code == ExitStatus.UNREACHABLE
    # a loopback endpoint: a local environment that is not running, and how to start it
    assert err.startswith("mwaa: error: no local environment answers at http://127.0.0.1:9")
    assert "mwaa local serve" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_missing_region_is_config_error(capsys, monkeypatch):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_MWAA", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["run", "--env", "e", "--", "version"]) == ExitStatus.CONFIG
    assert "no AWS region" in capsys.readouterr().err


def test_unknown_profile_is_config_error(capsys, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["run", "--profile", "nope", "--env", "e", "--", "version"]) == ExitStatus.CONFIG
    assert "nope" in capsys.readouterr().err


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("run", "envs", "local"):
        assert word in out
