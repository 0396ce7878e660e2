"""The Celery backend end to end: a real PostgreSQL server, moto's SQS server as the broker,
Airflow's Celery workers scaled by the environment - driven by the real client, boto3 and
Airflow's REST API (through InvokeRestApi).

One environment (mw1.micro: 3 tasks per worker, 1-3 workers, 2 schedulers) is shared by the
module: the seed flow runs in `make test`; the fan-out/autoscaling and kill -9 tests are
slow (`make test-slow`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from mwaa_cli.local.postgres import find_bindir

from .conftest import LocalEnv, alive, free_port, start_local_env, stop, wait_for_dags

DAGS = Path(__file__).parent / "celery_dags"
PER_WORKER = 3  # mw1.micro
MAX_WORKERS = 3


def _postgres_or_skip() -> None:
    try:
        find_bindir()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (.ci/run installs PostgreSQL)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def celery_env(tmp_path_factory):
    _postgres_or_skip()
    local = start_local_env(
        tmp_path_factory.mktemp("celery"),
        *("--backend", "celery", "--environment-class", "mw1.micro"),
        *("--min-workers", "1", "--max-workers", str(MAX_WORKERS), "--schedulers", "2"),
        *("--scale-down-after", "10", "--dags", str(DAGS), "--rest-timeout", "30"),
        # a task whose worker died is failed (then retried) 20 s after its last heartbeat
        *("--airflow-config", "scheduler.task_instance_heartbeat_timeout=20"),
        *("--airflow-config", "scheduler.task_instance_heartbeat_timeout_detection_interval=5"),
    )
    try:
        wait_for_dags(local, {"fan_out", "long_task", "quick"})
        yield local
    finally:
        code = stop(local)
        assert code == 0, local.stderr_text()[-3000:]
        # every process of the environment ended: Postgres and the broker included
        pids = _pids_with(str(local.home))
        assert not pids, f"left running: {pids}"
        assert "stopped postgres" in local.stderr_text()


def _pids_with(text: str) -> list[int]:
    """Processes whose command line or environment mentions ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            data = Path(f"/proc/{entry}/cmdline").read_bytes()
            data += Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if text.encode() in data and alive(int(entry)):
            found.append(int(entry))
    return found


def _api(env: LocalEnv, method: str, path: str, *more: str) -> dict:
    done = env.mwaa("api", method, path, *more)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def _trigger(env: LocalEnv, dag_id: str) -> str:
    _api(env, "patch", f"/dags/{dag_id}", "--body", '{"is_paused": false}')
    body = '{"logical_date": null}' if env.airflow_version.startswith("3.") else "{}"
    run = _api(env, "post", f"/dags/{dag_id}/dagRuns", "--body", body)
    return run["dag_run_id"]


