"""The warden with real processes: restarts, leftovers of a crashed component, a fast
parallel stop, and nothing outliving a server killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mwaa_cli.local.supervisor import Supervisor
from mwaa_cli.local.warden import children

# a leader with a worker in its group, one that leaves the group (setsid), and a worker
# that ignores SIGTERM (as LocalExecutor workers do)
FAMILY = "sleep 300 & setsid sleep 301 & (trap '' TERM; sleep 302) & wait"
STUBBORN = "trap '' TERM; sleep 303 & wait"


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for kid in children(todo.pop()):
            found.add(kid)
            todo.append(kid)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_crashed_component_is_restarted_and_its_leftovers_killed(tmp_path):
    said: list[str] = []
    sup = Supervisor(["sh", "-c"], dict(os.environ), tmp_path, report=said.append)
    try:
        sup.start({"family": [FAMILY]})
        wait_for(
            lambda: sup.components.get("family") and len(descendants(sup.components["family"])) >= 3
        )
        leader = sup.components["family"]
        family = descendants(leader)
        os.kill(leader, signal.SIGKILL)  # the leader only, as a crash would
        wait_for(lambda: sup.components["family"] not in (0, leader), timeout=15)
        assert not [p for p in family if alive(p)]  # the setsid one and the stubborn one too
        assert any("family exited with code -9" in line and "restarting" in line for line in said)
        assert any("killed" in line and "left behind" in line for line in said)
    finally:
        report = sup.stop()
    assert "family" in report.stopped


def test_stop_is_parallel_and_kills_what_ignores_sigterm(tmp_path):
    sup = Supervisor(["sh", "-c"], dict(os.environ), tmp_path, report=lambda _: None)
    sup.start({"a": [STUBBORN], "b": [STUBBORN], "c": ["sleep 300"]})
    wait_for(lambda: all(sup.components.values()) and len(descendants(sup.warden_pid)) >= 5)
    everything = descendants(sup.warden_pid) | {sup.warden_pid}
    started = time.monotonic()
    report = sup.stop(grace=0.5)
    took = time.monotonic() - started
    assert took < 2.0  # one grace period for all of them, not one each
    assert report.stopped == {"a": "SIGKILL", "b": "SIGKILL", "c": "SIGTERM"}
    wait_for(lambda: not [p for p in everything if alive(p)], timeout=3)
    assert "a (SIGKILL)" in report.describe()


def test_nothing_outlives_a_server_killed_with_sigkill(tmp_path):
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import os, sys, time
                from pathlib import Path
                from mwaa_cli.local.supervisor import Supervisor
                sup = Supervisor(["sh", "-c"], dict(os.environ), Path({str(tmp_path)!r}))
                sup.start({{"family": [{FAMILY!r}], "stubborn": [{STUBBORN!r}]}})
                print(sup.warden_pid, flush=True)
                time.sleep(300)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    warden = int(server.stdout.readline())
    wait_for(lambda: len(descendants(warden)) >= 6)
    everything = descendants(server.pid)
    server.kill()
    server.wait()
    wait_for(lambda: not [p for p in everything if alive(p)], timeout=5)


IN_GROUP = "sleep 304 & (trap '' TERM; sleep 305) & wait"  # workers in the leader's group


def test_a_warden_killed_with_sigkill_is_replaced_and_its_components_run_again(tmp_path):
    """kill -9 of the warden: its components die with it (PDEATHSIG), their workers are
    killed by process group, and a new warden starts every component again."""
    said: list[str] = []
    sup = Supervisor(["sh", "-c"], dict(os.environ), tmp_path, report=said.append)
    try:
        sup.start({"family": [IN_GROUP], "solo": ["sleep 306"]})
        wait_for(
            lambda: sup.components.get("family") and len(descendants(sup.components["family"])) >= 2
        )
        wait_for(lambda: sup.components.get("solo"))
        old_warden = sup.warden_pid
        workers = descendants(sup.components["family"])
        old = dict(sup.components)
        os.kill(old_warden, signal.SIGKILL)
        wait_for(lambda: sup.warden_pid not in (None, old_warden), timeout=15)
        wait_for(lambda: all(sup.components.get(n) not in (0, old[n]) for n in old), timeout=15)
        wait_for(lambda: not [p for p in workers if alive(p)], timeout=10)
        assert sup.warden_restarts == 1
        assert any("the warden exited" in line for line in said), said
        assert all(alive(pid) for pid in sup.components.values())
    finally:
        report = sup.stop()
    assert set(report.stopped) == {"family", "solo"}
