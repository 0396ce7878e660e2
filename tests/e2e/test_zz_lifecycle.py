"""Supervision and shutdown of the shared local environment (runs last: it stops it)."""

import os
import signal
import time
from pathlib import Path

from .conftest import alive, children_of, stop


def test_crashed_component_is_reported_and_restarted(local_env):
    kids = children_of(local_env.proc.pid)
    assert len(kids) >= 4  # api-server, scheduler, dag-processor, triggerer
    triggerer = next(p for p in kids if b"triggerer" in Path(f"/proc/{p}/cmdline").read_bytes())
    os.killpg(triggerer, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while "triggerer exited" not in local_env.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "triggerer exited with code -9; restarting" in local_env.stderr_text()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(children_of(local_env.proc.pid)) < len(kids):
        time.sleep(0.5)
    assert len(children_of(local_env.proc.pid)) == len(kids)


def test_ctrl_c_stops_everything(local_env):
    kids = children_of(local_env.proc.pid)
    groups = {os.getpgid(p) for p in kids}
    assert stop(local_env) == 0
    assert "stopped in" in local_env.stderr_text()
    assert not [p for p in kids if alive(p)]
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) in groups and alive(int(entry)):
                    leftovers.append(int(entry))
            except ProcessLookupError:
                pass
    assert leftovers == []
