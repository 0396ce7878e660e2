"""What users install, run as they run it: `python -m build` makes the sdist and the wheel
(the wheel from the sdist, so both are complete), `twine check` passes, and the wheel is
installed into clean virtualenvs - no checkout on sys.path, run from another folder, an
empty runtime store, no constraints file:

- ``mwaa-cli[local]`` with pip: `mwaa local serve` makes its runtime and starts; `mwaa run`,
  a triggered DAG run reaching success, `aws mwaa create-cli-token` + curl;
- ``mwaa-cli`` alone (the light client): `mwaa --help`, `mwaa run --dry-run` and a real
  `mwaa run` against that environment, without Airflow or any server package installed,
  and a clear message for `mwaa local serve`;
- `uv tool install` of the wheel with its local extra: the `mwaa` it puts on PATH works.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

from .conftest import BIN, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SERVER_PACKAGES = ("starlette", "uvicorn", "cryptography", "uv", "airflow")


def _run(argv, *, env=None, cwd=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"$ {shlex.join(map(str, argv))}\n{done.stdout}\n{done.stderr}")
    return done


def _base_python() -> str:
    """The interpreter the checkout's venv was made from (not the venv itself)."""
    return getattr(sys, "_base_executable", sys.executable)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], timeout=900)
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    _run([str(BIN / "twine"), "check", "--strict", str(wheel), str(sdist)])
    return {"wheel": wheel, "sdist": sdist}


def _user_env(tmp: Path, venv_bin: Path) -> dict[str, str]:
    """A user's shell: the venv's bin first, then the system's (the AWS CLI and curl the
    test run has), a home and AWS files of its own, nothing of the checkout."""
    system = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MWAA_", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "PATH": os.pathsep.join([str(venv_bin), *system]),
        "HOME": str(tmp / "home"),
        "MWAA_CLI_HOME": str(tmp / "home" / ".local" / "share" / "mwaa-cli"),
        "MWAA_CLI_RUNTIMES": str(tmp / "runtimes"),  # an empty runtime store
        "AWS_CONFIG_FILE": str(tmp / "home" / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "home" / ".aws" / "credentials"),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR")
        or str(Path.home() / ".cache" / "uv"),  # the machine's download cache, as a user's
    }
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return env


def _venv(path: Path) -> Path:
    _run([_base_python(), "-m", "venv", str(path)])
    return path / "bin"


def _exports(env_sh: Path) -> dict[str, str]:
    return dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in env_sh.read_text().splitlines()
        if line.startswith("export ")
    )


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """``pip install 'mwaa_cli-….whl[local]'`` into a clean venv, and `mwaa local serve`
    started from another folder with an empty runtime store."""
    tmp = tmp_path_factory.mktemp("user")
    venv_bin = _venv(tmp / "venv")
    env = _user_env(tmp, venv_bin)
    _run(
        [str(venv_bin / "pip"), "install", "--quiet", f"{dist['wheel']}[local]"],
        env=env,
        timeout=900,
    )
    elsewhere = tmp / "somewhere"
    elsewhere.mkdir()
    port = free_port()
    log = tmp / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(venv_bin / "mwaa"), "local", "serve", "--port", str(port)],
            env=env,
            cwd=elsewhere,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 1200  # it makes the Airflow runtime first
    while "Press Ctrl-C" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mwaa local serve from the wheel did not start:\n{log.read_text()}")
        time.sleep(0.5)
    home = Path(env["MWAA_CLI_HOME"]) / "local" / "local"
    shell = env | _exports(home / "env.sh")
    try:
        yield {"bin": venv_bin, "env": shell, "cwd": elsewhere, "log": log, "tmp": tmp}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0, log.read_text()


def test_the_wheel_carries_everything_read_at_run_time(dist):
    import zipfile

    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    for needed in (
        "mwaa_cli/data/commands.json",
        "mwaa_cli/local/airflow/pins/airflow-3.3.1.txt",
        "mwaa_cli/local/airflow/pins/airflow-2.10.3.txt",
        "mwaa_cli/local/sample_dags/hello_mwaa.py",
        "mwaa_cli/local/airflow_plugin.py",
        "mwaa_cli/local/zygote.py",
        "mwaa_cli/local/warden.py",
        "mwaa_cli/py.typed",
    ):
        assert needed in names, needed
    pins = sorted((ROOT / "src/mwaa_cli/local/airflow/pins").glob("*.txt"))
    assert {f"mwaa_cli/local/airflow/pins/{p.name}" for p in pins} <= names


