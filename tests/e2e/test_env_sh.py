"""A shell that sources a local environment's env.sh and also works with real AWS: the local
profile answers for plain commands, and an explicitly chosen profile or environment still
goes where it says. "Real AWS" is a stand-in MWAA API on loopback (real AWS cannot be
reached here); what matters is which endpoint each call reaches."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from .conftest import BIN


@pytest.fixture(scope="module")
def real_aws():
    """The stand-in: ListEnvironments and GetEnvironment of one environment, 'prod-real'."""
    seen: list[str] = []

    async def list_envs(request):
        seen.append(request.headers.get("authorization", "")[:40])
        return JSONResponse({"Environments": ["prod-real"]})

    async def get_env(request):
        seen.append(request.headers.get("authorization", "")[:40])
        name = request.path_params["name"]
        return JSONResponse(
            {"Environment": {"Name": name, "Status": "AVAILABLE", "AirflowVersion": "2.10.3"}}
        )

    app = Starlette(
        routes=[
            Route("/environments", list_envs),
            Route("/environments/{name}", get_env),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def shell_env(local_env, real_aws, tmp_path):
    """The user's files: the AWS config with the local profile (written by the server) plus a
    'work' profile for real AWS, and an mwaa config file with a real environment."""
    endpoint, _ = real_aws
    aws = local_env.state_dir.parent / "aws"
    config, credentials = aws / "config", aws / "credentials"
    assert "# mwaa-cli local environment 'local'" in config.read_text()
    if "[profile work]" not in config.read_text():
        config.write_text(
            config.read_text()
            + "\n[profile work]\nregion = eu-west-1\nservices = work-services\n"
            + "disable_host_prefix_injection = true\n"
            + f"\n[services work-services]\nmwaa =\n  endpoint_url = {endpoint}\n"
        )
        credentials.write_text(
            credentials.read_text()
            + "\n[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = worksecret\n"
        )
    mwaa_config = tmp_path / "mwaa.toml"
    mwaa_config.write_text(
        '[envs.prod]\nname = "prod-real"\nprofile = "work"\n'
        '[envs.bare]\nname = "prod-real"\nregion = "eu-west-1"\n'
    )
    env = {
        k: v
        for k, v in local_env.aws_environ().items()
        if not k.startswith("AWS_") and k not in ("MWAA_ENV", "CURL_CA_BUNDLE")
    }
    env |= {
        "MWAA_CLI_CONFIG": str(mwaa_config),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{BIN}:{env['PATH']}",
    }
    return env


def in_sourced_shell(local_env, env: dict, command: str) -> subprocess.CompletedProcess:
    script = f"source {local_env.home / 'env.sh'} && {command}"
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=120)


def test_env_sh_selects_a_profile_instead_of_exporting_the_endpoint(local_env):
    text = (local_env.home / "env.sh").read_text()
    assert "export AWS_PROFILE=mwaa-local" in text
    assert "AWS_ENDPOINT_URL_MWAA" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_plain_commands_reach_the_local_environment(local_env, shell_env):
    out = in_sourced_shell(local_env, shell_env, "aws mwaa list-environments")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Environments"] == ["local"]
    run = in_sourced_shell(local_env, shell_env, "mwaa run -- version")
    assert run.returncode == 0, run.stderr


def test_an_explicit_profile_still_reaches_its_own_endpoint(local_env, shell_env, real_aws):
    _, seen = real_aws
    before = len(seen)
    out = in_sourced_shell(local_env, shell_env, "aws --profile work mwaa list-environments")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Environments"] == ["prod-real"]
    assert len(seen) > before and "AKIAWORK" in seen[-1]  # signed with the work keys


def test_a_chosen_environment_beats_the_sourced_shell(local_env, shell_env, real_aws):
    _, seen = real_aws
    before = len(seen)
    out = in_sourced_shell(local_env, shell_env, "mwaa env show prod --json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["environment"]["Name"] == "prod-real" and len(seen) > before
    # a table without a profile means real AWS: the local profile is not borrowed for it
    bare = in_sourced_shell(local_env, shell_env, "mwaa env show bare --json")
    assert bare.returncode != 0
    doc = json.loads(bare.stdout)
    assert doc["settings"]["profile"] is None
    assert "127.0.0.1" not in (doc["settings"]["endpoint_url"] or "")
    assert b"no AWS credentials" in bare.stderr or b"amazonaws.com" in bare.stderr


def _new_terminal(local, **more: str) -> dict:
    """A terminal that sourced nothing: no AWS variables at all, the same user files."""
    env = {k: v for k, v in local.aws_environ().items() if not k.startswith(("AWS_", "MWAA_"))}
    env |= {
        "MWAA_CLI_HOME": str(local.state_dir),
        "AWS_CONFIG_FILE": str(local.state_dir.parent / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(local.state_dir.parent / "aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "MWAA_CLI_CONFIG": "/nonexistent/config.toml",
    }
    return env | more


def test_the_banners_command_works_in_a_new_terminal(local_env):
    """`mwaa run --env local -- dags list` (what the banner suggests) in a terminal that
    did not source env.sh reaches the environment running here, through its profile."""
    env = _new_terminal(local_env)
    out = local_env.mwaa("run", "--env", "local", "--", "dags", "list", "-o", "plain", env=env)
    assert out.returncode == 0, out.stderr
    assert b"hello_mwaa" in out.stdout
    assert b"'local' is the local environment running on this machine" in out.stderr
    # AWS files elsewhere (the profile is not there): the exact line to run instead
    other = _new_terminal(
        local_env, AWS_CONFIG_FILE="/nonexistent/c", AWS_SHARED_CREDENTIALS_FILE="/nonexistent/k"
    )
    out = local_env.mwaa("run", "--env", "local", "--", "dags", "list", env=other)
    assert out.returncode != 0
    assert f"`source {local_env.home / 'env.sh'}`".encode() in out.stderr, out.stderr
