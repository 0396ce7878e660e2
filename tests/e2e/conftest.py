"""A real `mwaa local serve` (real Airflow, scheduler and all) on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mwaa_cli.local.airflow.home import AirflowHome, sample_dags_folder
from mwaa_cli.local.airflow.runtime import Runtime, runtime_for
from mwaa_cli.local.airflow.versions import DEFAULT

BIN = Path(sys.executable).parent
READY_TIMEOUT = 900  # a first start under load: the components get 600 s (--ready-timeout)
# the Airflow 2 runtime the tests run beside the default (scripts/test.sh installs both)
AIRFLOW2 = "2.10.3"


def flow_versions() -> list[str]:
    """The Airflow versions the flow tests run on: ``MWAA_TEST_VERSIONS`` ("all" or a list;
    `make test-versions`), else the two CI covers."""
    from mwaa_cli.local.airflow.versions import VERSIONS

    wanted = os.environ.get("MWAA_TEST_VERSIONS", "").replace(",", " ").split()
    if wanted == ["all"]:
        return list(VERSIONS)
    return wanted or [DEFAULT, AIRFLOW2]


def require_runtime(version: str = DEFAULT) -> Runtime:
    """The installed runtime of ``version`` (scripts/test.sh installs 3.3.1 and 2.10.3)."""
    runtime = runtime_for(version)
    if not runtime.ready():
        message = (
            f"the Airflow {version} runtime is not installed: `mwaa local runtimes install "
            f"{version}` (scripts/test.sh does it)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return runtime


def installed_airflow(version: str = DEFAULT) -> str:
    """The apache-airflow version really installed in the runtime of ``version``."""
    from importlib import metadata

    site = str(runtime_for(version).site_packages)
    found = [d.version for d in metadata.distributions(path=[site]) if d.name == "apache-airflow"]
    assert len(found) == 1, found
    return found[0]


def _require_airflow() -> None:
    require_runtime(DEFAULT)


def prepared_home(root: Path, dags: Path, version: str = DEFAULT) -> AirflowHome:
    """A prepared Airflow home of the runtime of ``version`` (outside any server)."""
    home = AirflowHome(root, dags, require_runtime(version))
    home.prepare(log=lambda _: None)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    found, todo = set(), [pid]
    while todo:
        for kid in children_of(todo.pop()):
            if alive(kid):
                found.add(kid)
                todo.append(kid)
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def zygote_of(server: int) -> int | None:
    """The warm executor's fork-server under ``server``."""
    return next((p for p in children_of(server) if b"zygote.py" in cmdline(p)), None)


def component_pid(server: int, name: str) -> int | None:
    """The leader process of Airflow component ``name`` (``scheduler``…) under ``server``."""
    wardens = [p for p in children_of(server) if b"warden.py" in cmdline(p)]
    for warden in wardens:
        for pid in children_of(warden):
            argv = cmdline(pid).split(b"\0")
            if name.encode() in argv or any(
                a.startswith(name.replace("-", "_").encode()) for a in argv
            ):
                return pid
    return None


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket in LISTEN state held by ``pids``."""
    listening: dict[str, tuple[str, int]] = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_addr)
            if family == 4:
                address = ".".join(str(b) for b in raw[::-1])
            else:
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                import ipaddress

                address = str(ipaddress.IPv6Address(b"".join(words)))
            listening[fields[9]] = (address, int(hex_port, 16))
    found = []
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = target[8:-1]
                if inode in listening:
                    found.append((pid, *listening[inode]))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class LocalEnv:
    proc: subprocess.Popen
    port: int
    home: Path
    state_dir: Path
    name: str = "local"
    output: list[str] = field(default_factory=list)
    airflow_version: str = DEFAULT

    tls: bool = True
    host: str = "127.0.0.1"  # the address it was bound to (--host)

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.home / "tls" / "ca-bundle.pem")

    @property
    def key(self) -> dict[str, str]:
        """The access key pair `mwaa local serve` generated for this environment."""
        return json.loads((self.home / "credentials.json").read_text())

    def boto3_mwaa(self, key: dict[str, str] | None = None, **config):
        """A real boto3 MWAA client on this environment's endpoint, signed with ``key``
        (default: its own key pair); ``config``: more botocore Config settings."""
        import boto3
        from botocore.config import Config

        key = key or self.key
        return boto3.client(
            "mwaa",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            verify=self.ca_bundle if self.tls else None,
            config=Config(inject_host_prefix=False, **config),
        )

    def ca_environ(self) -> dict[str, str]:
        if not self.tls:
            return {}
        return dict.fromkeys(("AWS_CA_BUNDLE", "CURL_CA_BUNDLE"), self.ca_bundle)

    def aws_environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            AWS_ENDPOINT_URL_MWAA=self.endpoint,
            AWS_ENDPOINT_URL_STS=self.endpoint,
            AWS_DISABLE_HOST_PREFIX_INJECTION="true",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID=self.key["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=self.key["SecretAccessKey"],
            AWS_CONFIG_FILE="/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
            MWAA_ENV=self.name,
            **self.ca_environ(),
            MWAA_CLI_HOME=str(self.state_dir),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.pop("AWS_PROFILE", None)
        return env

    def mwaa(
        self, *args: str, check: bool = False, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        """The real `mwaa` console script in a subprocess."""
        return subprocess.run(
            [str(BIN / "mwaa"), *args],
            env=self.aws_environ() if env is None else env,
            capture_output=True,
            timeout=300,
            check=check,
        )

    def airflow(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """The same Airflow command run directly, cold, with the environment's settings
        (and ``env`` on top)."""
        home = AirflowHome(self.home, sample_dags_folder(), runtime_for(self.airflow_version))
        env = {**home.environ(), **(env or {})}
        return subprocess.run([*home.airflow, *args], env=env, capture_output=True, timeout=300)

    def stderr_text(self) -> str:
        return "".join(self.output)

    @property
    def api_url(self) -> str:
        """Airflow's own API server / UI (from the banner)."""
        import re

        match = re.search(r"Airflow itself on (http://127\.0\.0\.1:\d+)", self.stderr_text())
        assert match, self.stderr_text()
        return match.group(1)

    @property
    def installed_airflow(self) -> str:
        """The version of Apache Airflow installed in this environment's runtime (read from
        its site-packages, not from what was asked for)."""
        return installed_airflow(self.airflow_version)

    @property
    def rest_prefix(self) -> str:
        """Where Airflow's REST API lives in this environment's version."""
        return "/api/v2" if self.airflow_version.startswith("3") else "/api/v1"

    def wait_for_api(self, timeout: float = 120) -> str:
        """Airflow's API server URL, once it answers."""
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.api_url}{self.rest_prefix}/version", timeout=5)
                return self.api_url
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the API server never answered"
                time.sleep(0.5)

    def ui_password(self, user: str = "admin") -> str:
        return json.loads((self.home / "ui-passwords.json").read_text())[user]