def test_the_installed_wheel_runs_the_flow(installed):
    bin_, env, cwd = installed["bin"], installed["env"], installed["cwd"]
    log = installed["log"].read_text()
    # it ran from the venv, not the checkout, and made its runtime in the empty store
    where = _run([str(bin_ / "python"), "-c", "import mwaa_cli; print(mwaa_cli.__file__)"], env=env)
    module = Path(where.stdout.strip())
    assert module.is_relative_to(installed["tmp"] / "venv") and not module.is_relative_to(ROOT)
    assert "Creating the Apache Airflow 3.3.1 runtime" in log
    assert (installed["tmp"] / "runtimes" / "airflow-3.3.1" / "mwaa-runtime.json").is_file()
    assert (
        _run(["mwaa", "--version"], env=env, cwd=cwd).stdout.strip() == f"mwaa, version {VERSION}"
    )

    listed = _run(["mwaa", "run", "--", "dags", "list", "-o", "json"], env=env, cwd=cwd)
    assert "hello_mwaa" in {d["dag_id"] for d in json.loads(listed.stdout.splitlines()[-1])}
    _run(["mwaa", "run", "--", "dags", "unpause", "hello_mwaa"], env=env, cwd=cwd)
    _run(["mwaa", "run", "--", "dags", "trigger", "hello_mwaa"], env=env, cwd=cwd)
    state, deadline = "", time.monotonic() + 300
    while state not in ("success", "failed") and time.monotonic() < deadline:
        time.sleep(2)
        runs = _run(["mwaa", "run", "--", "dags", "list-runs", "hello_mwaa", "-o", "json"], env=env)
        state = (json.loads(runs.stdout.splitlines()[-1] or "[]") or [{}])[0].get("state", "")
    assert state == "success"

    # the MWAA user guide's recipe: the AWS CLI for a token, curl for the command
    if shutil.which("aws", path=env["PATH"]) is None or shutil.which("curl") is None:
        pytest.fail("the AWS CLI and curl are needed (scripts/test.sh and .ci/run provide them)")
    token = json.loads(_run(["aws", "mwaa", "create-cli-token", "--name", "local"], env=env).stdout)
    reply = _run(
        [
            "curl", "--silent", "--fail", "--request", "POST",
            f"https://{token['WebServerHostname']}/aws_mwaa/cli",
            "--header", f"Authorization: Bearer {token['CliToken']}",
            "--header", "Content-Type: text/plain",
            "--data-raw", "dags list -o plain",
        ],
        env=env,
    )  # fmt: skip
    assert "hello_mwaa" in base64.b64decode(json.loads(reply.stdout)["stdout"]).decode()


def test_the_light_client_has_no_server_parts(dist, installed, tmp_path):
    bin_ = _venv(tmp_path / "venv")
    env = _user_env(tmp_path, bin_) | {
        k: v for k, v in installed["env"].items() if k.startswith(("AWS_", "MWAA_ENV"))
    }
    env |= {k: v for k, v in installed["env"].items() if k.endswith("CA_BUNDLE")}
    _run([str(bin_ / "pip"), "install", "--quiet", str(dist["wheel"])], env=env, timeout=600)
    for package in SERVER_PACKAGES:
        probe = _run([str(bin_ / "python"), "-c", f"import {package}"], env=env, check=False)
        assert probe.returncode != 0, f"{package} is installed with the light client"
    assert (
        "Drive Apache Airflow on Amazon MWAA"
        in _run([str(bin_ / "mwaa"), "--help"], env=env).stdout
    )
    preview = _run([str(bin_ / "mwaa"), "run", "--dry-run", "--", "dags", "list"], env=env)
    assert "/aws_mwaa/cli" in preview.stdout + preview.stderr
    done = _run([str(bin_ / "mwaa"), "run", "--", "dags", "list", "-o", "plain"], env=env)
    assert "hello_mwaa" in done.stdout
    serve = _run([str(bin_ / "mwaa"), "local", "serve"], env=env, check=False)
    assert serve.returncode != 0
    assert "pip install 'mwaa-cli[local]'" in serve.stderr and "Traceback" not in serve.stderr


def test_uv_tool_install_of_the_wheel(dist, tmp_path):
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    assert uv, "uv is in the dev environment"
    tools, tool_bin = tmp_path / "tools", tmp_path / "bin"
    env = _user_env(tmp_path, tool_bin) | {
        "UV_TOOL_DIR": str(tools),
        "UV_TOOL_BIN_DIR": str(tool_bin),
    }
    _run([uv, "tool", "install", f"{dist['wheel']}[local]"], env=env, timeout=900)
    assert (tool_bin / "mwaa").exists() and (tool_bin / "mwaa-airflow").exists()
    assert _run([str(tool_bin / "mwaa"), "--version"], env=env).stdout.strip() == (
        f"mwaa, version {VERSION}"
    )
    listed = _run([str(tool_bin / "mwaa"), "local", "runtimes", "list", "--json"], env=env)
    doc = json.loads(listed.stdout)
    assert "3.3.1" in {r["airflow_version"] for r in doc["runtimes"]}
