"""`mwaa` features against the shared real local environment: JSON envelopes, --dry-run,
several environments at once, the config file, doctor, shell completion and proxies."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from mwaa_cli.errors import ExitStatus

from .conftest import BIN, installed_airflow
from .proxies import connect_proxy, socks5_proxy

VERSION = installed_airflow()


def test_json_envelope(local_env):
    out = local_env.mwaa("run", "--json", "--", "variables", "get", "no_such_var")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["environment"] == "local" and doc["command"] == ["variables", "get", "no_such_var"]
    assert doc["exit_code"] == 1 and doc["exit_code_reported"] is True
    assert doc["stdout"] == "" and "does not exist" in doc["stderr"]
    assert isinstance(doc["duration_ms"], int)


def test_dry_run_prints_the_request_and_runs_nothing(local_env):
    out = local_env.mwaa("run", "--dry-run", "--", "variables", "set", "dry", "x y")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0] == f"POST https://127.0.0.1:{local_env.port}/aws_mwaa/cli"
    assert "Authorization: Bearer ***" in lines and lines[-1] == "variables set dry 'x y'"
    assert local_env.mwaa("run", "--", "variables", "get", "dry").returncode == 1  # not run
    tokens = list((local_env.state_dir / "tokens").glob("*.json"))
    secret = json.loads(tokens[0].read_text())["token"]
    assert secret.encode() not in out.stdout + out.stderr


def test_several_environments_grouped_with_the_worst_exit_code(local_env):
    out = local_env.mwaa("run", "--env", "local,nope", "--", "version")
    assert out.returncode == ExitStatus.ENV_NOT_FOUND
    text = out.stdout.decode()
    assert text.startswith("==> local <== (exit 0)\n" + VERSION) and "==> nope <==" in text
    assert b"[nope] environment 'nope' not found" in out.stderr
    listed = local_env.mwaa("run", "--all", "--json", "--", "version")
    assert listed.returncode == 0
    docs = json.loads(listed.stdout)
    assert [(d["environment"], d["stdout"].strip()) for d in docs] == [("local", VERSION)]


@pytest.fixture
def config_env(local_env, tmp_path):
    """An environment with only a config file: no AWS_ENDPOINT_URL_MWAA, no MWAA_ENV."""
    config = tmp_path / "config.toml"
    config.write_text(
        'default_env = "dev"\n'
        "[envs.dev]\n"
        'name = "local"\n'
        'region = "us-east-1"\n'
        f'endpoint_url = "{local_env.endpoint}"\n'
        'deny = ["variables list"]\n'
        "[envs.old]\n"
        'name = "local"\n'
        f'endpoint_url = "{local_env.endpoint}"\n'
        'region = "us-east-1"\n'
        'airflow_version = "2.10.3"\n'
    )
    env = local_env.aws_environ()
    for var in ("AWS_ENDPOINT_URL_MWAA", "MWAA_ENV", "AWS_DEFAULT_REGION"):
        env.pop(var)
    env["MWAA_CLI_CONFIG"] = str(config)
    return env


def test_config_file_names_environments(local_env, config_env):
    run = local_env.mwaa
    assert run("run", "--", "version", env=config_env).stdout.strip() == VERSION.encode()
    assert run("run", "--env", "dev", "--", "version", env=config_env).returncode == 0
    denied = run("run", "--", "variables", "list", env=config_env)
    assert denied.returncode == ExitStatus.COMMAND_REJECTED
    shown = run("env", "show", env=config_env).stdout.decode()
    assert "endpoint_url" in shown and "file [envs.dev]" in shown and "AVAILABLE" in shown
    assert (
        run("config", "path", env=config_env)
        .stdout.decode()
        .startswith(config_env["MWAA_CLI_CONFIG"])
    )


def test_configured_airflow_version_drives_translation(local_env, config_env):
    out = local_env.mwaa(
        "run", "--env", "old", "--dry-run", "--",
        "backfill", "create", "--dag-id", "daily_report", "--from-date", "2025-01-01",
        env=config_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().splitlines()[-1] == "dags backfill daily_report -s 2025-01-01"
    assert b"Airflow 3.x syntax 'backfill create' for Airflow 2" in out.stderr


def test_doctor_all_green(local_env):
    env = local_env.aws_environ()
    for var in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # the local CA is found, for STS too
        env.pop(var)
    out = local_env.mwaa("doctor", env=env)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    for name in ("identity", "region", "environment", "access mode", "token", "network"):
        assert f"✓ {name}" in text
    assert f"✓ round trip   'airflow version' = {VERSION}" in text
    assert "arn:aws:iam::000000000000:user/mwaa-local-local" in text


def test_doctor_finds_the_problem_and_says_the_fix(local_env):
    wrong = local_env.mwaa("doctor", "no-such-env")
    assert wrong.returncode == 1
    assert (
        "✗ environment" in wrong.stdout.decode()
        and "environments here: local" in wrong.stdout.decode()
    )
    assert "round trip" not in wrong.stdout.decode()  # later checks are not run
    env = dict(local_env.aws_environ(), AWS_SECRET_ACCESS_KEY="wrong")
    bad_key = local_env.mwaa("doctor", env=env)
    assert bad_key.returncode == 1
    assert (
        "✗ identity" in bad_key.stdout.decode()
        and "SignatureDoesNotMatch" in bad_key.stdout.decode()
    )
    as_json = local_env.mwaa("doctor", "--json", "no-such-env")
    assert [c["status"] for c in json.loads(as_json.stdout)][-1] == "fail"


def test_completion_in_real_bash(local_env, tmp_path):
    script = local_env.mwaa("completion", "bash").stdout.decode()
    assert "_MWAA_COMPLETE" in script
    config = tmp_path / "c.toml"
    config.write_text("[envs.dev]\n[envs.prod]\n")
    env = dict(local_env.aws_environ(), MWAA_CLI_CONFIG=str(config))

    def complete(*words: str) -> list[str]:
        program = (
            f'eval "$({BIN}/mwaa completion bash)"; '
            f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; "
            '_mwaa_completion mwaa; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        out = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True)
        return out.stdout.split()

    assert complete("mwaa", "do") == ["doctor"]
    assert set(complete("mwaa", "")) >= {"run", "batch", "shell", "doctor", "envs", "local"}
    assert complete("mwaa", "run", "--env", "p") == ["prod"]
    for command in ("doctor", "shell", "env show", "batch"):  # every --env completes
        assert complete("mwaa", *command.split(), "--env", "d") == ["dev"]
    # after `mwaa run --`: the Airflow commands the environment's version accepts
    assert complete("mwaa", "run", "--", "dags", "list-r") == ["list-runs"]
    assert "variables" in complete("mwaa", "run", "--", "va")
    assert complete("mwaa", "run", "--airflow-version", "2.10.3", "--", "dags", "backf") == [
        "backfill"
    ]
    assert complete("mwaa", "run", "--", "dags", "backf") == []  # not on Airflow 3
    for shell in ("zsh", "fish"):
        assert "_MWAA_COMPLETE" in local_env.mwaa("completion", shell).stdout.decode()


def test_completion_in_real_fish(local_env):
    if not shutil.which("fish"):
        pytest.skip("fish is not installed (.ci/run installs it)")
    program = "mwaa completion fish | source; complete -C 'mwaa do'; complete -C 'mwaa run --ti'"
    out = subprocess.run(["fish", "-c", program], env=local_env.aws_environ(), capture_output=True)
    lines = [ln.split("\t")[0] for ln in out.stdout.decode().splitlines()]
    assert lines == ["doctor", "--timeout"], out


def test_completion_in_real_zsh(local_env):
    """The generated zsh function, run by real zsh; only zsh's completion-system builtins
    (compdef, _describe, compadd: they need an interactive widget) print instead."""
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed (.ci/run installs it)")
    program = (
        "compdef() { :; }; "
        "_describe() { print -l -- ${(P)3}; }; "
        "compadd() { print -l -- ${(P)${@[-1]}}; }; "
        'eval "$(mwaa completion zsh)"; '
        "words=(mwaa do); CURRENT=2; _mwaa_completion"
    )
    out = subprocess.run(["zsh", "-c", program], env=local_env.aws_environ(), capture_output=True)
    assert out.stdout.decode().split(":")[0] == "doctor", out


def test_https_proxy_is_honoured(local_env):
    proxy = connect_proxy()
    env = dict(local_env.aws_environ(), HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}")
    out = local_env.mwaa("run", "--", "version", env=env)
    assert out.returncode == 0, out.stderr
    assert f"127.0.0.1:{local_env.port}" in proxy.targets


def test_socks5h_proxy_for_a_private_web_server(local_env):
    proxy = socks5_proxy()
    out = local_env.mwaa("run", "--proxy", f"socks5h://127.0.0.1:{proxy.port}", "--", "version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == VERSION.encode()
    assert any(t.endswith(f":{local_env.port}") for t in proxy.targets)


def test_mwaa_airflow_translates_too(local_env):
    out = subprocess.run(
        [str(BIN / "mwaa-airflow"), "list_dags", "-o", "plain"],
        env=local_env.aws_environ(),
        capture_output=True,
    )
    assert out.returncode == 0 and b"hello_mwaa" in out.stdout
    assert b"translated" in out.stderr


# Commands with known outcomes on the sample DAGs: successes, not-found errors, usage errors
# and exceptions, as real Airflow writes them.
INFER = [
    ["version"],
    ["dags", "list", "-o", "json"],
    ["variables", "get", "no_such_variable"],
    ["dags", "state", "no_such_dag", "2025-01-01"],
    ["dags", "list", "--bogus-flag"],
    ["tasks", "list", "no_such_dag"],
    ["dags", "next-execution", "no_such_dag"],
    ["tasks", "state", "hello_mwaa", "no_such_task", "2025-01-01"],
    ["dags", "trigger", "no_such_dag"],
    ["connections", "delete", "no_such_connection"],
    ["dags", "list-runs", "hello_mwaa"],
    ["tasks", "list", "hello_mwaa"],
    ["dags", "show", "no_such_dag"],
    ["dags", "delete", "no_such_dag", "--yes"],
    ["tasks", "test", "hello_mwaa", "no_such_task"],
    ["tasks", "states-for-dag-run", "hello_mwaa", "no_such_run"],
    ["connections", "add", "bad", "--conn-uri", "notauri"],
    ["providers", "get", "no.such.provider"],
    ["db", "clean", "--clean-before-timestamp", "notadate", "--yes"],
    ["assets", "details", "--name", "nope"],
    [
        "backfill",
        "create",
        "--dag-id",
        "no_such_dag",
        "--from-date",
        "2025-01-01",
        "--to-date",
        "2025-01-02",
    ],
    ["dags", "pause", "no_such_dag"],
    ["cheat-sheet"],
    # the three the rule used to miss
    ["variables", "get", "infer_not_json", "-j"],
    ["connections", "add", "infer_dup", "--conn-uri", "http://a"],  # already exists
    ["connections", "add", "infer_no_uri"],
]


def test_exit_code_rule_on_real_airflow_errors(local_env, monkeypatch):
    """What MWAA would give (stdout+stderr, no exit code): the rule recovers the real code."""
    from mwaa_cli import Client
    from mwaa_cli.exit_codes import infer_exit_code

    for key, value in local_env.aws_environ().items():
        monkeypatch.setenv(key, value)
    with Client("local") as client:
        assert client.run(["variables", "set", "infer_not_json", "plain text"]).ok
        assert client.run(["connections", "add", "infer_dup", "--conn-uri", "http://a"]).ok
        failures = 0
        for argv in INFER:
            result = client.run(argv)
            assert result.exit_code_reported
            inferred = infer_exit_code(result.stderr, stdout=result.stdout)
            assert inferred == min(result.exit_code, 2), (argv, result.stderr)
            failures += result.exit_code != 0
        client.run(["connections", "delete", "infer_dup"])
    assert failures >= len(INFER) // 2  # the corpus holds both outcomes


def test_exit_code_rule_with_a_plugin_that_fails_to_import(local_env, tmp_path):
    """MWAA logs a broken plugin's traceback with every command: real Airflow 3 output, cold,
    with such a plugin; the rule gives the real code in every mode."""
    from mwaa_cli.exit_codes import infer_exit_code

    (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
    env = {"AIRFLOW__CORE__PLUGINS_FOLDER": str(tmp_path)}
    for argv, real in (
        (["dags", "trigger", "hello_mwaa"], 0),
        (["dags", "reserialize"], 0),
        (["tasks", "list", "hello_mwaa"], 0),
        (["variables", "get", "no_such_variable"], 1),
    ):
        done = local_env.airflow(*argv, env=env)
        assert done.returncode == real, (argv, done.stderr[-800:])
        if argv[:2] == ["dags", "trigger"]:  # the traceback is really there
            assert b"Failed to import plugin" in done.stderr and b"Traceback" in done.stderr
        for mode in ("default", "strict", "lenient"):
            if mode == "lenient" and real == 1:
                continue  # lenient: only tracebacks and usage errors count, by design
            got = infer_exit_code(done.stderr, mode, done.stdout)
            assert got == real, (argv, mode, done.stderr[-800:])


def test_mwaa_airflow_help_lists_what_the_environment_accepts(local_env):
    out = subprocess.run(
        [str(BIN / "mwaa-airflow"), "--help"], env=local_env.aws_environ(), capture_output=True
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert text.startswith("usage: mwaa-airflow") and f"Airflow {VERSION} on 'local'" in text
    assert "  dags trigger\n" in text and "users" not in text
    remote = subprocess.run(
        [str(BIN / "mwaa-airflow"), "dags", "list", "--help"],
        env=local_env.aws_environ(),
        capture_output=True,
    )
    assert remote.returncode == 0 and b"airflow dags list" in remote.stdout  # Airflow's own


def test_a_misspelt_environment_gets_a_suggestion(local_env):
    out = local_env.mwaa("run", "--env", "lcoal", "--", "version")
    assert out.returncode == ExitStatus.ENV_NOT_FOUND
    assert out.stderr.decode().strip() == (
        "mwaa: error: environment 'lcoal' not found in this region "
        "(environments here: local); did you mean 'local'?"
    )


def test_bad_and_dead_proxies_are_clear_errors(local_env):
    bad = local_env.mwaa("run", "--proxy", "ftp://x", "--", "version")
    assert bad.returncode == ExitStatus.CONFIG and b"socks5h://HOST:PORT" in bad.stderr
    dead = proxies_dead_port()
    out = local_env.mwaa("run", "--proxy", f"socks5h://127.0.0.1:{dead}", "--", "version")
    assert out.returncode == ExitStatus.UNREACHABLE
    assert f"through the proxy socks5h://127.0.0.1:{dead}".encode() in out.stderr
    assert b"Traceback" not in bad.stderr + out.stderr


def proxies_dead_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
