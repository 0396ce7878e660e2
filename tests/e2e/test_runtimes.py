"""`mwaa local runtimes`, the checks AWS's local runner offers (test-requirements,
test-startup-script, package-requirements), and version moves of an existing home - real
uv, pip, bash and Airflow runtimes."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

from mwaa_cli.local.airflow.runtime import runtime_for

from .conftest import AIRFLOW2, BIN, require_runtime, start_local_env, stop

HERE = Path(__file__).with_name("your_environment")


def mwaa(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "mwaa"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_runtimes_lists_installed_and_available_versions():
    require_runtime()
    require_runtime(AIRFLOW2)
    done = mwaa("local", "runtimes", "list", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = {r["airflow_version"]: r for r in doc["runtimes"]}
    assert list(rows)[:3] == ["3.3.1", "3.2.1", "3.0.6"] and "2.9.2" in rows
    for version in ("3.3.1", AIRFLOW2):
        assert rows[version]["installed"] and rows[version]["size_bytes"] > 50 * 2**20
        assert rows[version]["path"] == str(runtime_for(version).root)
    assert rows[AIRFLOW2]["mwaa_python"] == "3.11" and rows["3.3.1"]["mwaa_python"] == "3.12"
    table = mwaa("local", "runtimes").stdout
    assert "installed" in table
    # a version not made here yet is listed as one that can be
    assert ("available" in table) == (not all(r["installed"] for r in rows.values()))


def test_installing_an_installed_runtime_is_instant_and_offline():
    done = mwaa("local", "runtimes", "install", AIRFLOW2, env={"UV_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert f"Apache Airflow {AIRFLOW2}: {runtime_for(AIRFLOW2).root}" in done.stdout
    assert "Creating" not in done.stderr


def test_an_unknown_runtime_is_a_clear_error():
    done = mwaa("local", "runtimes", "install", "1.10.12")
    assert done.returncode == 78
    assert "is not a version MWAA offers; choose one of 3.3.1" in done.stderr
    assert "Traceback" not in done.stderr


def test_test_requirements_installs_like_mwaa_and_fails_clearly(tmp_path):
    require_runtime(AIRFLOW2)
    ok = mwaa(
        "local", "test-requirements", str(HERE / "requirements.txt"), "--airflow-version", AIRFLOW2
    )
    assert ok.returncode == 0, ok.stderr
    assert "forcing local constraints" in ok.stdout and "OK: installed" in ok.stdout
    broken = tmp_path / "requirements.txt"
    broken.write_text("pyfiglet==1.0.2\nno-such-package-mwaa-cli-test==1.0\n")
    bad = mwaa("local", "test-requirements", str(broken), "--airflow-version", AIRFLOW2)
    assert bad.returncode == 1
    assert "no-such-package-mwaa-cli-test" in bad.stderr and "FAILED" in bad.stderr
    assert runtime_for(AIRFLOW2).ready()  # the shared runtime untouched
    site = runtime_for(AIRFLOW2).site_packages
    assert not list(site.glob("pyfiglet*"))


def test_test_startup_script_shows_each_component(tmp_path):
    ok = mwaa("local", "test-startup-script", str(HERE / "startup.sh"))
    assert ok.returncode == 0, ok.stderr
    for component in ("webserver", "scheduler", "worker"):
        assert f"--- {component}: ran" in ok.stdout
        assert f"exports MY_STARTUP_VAR=from-startup-{component}" in ok.stdout
        assert f"| startup for {component}" in ok.stdout
    assert "AIRFLOW_HOME is reserved by MWAA" in ok.stdout
    failing = tmp_path / "startup.sh"
    failing.write_text("export SECRET_TOKEN=hunter2\nexport KEPT=1\nexit 2\n")
    bad = mwaa("local", "test-startup-script", str(failing))
    assert bad.returncode == 1 and "exited 2" in bad.stdout and "FAILED" in bad.stderr
    assert "exports KEPT=1" in bad.stdout
    assert "hunter2" not in bad.stdout and "exports SECRET_TOKEN=***" in bad.stdout


def test_the_checks_read_the_env_file_in_the_current_folder():
    done = mwaa("local", "test-startup-script", cwd=HERE)
    assert done.returncode == 0, done.stderr
    missing = mwaa("local", "test-requirements", cwd=HERE.parent)
    assert missing.returncode == 2 and "give REQUIREMENTS" in missing.stderr


def test_package_requirements_makes_an_offline_plugins_zip(tmp_path):
    out = tmp_path / "out"
    done = mwaa(
        "local", "package-requirements", str(HERE / "requirements.txt"),
        "--airflow-version", AIRFLOW2, "--plugins", str(HERE / "plugins"), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out / "plugins.zip") as archive:
        names = archive.namelist()
    assert "pyfiglet-1.0.2-py3-none-any.whl" in names
    assert "shout_operator.py" in names and "mwaa_test_plugin.py" in names
    lines = (out / "requirements.txt").read_text().splitlines()
    assert lines[:2] == ["--find-links /usr/local/airflow/plugins", "--no-index"]
    assert "pyfiglet==1.0.2" in lines
    # and it really installs offline from the wheels, as on a private MWAA web server
    wheels = tmp_path / "wheels"
    with zipfile.ZipFile(out / "plugins.zip") as archive:
        archive.extractall(wheels)
    offline = (
        (out / "requirements.txt").read_text().replace("/usr/local/airflow/plugins", str(wheels))
    )
    (tmp_path / "offline.txt").write_text(offline)
    check = mwaa(
        "local", "test-requirements", str(tmp_path / "offline.txt"), "--airflow-version", AIRFLOW2
    )
    assert check.returncode == 0, check.stderr


def test_package_requirements_reports_packages_without_wheels(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("no-such-package-mwaa-cli-test==1.0\n")
    done = mwaa("local", "package-requirements", str(reqs), "--out", str(tmp_path / "out"))
    assert done.returncode == 78
    assert "pip download failed" in done.stderr and "Traceback" not in done.stderr


def test_a_home_moves_only_the_way_mwaa_allows(tmp_path):
    """2.10.3 to 3.3.1 is refused (MWAA: only from 2.11.2); so is a downgrade; the way out
    is in the message."""
    local = start_local_env(tmp_path, "--no-scheduler", version=AIRFLOW2)
    stop(local)
    env = dict(os.environ, MWAA_CLI_HOME=str(tmp_path / "state"))
    done = subprocess.run(
        [
            str(BIN / "mwaa"),
            "local",
            "serve",
            "--port",
            "0",
            "--no-scheduler",
            "--airflow-version",
            "3.3.1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 78
    assert "only from 2.11.2" in done.stderr and "--airflow-version 2.11.2" in done.stderr
    assert "Traceback" not in done.stderr
    state = json.loads((local.home / "state.json").read_text())
    assert state["migrated_version"] == AIRFLOW2  # untouched
