"""InvokeRestApi without boto3 (mwaa_cli.client.signed): the first call of a process goes
through boto3 and records its route; later processes sign with botocore's SigV4 alone, get
the same answers and errors, and fall back to boto3 whenever the route cannot answer alike.
Against the real app and the stand-in of Airflow's REST API (test_rest_api.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mwaa_cli.client import signed
from mwaa_cli.client.control_plane import ControlPlane

from .conftest import KEY
from .test_rest_api import _cli_env, fake_api, rest_server  # noqa: F401 (fixtures)

PROBE = """
import json, sys
from mwaa_cli import Client
from mwaa_cli.client.rest import RestApiError
client = Client("rtest")
out = {}
try:
    reply = client.api(sys.argv[1], sys.argv[2])
    out["status"], out["body"] = reply.status, reply.body
except RestApiError as exc:
    out["error"], out["status"], out["body"] = type(exc).__name__, exc.status, exc.body
out["boto3"] = "boto3" in sys.modules
print(json.dumps(out))
"""


def probe(env: dict, method: str, path: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, method, path],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def routes(env: dict) -> list[Path]:
    return sorted((Path(env["MWAA_CLI_HOME"]) / "routes").glob("*.route"))


@pytest.fixture
def env(rest_server, tmp_path):  # noqa: F811
    return _cli_env(rest_server, tmp_path)


def test_the_second_process_signs_without_boto3_and_gets_the_same_reply(env):
    first = probe(env, "GET", "/dags/d1")
    assert first["boto3"] is True and first["status"] == 200
    [route] = routes(env)
    assert stat.S_IMODE(route.stat().st_mode) == 0o600
    assert stat.S_IMODE(route.parent.stat().st_mode) == 0o700
    second = probe(env, "GET", "/dags/d1")
    assert second["boto3"] is False, "the recorded route was not used"
    assert second["status"] == 200
    # what reached Airflow is the same: path, method, the role's login
    for field in ("method", "path", "query"):
        assert second["body"][field] == first["body"][field]
    assert second["body"]["auth"].startswith("Bearer jwt-admin-")


def test_credentials_from_the_environment_are_never_written(env):
    probe(env, "GET", "/dags/d1")
    [route] = routes(env)
    text = route.read_text()
    assert KEY.secret_access_key not in text and KEY.access_key_id not in text
    assert json.loads(text)["method"] == "env"


def test_static_keys_of_a_profile_are_kept_0600_and_an_edited_profile_is_a_new_route(env, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[itest]\naws_access_key_id = {KEY.access_key_id}\n"
        f"aws_secret_access_key = {KEY.secret_access_key}\n"
    )
    env = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env |= {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "itest"}
    assert probe(env, "GET", "/dags/d1")["boto3"] is True
    [route] = routes(env)
    assert json.loads(route.read_text())["method"] == "shared-credentials-file"
    assert probe(env, "GET", "/dags/d1")["boto3"] is False
    # the profile is edited (a key rotated): that route no longer applies
    creds.write_text(creds.read_text() + "\n# rotated\n")
    assert probe(env, "GET", "/dags/d1")["boto3"] is True
    assert len(routes(env)) == 2


def test_airflow_errors_are_the_same_on_both_paths(env):
    first = probe(env, "GET", "/dags/missing")
    second = probe(env, "GET", "/dags/missing")
    assert (first["boto3"], second["boto3"]) == (True, False)
    for reply in (first, second):
        assert reply["error"] == "RestClientError" and reply["status"] == 404
    assert first["body"] == second["body"]
    boom = probe(env, "POST", "/boom")  # Airflow's 500: RestApiServerException, not re-sent
    assert boom["boto3"] is False
    assert boom["error"] == "RestServerError" and boom["status"] == 500


def _control_plane(env: dict, monkeypatch) -> ControlPlane:
    for name in list(os.environ):
        if name.startswith(("AWS_", "MWAA_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ControlPlane(region="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL_MWAA"])


def _planted(plane: ControlPlane, **change) -> None:
    """A route for ``plane``'s settings that differs from the truth by ``change``."""
    base = plane.endpoint_url or ""
    route = signed.Route(
        base, "us-east-1", "airflow", "", "shared-credentials-file", time.time() + 600
    )
    fields = {**route.__dict__, "access_key": KEY.access_key_id, "secret_key": "x" * 40}
    signed.default_cache().put(plane._route_key(), signed.Route(**(fields | change)))


def test_a_refused_route_falls_back_to_boto3_and_is_replaced(env, monkeypatch):
    plane = _control_plane(env, monkeypatch)
    _planted(plane)  # a rotated secret: MWAA refuses the signature
    reply = plane.call("invoke_rest_api", Name="rtest", Path="/dags/d1", Method="GET")
    assert reply["RestApiStatusCode"] == 200
    assert plane._client is not None, "boto3 carried the call again"
    route = signed.default_cache().get(plane._route_key())
    assert route is not None and route.method == "env"


def test_a_route_to_nowhere_falls_back_to_boto3(env, monkeypatch):
    plane = _control_plane(env, monkeypatch)
    _planted(plane, base="http://127.0.0.1:9", secret_key=KEY.secret_access_key)
    reply = plane.call("invoke_rest_api", Name="rtest", Path="/dags/d1", Method="GET")
    assert reply["RestApiStatusCode"] == 200 and plane._client is not None


