"""Ctrl-C in `mwaa run`: "nothing was sent" only when that is true; once the command went
out, that it may still be running on the environment (it does: the server finishes it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time


def _mwaa(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mwaa_cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # as a terminal's foreground job: a suite started in the background (`make test &`)
        # passes SIGINT on ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(proc: subprocess.Popen, after: float) -> tuple[int, str]:
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()


def test_ctrl_c_after_the_command_was_sent_says_it_may_still_run(aws_env, tmp_path):
    env = dict(os.environ, MWAA_CLI_HOME=str(tmp_path / "home"), MWAA_AIRFLOW_VERSION="3.3.1")
    proc = _mwaa(env, "run", "--env", "itest", "--", "variables", "get", "k", "sleep=2.5")
    code, err = _interrupt(proc, 1.5)  # the stand-in Airflow sleeps 2.5 s: in flight
    assert code == 130
    assert "'variables get' was already sent and may still be running" in err, err
    assert "nothing was sent" not in err and "sleep=2.5" not in err


def test_ctrl_c_before_anything_was_sent_says_so(tmp_path):
    # an endpoint that accepts the connection and never answers: CreateCliToken hangs
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MWAA_"))} | {
        "MWAA_CLI_HOME": str(tmp_path / "home"),
        "AWS_ENDPOINT_URL_MWAA": f"http://127.0.0.1:{silent.getsockname()[1]}",
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "MWAA_AIRFLOW_VERSION": "3.3.1",
    }
    try:
        proc = _mwaa(env, "run", "--env", "itest", "--", "dags", "list")
        code, err = _interrupt(proc, 2.0)
    finally:
        silent.close()
    assert code == 130
    assert "mwaa: aborted: nothing was sent" in err, err