def _wait_run(env: LocalEnv, dag_id: str, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = _api(env, "get", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(1)


def _task_instances(env: LocalEnv, dag_id: str, run_id: str) -> list[dict]:
    doc = _api(env, "get", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "--paginate")
    return doc["task_instances"]


def _workers(env: LocalEnv) -> dict:
    return json.loads((env.home / "run" / "workers.json").read_text())


def test_seed_flow_on_celery(celery_env):
    """The client's flow, unchanged, on Postgres + Celery: CLI commands, a triggered run that
    a Celery worker executes, the AWS control plane through boto3."""
    _seed_flow(celery_env)


@pytest.mark.slow
def test_seed_flow_on_celery_with_airflow_2(tmp_path):
    """The same on Airflow 2.10.3 (celery provider 3.8, kombu 5.4: the version most MWAA
    environments run), one worker and one scheduler."""
    _postgres_or_skip()
    env = start_local_env(
        tmp_path,
        *("--backend", "celery"),
        *("--environment-class", "mw1.micro", "--min-workers", "1", "--max-workers", "2"),
        *("--schedulers", "1", "--dags", str(DAGS), "--rest-timeout", "30"),
        version="2.10.3",
    )
    try:
        wait_for_dags(env, {"fan_out", "long_task", "quick"})
        _seed_flow(env)
    finally:
        code = stop(env)
        assert code == 0, env.stderr_text()[-3000:]
        assert not _pids_with(str(env.home))


def _seed_flow(env: LocalEnv) -> None:
    listed = env.mwaa("run", "--", "dags", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr.decode()
    assert {"fan_out", "long_task", "quick"} <= {
        d["dag_id"] for d in json.loads(listed.stdout.decode().splitlines()[-1])
    }
    run_id = _trigger(env, "quick")
    assert _wait_run(env, "quick", run_id) == "success"
    (ti,) = _task_instances(env, "quick", run_id)
    assert ti["hostname"].startswith("worker-"), ti  # run by a Celery worker, named
    mwaa = env.boto3_mwaa()
    token = mwaa.create_cli_token(Name=env.name)
    assert token["CliToken"] and token["WebServerHostname"]
    variables = env.mwaa("run", "--", "variables", "set", "on_postgres", "yes")
    assert variables.returncode == 0, variables.stderr.decode()
    got = env.mwaa("run", "--", "variables", "get", "on_postgres")
    assert got.stdout.decode().strip().splitlines()[-1] == "yes"
    banner = env.stderr_text()
    assert "CeleryExecutor" in banner and "worker-1" in banner


@pytest.mark.slow
def test_fan_out_scales_up_respects_concurrency_and_scales_back(celery_env):
    """50 tasks: the workers go from 1 to MaxWorkers (queued + running / tasks per worker),
    no worker runs more than its class allows at once, every task succeeds, and once idle
    the environment is back to MinWorkers."""
    env = celery_env
    assert _workers(env)["count"] == 1
    run_id = _trigger(env, "fan_out")
    peak = 1
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        peak = max(peak, _workers(env)["count"])
        state = _api(env, "get", f"/dags/fan_out/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(1)
    assert state == "success"
    assert peak == MAX_WORKERS, _workers(env)
    tis = _task_instances(env, "fan_out", run_id)
    assert len(tis) == 50 and {t["state"] for t in tis} == {"success"}
    hosts = {t["hostname"] for t in tis}
    assert len(hosts) >= 2, hosts  # the work was shared
    for host in hosts:
        spans = [
            (_stamp(t["start_date"]), _stamp(t["end_date"])) for t in tis if t["hostname"] == host
        ]
        assert _most_at_once(spans) <= PER_WORKER, (host, spans)
    deadline = time.monotonic() + 120
    while _workers(env)["count"] > 1 and time.monotonic() < deadline:
        time.sleep(1)
    status = _workers(env)
    assert status["count"] == 1, status
    assert any("scaled down" in e for e in status["events"]), status["events"]


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _worker_pid(name: str) -> int:
    """The main process of the worker component ``name`` (by the title Celery gives it)."""
    wanted = f"[celeryd: {name}@".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(wanted) and b":MainProcess]" in title:
            return int(entry)
    raise AssertionError(f"no process for {name}")


@pytest.mark.slow
def test_worker_killed_mid_task_the_task_is_retried(celery_env):
    """kill -9 of the worker running a task: the task is failed by its missed heartbeats,
    retried, and the run succeeds - nothing lost."""
    env = celery_env
    run_id = _trigger(env, "long_task")
    deadline = time.monotonic() + 180
    while True:
        (ti,) = _task_instances(env, "long_task", run_id)
        if ti["state"] == "running" and ti["hostname"]:
            break
        assert time.monotonic() < deadline, ti
        time.sleep(1)
    worker = ti["hostname"].split("@")[0]
    os.kill(_worker_pid(worker), signal.SIGKILL)
    assert _wait_run(env, "long_task", run_id, timeout=400) == "success"
    (ti,) = _task_instances(env, "long_task", run_id)
    assert ti["state"] == "success" and ti["try_number"] == 2, ti
    assert worker in env.stderr_text()  # the warden said it exited and restarted it


@pytest.mark.slow
def test_a_scheduler_killed_the_other_keeps_runs_going(celery_env):
    """Schedulers=2: kill -9 one scheduler, a run triggered right away still succeeds."""
    env = celery_env
    pids = [p for p in _pids_with(str(env.home)) if _is_scheduler(p)]
    assert len(pids) >= 2, pids
    os.kill(pids[0], signal.SIGKILL)
    run_id = _trigger(env, "quick")
    assert _wait_run(env, "quick", run_id, timeout=180) == "success"


def _is_scheduler(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"scheduler" in argv[:3] and os.getpgid(pid) == pid


@pytest.mark.slow
def test_region_sizes_celery_environments_as_mwaa_and_mixes_backends(tmp_path):
    """`mwaa local up --backend celery`: CreateEnvironment with the AWS CLI's sizing flags
    gives a Postgres + Celery environment sized by them; the tag mwaa-local:backend=sqlite
    puts another environment of the same region on SQLite; `down` ends every process."""
    _postgres_or_skip()
    from .test_region import Region

    bucket = tmp_path / "bucket"
    (bucket / "dags").mkdir(parents=True)
    (bucket / "dags" / "quick.py").write_bytes((DAGS / "quick.py").read_bytes())
    region = Region(tmp_path, free_port(), {})
    region.up_env = region.base_env()
    up = region.mwaa(
        "local", "up", "--port", str(region.port), "--no-profile", "--backend", "celery",
        "--bucket", f"teambucket={bucket}", env=region.up_env, timeout=600,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr.decode()[-3000:]
    region.env = {**region.base_env(), **_exports(tmp_path / "home" / "region" / "env.sh")}
    pids: set[int] = set()
    try:
        common = (
            "--execution-role-arn", "arn:aws:iam::123456789012:role/mwaa",
            "--source-bucket-arn", "arn:aws:s3:::teambucket", "--dag-s3-path", "dags",
            "--network-configuration", "SubnetIds=subnet-1,subnet-2,SecurityGroupIds=sg-1",
            "--airflow-version", "3.3.1",
        )  # fmt: skip
        region.aws(
            "create-environment", "--name", "big", *common, "--environment-class", "mw1.medium",
            "--min-workers", "1", "--max-workers", "4", "--schedulers", "2",
        )  # fmt: skip
        region.aws(
            "create-environment", "--name", "small", *common,
            "--tags", "mwaa-local:backend=sqlite",
        )  # fmt: skip
        for name in ("big", "small"):
            region.wait(name, {"AVAILABLE"}, timeout=900)
        big = region.aws("get-environment", "--name", "big")["Environment"]
        assert (big["MinWorkers"], big["MaxWorkers"], big["Schedulers"]) == (1, 4, 2)
        assert "Workers" not in json.dumps(big).replace("MinWorkers", "").replace(
            "MaxWorkers", ""
        )  # the shape stays MWAA's: no field of ours
        homes = {p.parents[2].name: p.parents[1] for p in tmp_path.rglob("run/workers.json")}
        assert set(homes) == {"big"}, homes
        status = json.loads((homes["big"] / "run" / "workers.json").read_text())
        assert (status["min_workers"], status["max_workers"]) == (1, 4)
        assert status["tasks_per_worker"] == 10  # mw1.medium
        small_db = [p for p in tmp_path.rglob("airflow/airflow.db") if "small" in str(p)]
        assert small_db, "small is not on SQLite"
        for name in ("big", "small"):
            region.wait_dags(name, "quick")
        listing = region.mwaa("local", "status")
        assert listing.returncode == 0
        assert "workers 1 (1-4, 10 tasks each)" in listing.stdout.decode(), listing.stdout.decode()
        pids = region.env_pids()
    finally:
        region.mwaa("local", "down", timeout=300)
    deadline = time.monotonic() + 60
    while {p for p in pids if alive(p)} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not {p for p in pids if alive(p)}
    assert not _pids_with(str(tmp_path / "home"))


def _exports(env_sh: Path) -> dict[str, str]:
    import shlex

    found = {}
    for line in env_sh.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[7:].partition("=")
            found[key] = shlex.split(value)[0]
    return found


def _netns(tag: str):
    """A network namespace joined to this one by a veth pair: (run-in-it argv prefix, the
    host side's address, cleanup)."""
    import shutil
    import subprocess

    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2 (ip netns)")
    ns, host_if, ns_if = f"mwaa-{tag}", f"vh{tag}", f"vn{tag}"
    octet = 100 + os.getpid() % 100
    host_ip, ns_ip = f"10.231.{octet}.1", f"10.231.{octet}.2"

    def ip(*argv: str) -> None:
        subprocess.run(["ip", *argv], check=True, capture_output=True)

    def cleanup() -> None:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)

    cleanup()
    try:
        ip("netns", "add", ns)
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", ns)
        ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        cleanup()
        pytest.skip(f"ip netns does not work here: {exc.stderr.decode().strip()}")
    return ["ip", "netns", "exec", ns], host_ip, cleanup


@pytest.mark.slow
def test_a_worker_joins_from_another_network_namespace(tmp_path):
    """An environment bound to a veth address; `mwaa local worker --join` in another network
    namespace fetches the kit over HTTPS with the key pair, reaches Postgres and the broker
    on that address only, and runs some of a fan-out's tasks; status lists it."""
    import subprocess

    from .conftest import BIN

    _postgres_or_skip()
    prefix, host_ip, cleanup = _netns(str(os.getpid() % 10000))
    env = None
    joined = None
    try:
        env = start_local_env(
            tmp_path,
            *("--backend", "celery", "--environment-class", "mw1.micro", "--host", host_ip),
            *("--min-workers", "1", "--max-workers", "1", "--schedulers", "1"),
            *("--dags", str(DAGS), "--rest-timeout", "30"),
            host=host_ip,
        )
        wait_for_dags(env, {"fan_out"})
        worker_env = {
            **env.aws_environ(),
            "MWAA_CLI_HOME": str(tmp_path / "elsewhere"),
            "NO_PROXY": "*",
        }
        joined = subprocess.Popen(
            [*prefix, str(BIN / "mwaa"), "local", "worker", "--join", env.endpoint,
             "--env", env.name, "--name", "remote-1"],
            env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        said: list[str] = []
        import threading

        from .conftest import _pump

        threading.Thread(target=_pump, args=(joined.stdout, said), daemon=True).start()
        deadline = time.monotonic() + 600
        log = tmp_path / "elsewhere" / "workers" / env.name / "remote-1" / "worker.log"
        while not (log.exists() and b" ready." in log.read_bytes()):
            assert joined.poll() is None, "".join(said)
            assert time.monotonic() < deadline, "".join(said)
            time.sleep(1)
        status = env.mwaa("local", "status", "--json")
        assert "remote-1" in status.stdout.decode(), status.stdout.decode()
        run_id = _trigger(env, "fan_out")
        assert _wait_run(env, "fan_out", run_id, timeout=600) == "success"
        hosts = {t["hostname"].split("@")[0] for t in _task_instances(env, "fan_out", run_id)}
        assert "remote-1" in hosts, hosts
    finally:
        if joined is not None and joined.poll() is None:
            joined.send_signal(signal.SIGINT)
            try:
                joined.wait(60)
            except subprocess.TimeoutExpired:
                joined.kill()
        if env is not None:
            stop(env)
        cleanup()


def test_a_worker_that_cannot_reach_the_db_or_broker_says_which(tmp_path):
    """Before it starts, a joining worker checks the metadata DB and the broker: each one it
    cannot reach is named, with the address."""
    from mwaa_cli.local.joining import JoinError, _reachable

    closed = free_port()
    with pytest.raises(JoinError, match=f"metadata DB at 127.0.0.1:{closed}"):
        _reachable(
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://u:p@127.0.0.1:{closed}/x"}
        )
