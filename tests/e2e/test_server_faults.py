"""Faults around a real `mwaa local serve`: the metadata DB locked or missing, the server
stopped in the middle of a batch. Each gives the caller a clear error, the server keeps
serving, and nothing already written is lost.

Runs its own plain-HTTP (``--insecure-http``), CLI-only environment on the fault DAGs.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from mwaa_cli.errors import ExitStatus

from .conftest import BIN, alive, children_of, start_local_env, stop

DAGS = Path(__file__).with_name("fault_dags")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    local = start_local_env(
        tmp, "--no-scheduler", "--insecure-http", "--dags", str(DAGS), "--command-timeout", "10"
    )
    local.tmp = tmp
    try:  # stopped even when the set-up below fails
        assert local.endpoint.startswith("http://")
        assert local.mwaa("run", "--", "dags", "reserialize").returncode == 0
        assert local.mwaa("run", "--", "variables", "set", "keep", "me").returncode == 0
        yield local
    finally:
        stop(local)


def db(env) -> Path:
    return env.home / "airflow" / "airflow.db"


def still_there(env) -> None:
    got = env.mwaa("run", "--", "variables", "get", "keep")
    assert (got.returncode, got.stdout) == (0, b"me\n"), got.stderr


def test_command_killed_mid_run_reports_the_signal(env):
    out = env.mwaa("run", "--", "tasks", "test", "faults", "crash")
    assert out.returncode == 128 + signal.SIGKILL  # like a shell reports a killed process
    assert b"mwaa: the remote command was killed by SIGKILL (exit 137)" in out.stderr
    doc = env.mwaa("run", "--json", "--", "tasks", "test", "faults", "crash")
    assert json.loads(doc.stdout)["exit_code"] == -signal.SIGKILL
    still_there(env)


def test_command_past_the_time_limit_is_stopped_with_a_clear_error(env):
    started = time.monotonic()
    out = env.mwaa("run", "--", "tasks", "test", "faults", "spawn_and_hang")
    assert 10 <= time.monotonic() - started < 60
    assert out.returncode == ExitStatus.TIMEOUT
    assert b"timed out on the web server (504)" in out.stderr and b"Traceback" not in out.stderr
    still_there(env)


def test_locked_metadata_db_refuses_cleanly_then_recovers(env):
    holder = sqlite3.connect(db(env), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        out = env.mwaa("run", "--", "variables", "set", "while_locked", "x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert out.returncode == ExitStatus.UNAVAILABLE, out.stderr
    assert b"metadata database" in out.stderr and b"locked" in out.stderr
    assert b"Traceback" not in out.stderr
    assert env.mwaa("run", "--", "variables", "get", "while_locked").returncode == 1  # never ran
    still_there(env)


def test_missing_metadata_db_refuses_cleanly_and_is_not_recreated(env):
    moved = db(env).with_name("airflow.db.moved")
    db(env).rename(moved)
    try:
        out = env.mwaa("run", "--", "variables", "list")
        assert not db(env).exists()  # no empty DB was created in its place
        assert env.mwaa("envs").returncode == 0  # the control plane keeps serving
    finally:
        moved.rename(db(env))
    assert out.returncode == ExitStatus.UNAVAILABLE, out.stderr
    assert b"is missing" in out.stderr and b"Traceback" not in out.stderr
    still_there(env)


def _commands(server: int) -> list[int]:
    """Commands running under the server's warm executor (the zygote's children)."""
    zygotes = [
        pid
        for pid in children_of(server)
        if b"mwaa_cli.local.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    return [kid for z in zygotes for kid in children_of(z)]


def client_err(client: subprocess.Popen) -> bytes:
    """What the client wrote to stderr so far (non-blocking)."""
    if not hasattr(client, "err_seen"):
        client.err_seen = bytearray()
        os.set_blocking(client.stderr.fileno(), False)
    try:
        while chunk := os.read(client.stderr.fileno(), 65536):
            client.err_seen += chunk
    except BlockingIOError:
        pass
    return bytes(client.err_seen)


def test_server_stopped_mid_batch(env):
    batch = env.tmp / "batch.txt"
    batch.write_text(
        "variables set b1 one\nvariables set b2 two\ntasks test faults hang\nvariables set b3 x\n"
    )
    client = subprocess.Popen(
        [str(BIN / "mwaa"), "batch", str(batch)],
        env=env.aws_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (running := _commands(env.proc.pid)) or b"[2/4]" not in client_err(client):
        assert client.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(2)  # command 3 is well under way
    env.proc.send_signal(signal.SIGINT)
    os.set_blocking(client.stderr.fileno(), True)
    _, err = client.communicate(timeout=60)
    err = bytes(client.err_seen) + err
    assert env.proc.wait(60) == 0
    assert client.returncode == ExitStatus.UNAVAILABLE, err
    assert b"batch stopped at command 3 of 4 (tasks test faults hang)" in err
    assert b"stopping" in err and b"commands 1-2 completed, 1 not run" in err
    assert b"Traceback (most recent call last)" not in err.split(b"mwaa: error:")[-1]
    assert not [p for p in running if alive(p)]  # the killed command did not outlive it

    restarted = start_local_env(env.tmp, "--no-scheduler", "--insecure-http", "--dags", str(DAGS))
    try:
        run = restarted.mwaa
        assert run("run", "--", "variables", "get", "b1").stdout == b"one\n"
        assert run("run", "--", "variables", "get", "b2").stdout == b"two\n"
        assert run("run", "--", "variables", "get", "b3").returncode == 1
        still_there(restarted)
    finally:
        stop(restarted)
