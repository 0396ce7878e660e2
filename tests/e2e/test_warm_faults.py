"""The warm executor isolates commands: a crash, a hang or an exit in one command never
affects the next one or the zygote, and a killed zygote is replaced."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from mwaa_cli.local.executor import WarmExecutor

from .conftest import prepared_home

DAGS = Path(__file__).with_name("fault_dags")


@pytest.fixture(scope="module")
def warm():
    root = Path(tempfile.mkdtemp(prefix="mwaa-faults-"))
    home = prepared_home(root, DAGS)
    executor = WarmExecutor.for_home(
        home,
        root / "z.sock",
        timeout=8,
        concurrency=2,
        output_limit=2 * 1024 * 1024,
    )
    executor.start()
    assert executor.run(["dags", "reserialize"]).exit_code == 0
    yield executor
    executor.stop()


def healthy(executor: WarmExecutor) -> None:
    result = executor.run(["dags", "list", "-o", "plain"])
    assert result.exit_code == 0 and b"faults" in result.stdout


def test_a_command_killed_by_a_signal_reports_it(warm):
    result = warm.run(["tasks", "test", "faults", "crash"])
    assert result.exit_code == -signal.SIGKILL
    healthy(warm)


def test_sys_exit_in_a_command_ends_only_that_command(warm):
    result = warm.run(["tasks", "test", "faults", "exit_3"])
    assert not result.timed_out
    assert b"exit_3" in result.stdout + result.stderr
    healthy(warm)


def test_a_hung_command_is_killed_with_its_children(warm):
    before = set(_sleepers())
    started = time.monotonic()
    result = warm.run(["tasks", "test", "faults", "spawn_and_hang"])
    assert result.timed_out and result.exit_code == -signal.SIGKILL
    assert 8 <= time.monotonic() - started < 30
    time.sleep(0.5)
    assert set(_sleepers()) - before == set()  # the grandchild died with its group
    healthy(warm)


def test_a_command_flooding_its_output_is_cut_and_stopped(warm):
    started = time.monotonic()
    result = warm.run(["tasks", "test", "faults", "flood"])
    assert time.monotonic() - started < 8  # stopped for its output, not its time
    assert result.output_cut and not result.timed_out
    assert len(result.stdout) <= 2 * 1024 * 1024
    assert b"it was stopped and its output cut here" in result.stderr
    healthy(warm)


def test_a_killed_zygote_is_replaced(warm):
    old = warm.pid
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)
    healthy(warm)
    assert warm.pid != old


def _sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == b"sleep\x00600\x00":
                found.append(int(entry.name))
        except OSError:
            pass
    return found