def test_a_proxy_leaves_the_call_to_boto3(env):
    probe(env, "GET", "/dags/d1")
    env = env | {"HTTPS_PROXY": "http://127.0.0.1:9"}  # loopback endpoints are not proxied
    assert signed.usable({}) and not signed.usable(env)
    assert probe(env, "GET", "/dags/d1")["boto3"] is True


class _Creds:
    def __init__(self, method: str, expiry: float | None = None) -> None:
        import datetime

        self.method = method
        if expiry is not None:
            self._expiry_time = datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc)

    def get_frozen_credentials(self):
        return signed.Credentials("AKIATEMP", "secret", "session-token")


class _Request:
    url = "https://env.airflow.eu-west-1.amazonaws.com/restapi/my-env"


def test_how_long_credentials_are_kept():
    now = time.time()
    aws = signed.route_from(
        _Request(), "airflow", "eu-west-1", "/ca.pem", _Creds("sso", now + 3000)
    )
    assert aws is not None and aws.base == "https://env.airflow.eu-west-1.amazonaws.com"
    assert abs(aws.expires_at - (now + 3000 - signed.REFRESH_MARGIN)) < 5
    assert aws.token == "session-token"
    # expiring within botocore's mandatory refresh, no expiry known, or an unknown provider:
    # not kept
    assert signed.route_from(_Request(), "airflow", "r", "", _Creds("sso", now + 300)) is None
    assert signed.route_from(_Request(), "airflow", "r", "", _Creds("assume-role")) is None
    assert signed.route_from(_Request(), "airflow", "r", "", _Creds("something-new")) is None
    static = signed.route_from(_Request(), "airflow", "r", "", _Creds("config-file"))
    assert static is not None and static.expires_at <= now + signed.STATIC_TTL + 5
    env = signed.route_from(_Request(), "airflow", "r", "", _Creds("env"))
    assert env is not None and env.secret_key == "" and env.access_key == ""


def test_the_key_follows_every_aws_variable_and_the_files(tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\n")
    base = {"AWS_CONFIG_FILE": str(config), "AWS_SECRET_ACCESS_KEY": "a"}
    key = signed.route_key(("r",), base)
    assert key == signed.route_key(("r",), dict(base))
    assert key != signed.route_key(("r",), base | {"AWS_SECRET_ACCESS_KEY": "b"})
    assert key != signed.route_key(("r",), base | {"AWS_CA_BUNDLE": "/x.pem"})
    assert key != signed.route_key(("other",), base)
    assert "a" not in key[2:3]  # secrets only hashed
    config.write_text("[default]\nregion = eu-west-1\n")
    assert key != signed.route_key(("r",), base)


RUN_PROBE = """
import json, sys
from mwaa_cli import Client
result = Client("itest", cache_tokens=False).run(["dags", "list"])
print(json.dumps({"stdout": result.stdout_text, "code": result.exit_code,
                  "boto3": "boto3" in sys.modules}))
"""


def test_a_cli_token_comes_without_boto3_too(server, tmp_path):
    """CreateCliToken lives on the same host as InvokeRestApi: `mwaa run` after the first
    process asks for its token along the route (no disk-cached token here: each process
    asks)."""
    env = _cli_env(server.url, tmp_path) | {"MWAA_ENV": "itest"}
    outs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", RUN_PROBE], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        outs.append(json.loads(done.stdout))
    assert [o["boto3"] for o in outs] == [True, False]
    assert outs[0]["stdout"] == outs[1]["stdout"] and json.loads(outs[1]["stdout"]) == [
        "dags",
        "list",
    ]
    assert outs[1]["code"] == 0


# what a second `mwaa run` / `mwaa api` process must not import: the startup budget, as
# modules (deterministic) rather than milliseconds (benchmarks measure those: bench/client.py)
HEAVY = {
    "boto3",
    "botocore.session",
    "botocore.client",
    "botocore.credentials",
    "httpx",
    "starlette",
    "uvicorn",
    "cryptography",
    "importlib.metadata",
    "importlib.resources",
}


def imported(argv: list[str], env: dict) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mwaa_cli", *argv],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_startup_budget_of_mwaa_run_and_mwaa_api(server, rest_server, tmp_path):  # noqa: F811
    run_env = _cli_env(server.url, tmp_path / "run") | {"MWAA_ENV": "itest"}
    assert "boto3" in imported(["run", "--", "dags", "list"], run_env)  # the first: boto3
    again = imported(["run", "--", "dags", "list"], run_env)  # a cached token
    assert not again & HEAVY, again & HEAVY
    assert "botocore" not in again  # not even botocore: the token is on disk
    api_env = _cli_env(rest_server, tmp_path / "api")
    assert "boto3" in imported(["api", "GET", "/dags/d1"], api_env)
    second = imported(["api", "GET", "/dags/d1"], api_env)
    # botocore's signer brings urllib3, which reads importlib.metadata: allowed here
    assert not second & (HEAVY - {"importlib.metadata", "importlib.resources"}), second & HEAVY
    assert "botocore.auth" in second  # botocore's signer, alone
