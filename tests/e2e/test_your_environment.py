"""A user's environment on top of the runtime, end to end on Airflow 3.3.1 and 2.10.3:
requirements.txt (a real PyPI package a DAG imports), plugins (an operator and a macro),
a startup script (a variable a task reads; a reserved one restored), a configuration
option (a task reads it). 3.3.1 takes them from mwaa-local.toml, 2.10.3 from flags with a
plugins.zip. Then MWAA's failure behaviour: a broken requirement and a failing startup
script, and what a restart changes."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from mwaa_cli.local.airflow.versions import DEFAULT

from .conftest import AIRFLOW2, LocalEnv, flow_versions, start_local_env, stop, wait_for_dags

HERE = Path(__file__).with_name("your_environment")


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in folder.iterdir():
            if path.suffix == ".py":
                archive.write(path, path.name)  # at the top, as MWAA wants them
    return target


def mwaa_api(local: LocalEnv):
    return local.boto3_mwaa()


@pytest.fixture(scope="module", params=flow_versions())
def custom_env(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"custom-{request.param}")
    if request.param == DEFAULT:  # everything from mwaa-local.toml beside the DAGs
        local = start_local_env(tmp, "--dags", str(HERE / "dags"), version=None)
    else:  # everything from flags, plugins as a zip
        dags = tmp / "dags"
        shutil.copytree(HERE / "dags", dags)  # away from the env file
        local = start_local_env(
            tmp,
            "--dags", str(dags),
            "--requirements", str(HERE / "requirements.txt"),
            "--plugins", str(_zip(HERE / "plugins", tmp / "plugins.zip")),
            "--startup-script", str(HERE / "startup.sh"),
            "--airflow-config", "mwaa_test.greeting=hello from a flag",
            version=request.param,
        )  # fmt: skip
    local.airflow_version = request.param
    try:
        wait_for_dags(local, {"custom_env"})
        yield local
    finally:
        stop(local)


def test_the_banner_says_what_the_environment_is_made_of(custom_env):
    banner = custom_env.stderr_text()
    assert f"Apache Airflow {custom_env.airflow_version}" in banner
    assert "requirements requirements.txt: installed" in banner
    assert "plugins from" in banner
    assert "startup script startup.sh ran for" in banner and "MY_STARTUP_VAR" in banner
    assert "restored MWAA's reserved AIRFLOW_HOME" in banner
    assert "FAILED" not in banner


def test_a_triggered_run_sees_every_part(custom_env):
    run = custom_env.mwaa
    assert run("run", "--", "dags", "unpause", "custom_env").returncode == 0
    assert run("run", "--", "dags", "trigger", "custom_env").returncode == 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        got = run("run", "--", "variables", "get", "custom_env_report")
        if got.returncode == 0:
            break
        time.sleep(2)
    assert got.returncode == 0, custom_env.stderr_text()[-3000:]
    report = json.loads(got.stdout)
    assert report["pyfiglet"].startswith("pyfiglet ")  # requirements.txt
    assert report["shouted"] == "HI!"  # the plugin's operator and macro
    assert report["startup_var"] in ("from-startup-scheduler", "from-startup-worker")
    expected = (
        "hello from the env file" if custom_env.airflow_version == DEFAULT else "hello from a flag"
    )
    assert report["greeting"] == expected  # the configuration option
    assert report["aws_default"] == "aws://"  # MWAA's opinionated default


def test_cli_commands_run_with_the_webserver_s_startup_environment(custom_env):
    """The fork-server serves the CLI as MWAA's web server would: its startup exports, the
    requirements' packages importable, the plugins loaded."""
    out = custom_env.mwaa("run", "--", "tasks", "test", "custom_env", "env_probe")
    text = (out.stdout + out.stderr).decode()
    assert out.returncode == 0, text[-2000:]
    assert "PROBE startup_var=from-startup-webserver" in text, text[-2000:]


def test_get_environment_reports_the_parts(custom_env):
    env = mwaa_api(custom_env).get_environment(Name="local")["Environment"]
    assert env["AirflowVersion"] == custom_env.installed_airflow
    assert env["LastUpdate"]["Status"] == "SUCCESS"
    assert env["RequirementsS3Path"].endswith("requirements.txt")
    assert env["StartupScriptS3Path"].endswith("startup.sh")
    assert "mwaa_test.greeting" in env["AirflowConfigurationOptions"]


