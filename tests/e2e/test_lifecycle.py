"""Supervision and shutdown of a full local environment running beside the shared one:
two environments side by side, only loopback sockets, a crashed component's leftovers,
Ctrl-C, and a server killed with SIGKILL taking everything with it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from .conftest import (
    BIN,
    alive,
    component_pid,
    descendants,
    listening_sockets,
    start_local_env,
    stop,
    wait_for_dags,
)

LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def second(tmp_path_factory, local_env):
    """A second full environment while the shared one (``local_env``) runs, with the
    scheduler's health check server on (it listens on all interfaces by default)."""
    env = start_local_env(
        tmp_path_factory.mktemp("second"), "--airflow-config", "scheduler.enable_health_check=True"
    )
    try:
        wait_for_dags(env, {"hello_mwaa"})
        yield env
    finally:
        if env.proc.poll() is None:
            stop(env)


def wait_until(predicate, timeout: float, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message or "timed out"
        time.sleep(0.25)


def test_two_environments_side_by_side_listen_on_loopback_only(local_env, second):
    for env in (local_env, second):
        tree = descendants(env.proc.pid) | {env.proc.pid}
        sockets = listening_sockets(tree)
        assert sockets, "the endpoint and the API server listen"
        assert {address for _, address, _ in sockets} <= LOOPBACK, sockets
        ports = {port for _, _, port in sockets}
        assert not ports & {8793, 8794}  # no log servers on Airflow's fixed ports
        assert env.mwaa("run", "--", "dags", "list", "-o", "plain").returncode == 0
    # the scheduler's health check server is on in the second one: on loopback too
    assert 8974 in {port for _, _, port in listening_sockets(descendants(second.proc.pid))}
    # neither environment's scheduler crashed for a port the other holds
    assert "exited with code" not in local_env.stderr_text() + second.stderr_text()


def test_a_killed_scheduler_is_restarted_and_its_workers_go_with_it(second):
    scheduler = component_pid(second.proc.pid, "scheduler")
    assert scheduler is not None
    workers = descendants(scheduler)
    assert workers, "LocalExecutor keeps worker processes"
    os.kill(scheduler, signal.SIGKILL)
    wait_until(lambda: "scheduler exited with code -9" in second.stderr_text(), 30)
    wait_until(lambda: component_pid(second.proc.pid, "scheduler") not in (None, scheduler), 30)
    wait_until(lambda: not [p for p in workers if alive(p)], 10, "orphaned workers survived")
    # and runs still execute on the new scheduler
    assert second.mwaa("run", "--", "dags", "unpause", "hello_mwaa").returncode == 0
    assert second.mwaa("run", "--", "dags", "trigger", "hello_mwaa").returncode == 0
    wait_until(
        lambda: (
            b"success"
            in second.mwaa("run", "--", "dags", "list-runs", "hello_mwaa", "-o", "plain").stdout
        ),
        120,
        "the run did not succeed after the restart",
    )


def test_ctrl_c_stops_every_process_quickly(second):
    tree = descendants(second.proc.pid)
    assert len(tree) >= 6  # warden, fork-server, components and their workers
    started = time.monotonic()
    assert stop(second) == 0
    took = time.monotonic() - started
    text = second.stderr_text()
    assert "stopped in" in text and "scheduler (" in text and "fork-server" in text
    assert took < 10  # bench/shutdown.py measures it; the target is 2 s
    wait_until(lambda: not [p for p in tree if alive(p)], 5, "processes survived Ctrl-C")


@pytest.mark.slow
def test_a_server_killed_with_sigkill_takes_everything_with_it(tmp_path):
    env = start_local_env(tmp_path)
    try:
        wait_until(lambda: component_pid(env.proc.pid, "scheduler") is not None, 60)
        wait_until(lambda: descendants(component_pid(env.proc.pid, "scheduler") or 0), 60)
        tree = descendants(env.proc.pid)
        env.proc.kill()
        env.proc.wait()
        wait_until(lambda: not [p for p in tree if alive(p)], 10, "processes outlived the server")
    finally:
        if env.proc.poll() is None:
            env.proc.kill()


@pytest.mark.slow
def test_ctrl_c_the_moment_the_banner_appears_still_stops(tmp_path):
    """A signal that arrives before uvicorn installs its handlers is not lost (it used to be
    swallowed by asyncio's start-up handling, and the server ran on)."""
    for round_ in range(3):
        env = start_local_env(tmp_path / str(round_), "--no-scheduler")  # returns at the banner
        tree = descendants(env.proc.pid)
        env.proc.send_signal(signal.SIGINT)
        assert env.proc.wait(30) == 0, env.stderr_text()
        wait_until(lambda t=tree: not any(alive(p) for p in t), 10, "processes left")


def test_a_stopped_environment_is_named_with_how_to_start_it(second):
    """After Ctrl-C: `mwaa run --env local` and `mwaa doctor` say the local environment is
    stopped and how to start it, not "no region" or "STS cannot be reached"."""
    if second.proc.poll() is None:
        stop(second)
    env = {k: v for k, v in second.aws_environ().items() if not k.startswith(("AWS_", "MWAA_"))}
    env |= {
        "MWAA_CLI_HOME": str(second.state_dir),
        "AWS_CONFIG_FILE": str(second.state_dir.parent / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(second.state_dir.parent / "aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "MWAA_CLI_CONFIG": "/nonexistent/config.toml",
    }
    run = second.mwaa("run", "--env", "local", "--", "dags", "list", env=env)
    assert run.returncode != 0
    assert b"is stopped: start it with `mwaa local serve --name local`" in run.stderr, run.stderr
    doctor = second.mwaa("doctor", "--env", "local", "--profile", "mwaa-local", env=env)
    assert doctor.returncode == 1
    text = doctor.stdout.decode() + doctor.stderr.decode()
    assert "the local environment 'local' is not running" in text, text
    assert "mwaa local serve --name local" in text and "STS" not in text


@pytest.mark.parametrize("how", ["SIGTERM", "stdin closed"])
def test_a_stop_during_the_start_leaves_no_startup_script_running(tmp_path, how):
    """`mwaa local down` (SIGTERM) or the region dying (its pipe on stdin closes) while the
    startup script runs: the script and what it started end with the server."""
    import subprocess

    pidfile = tmp_path / "sleep.pid"
    script = tmp_path / "startup.sh"
    script.write_text(f"sleep 300 &\necho $! > {pidfile}\nwait\n")
    env = dict(
        os.environ,
        MWAA_CLI_HOME=str(tmp_path / "state"),
        AWS_CONFIG_FILE=str(tmp_path / "aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws" / "credentials"),
    )
    proc = subprocess.Popen(
        [str(BIN / "mwaa"), "local", "serve", "--port", "0", "--no-scheduler",
         "--startup-script", str(script), "--exit-with-stdin"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 120, "no script")
        sleeper = int(pidfile.read_text())
        assert alive(sleeper)
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            proc.stdin.close()
        proc.wait(60)
        wait_until(lambda: not alive(sleeper), 10, "the startup script outlived the server")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_in_the_background_with_status_logs_and_stop(tmp_path):
    """`mwaa local serve --background` returns once every component answers; `mwaa local
    status`, `logs` and `stop` know it as they know the region's environments."""
    import json
    import subprocess

    env = dict(
        os.environ,
        MWAA_CLI_HOME=str(tmp_path / "state"),
        AWS_CONFIG_FILE=str(tmp_path / "aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws" / "credentials"),
    )

    def mwaa(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "mwaa"), *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    started = mwaa(
        "local", "serve", "--background", "--name", "bg", "--port", "0", "--no-scheduler"
    )
    assert started.returncode == 0, started.stderr
    assert "mwaa local environment 'bg' is up" in started.stdout
    assert "`mwaa local stop bg` stops it" in started.stdout
    status = json.loads(mwaa("local", "status", "--json").stdout)
    [bg] = [e for e in status["serve"] if e["name"] == "bg"]
    assert bg["running"] and bg["ready"] and bg["endpoint"].startswith("https://127.0.0.1:")
    assert alive(bg["pid"])
    ran = mwaa("run", "--env", "bg", "--", "version")
    assert ran.returncode == 0, ran.stderr
    logs = mwaa("local", "logs", "bg")
    assert logs.returncode == 0 and "is up - Apache Airflow" in logs.stdout
    table = mwaa("local", "status").stdout
    assert "bg" in table and "serving" in table
    stopped = mwaa("local", "stop", "bg")
    assert stopped.returncode == 0 and f"stopped 'bg' (pid {bg['pid']})" in stopped.stdout
    wait_until(lambda: not alive(bg["pid"]), 30, "the server outlived stop")
    after = json.loads(mwaa("local", "status", "--json").stdout)
    assert [e["running"] for e in after["serve"] if e["name"] == "bg"] == [False]
    assert "'bg' is not running" in mwaa("local", "stop", "bg").stdout