def _pump(stream, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)


def start_local_env(
    tmp: Path, *extra: str, version: str | None = DEFAULT, host: str = "127.0.0.1"
) -> LocalEnv:
    """A running `mwaa local serve --airflow-version VERSION EXTRA…` (None: no version flag:
    the env file's or the default)."""
    require_runtime(version or DEFAULT)
    port = free_port()
    state = tmp / "state"
    env = dict(
        os.environ,
        MWAA_CLI_HOME=str(state),
        AWS_CONFIG_FILE=str(tmp / "aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "aws" / "credentials"),
    )
    proc = subprocess.Popen(
        [
            *(str(BIN / "mwaa"), "local", "serve", "--port", str(port)),
            *(["--host", host] if host != "127.0.0.1" else []),
            *(["--airflow-version", version] if version else []),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    local = LocalEnv(
        proc,
        port,
        state / "local" / "local",
        state,
        tls="--insecure-http" not in extra,
        airflow_version=version or DEFAULT,
        host=host,
    )
    threading.Thread(target=_pump, args=(proc.stdout, local.output), daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT
    while "Press Ctrl-C" not in local.stderr_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("mwaa local serve did not start:\n" + local.stderr_text())
        time.sleep(0.2)
    return local


def wait_for_dags(local: LocalEnv, dag_ids: set[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = local.mwaa("run", "--", "dags", "list", "-o", "json").stdout.decode()
        try:
            listed = json.loads(out.splitlines()[-1]) if out.strip() else []
        except ValueError:
            listed = []
        # in the metadata DB: Airflow 2 lists DAGs from their files, is_paused None until
        # the scheduler has registered them
        known = {d["dag_id"] for d in listed if d.get("is_paused") is not None}
        if dag_ids <= known:
            return
        time.sleep(1)
    raise AssertionError(f"DAGs {dag_ids} never reached the metadata DB")


def stop(local: LocalEnv) -> int:
    if local.proc.poll() is None:
        local.proc.send_signal(signal.SIGINT)
    try:
        return local.proc.wait(60)
    except subprocess.TimeoutExpired:
        local.proc.kill()
        raise


@pytest.fixture(scope="session")
def local_env(tmp_path_factory):
    # InvokeRestApi gets 30 s instead of MWAA's 10: with three environments on two cores,
    # Airflow's API server on SQLite can stall for ~10 s while a writer holds the DB
    local = start_local_env(
        tmp_path_factory.mktemp("e2e"), "--write-profile", "mwaa-local", "--rest-timeout", "30"
    )
    try:
        wait_for_dags(local, {"hello_mwaa", "etl_with_params", "daily_report"})
        yield local
    finally:
        stop(local)


@pytest.fixture(scope="session")
def have_curl():
    missing = [t for t in ("curl", "jq", "base64") if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing {missing}: .ci/run installs them")
        pytest.skip(f"missing {missing}")


@pytest.fixture(scope="session", params=flow_versions())
def flow_env(request, tmp_path_factory):
    """A running environment of each runtime CI covers (shared by the flow and REST tests):
    the session's for the default version, one of its own for Airflow 2."""
    if request.param == DEFAULT:
        yield request.getfixturevalue("local_env")
        return
    local = start_local_env(tmp_path_factory.mktemp("flow2"), version=request.param)
    try:
        wait_for_dags(local, {"hello_mwaa", "etl_with_params", "daily_report"})
        yield local
    finally:
        stop(local)