# -- failures, as MWAA has them ----------------------------------------------------------------


def test_a_broken_requirement_and_a_failing_startup_script(tmp_path):
    """The environment still starts (as on MWAA); what failed is said in the banner and in
    GetEnvironment's LastUpdate; what the script exported before `exit` is kept. A restart
    with the parts fixed takes the new script and configuration."""
    dags = tmp_path / "dags"
    shutil.copytree(HERE / "failing_dags", dags)  # away from the env file beside the others
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this-package-does-not-exist-mwaa-cli==9.9.9\n")
    script = tmp_path / "startup.sh"
    script.write_text("export BEFORE_EXIT=kept\nexit 3\nexport AFTER_EXIT=never\n")
    args = ["--no-scheduler", "--dags", str(dags)]
    local = start_local_env(
        tmp_path,
        *args,
        "--requirements", str(requirements),
        "--startup-script", str(script),
        version=AIRFLOW2,
    )  # fmt: skip
    try:
        banner = local.stderr_text()
        assert "FAILED        the startup script exited 3" in banner
        assert "FAILED        the requirements did not install" in banner
        assert "started without them, as MWAA does" in banner
        # the resolver's own one-line reason, and this attempt's output kept on its own
        assert "No solution found when resolving dependencies: Because " in banner
        assert "this-package-does-not-exist-mwaa-cli was not found" in banner
        log = (local.home / "logs" / "requirements.log").read_text()
        assert "this-package-does-not-exist-mwaa-cli" in log
        kept = list((local.home / "logs").glob("requirements-failed-*.log"))
        assert len(kept) == 1 and str(kept[0]) in banner
        assert "this-package-does-not-exist-mwaa-cli" in kept[0].read_text()
        update = mwaa_api(local).get_environment(Name="local")["Environment"]["LastUpdate"]
        assert update["Status"] == "FAILED"
        assert "startup script exited 3" in update["Error"]["ErrorMessage"]
        assert "requirements did not install" in update["Error"]["ErrorMessage"]
        assert "was not found in the package registry" in update["Error"]["ErrorMessage"]
        probe = local.mwaa("run", "--", "tasks", "test", "startup_probe", "probe")
        text = probe.stdout.decode() + probe.stderr.decode()
        assert "PROBE before_exit=kept" in text and "PROBE after_exit=unset" in text
        assert "PROBE greeting=unset" in text, text
    finally:
        assert stop(local) == 0

    # fixed: the next start uses the new script and the new configuration
    script.write_text("export BEFORE_EXIT=second\nexport AFTER_EXIT=now\n")
    requirements.write_text("pyfiglet==1.0.2\n")
    again = start_local_env(
        tmp_path,
        *args,
        "--requirements", str(requirements),
        "--startup-script", str(script),
        "--airflow-config", "mwaa_test.greeting=restarted",
        version=AIRFLOW2,
    )  # fmt: skip
    try:
        assert "FAILED" not in again.stderr_text()
        probe = again.mwaa("run", "--", "tasks", "test", "startup_probe", "probe")
        text = probe.stdout.decode() + probe.stderr.decode()
        assert "PROBE before_exit=second" in text and "PROBE after_exit=now" in text
        assert "PROBE greeting=restarted" in text
        update = mwaa_api(again).get_environment(Name="local")["Environment"]["LastUpdate"]
        assert update["Status"] == "SUCCESS"
    finally:
        stop(again)


def test_refused_configuration_and_unknown_versions_are_clear_errors(tmp_path):
    import os
    import subprocess

    from .conftest import BIN

    env = dict(os.environ, MWAA_CLI_HOME=str(tmp_path))
    for argv, message in (
        (["--airflow-version", "2.0.2"], "is not a version MWAA offers; choose one of 3.3.1"),
        (["--airflow-config", "core.executor=SequentialExecutor"], "is set by MWAA itself"),
        (["--airflow-config", "Core.Bad Key=x"], "MWAA takes section.key in lower case"),
        (["--airflow-config", "nonsense"], "give section.key=value"),
    ):
        done = subprocess.run(
            [str(BIN / "mwaa"), "local", "serve", "--port", "0", *argv],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 78, done.stderr
        assert message in done.stderr.decode()
        assert b"Traceback" not in done.stderr
