"""The warden: starts, restarts and stops an environment's long-running processes, and
makes sure that none of them - nor anything they started - outlives the server.

Run by the server as ``python warden.py`` (standard library only, any interpreter), in its
own session so that a terminal's Ctrl-C reaches only the server. It is single-threaded and a
*child subreaper*: whatever a component leaves behind when it dies (LocalExecutor workers
that ignore SIGTERM, task processes) is re-parented to the warden instead of init, so it can
be found and killed. Components die with the warden (``PR_SET_PDEATHSIG``, safe here because
the warden has one thread).

Protocol, JSON lines.

stdin, from the server:
  ``{"op": "start", "name", "argv", "env", "log", "cwd", "nice", "user", "stop_signal"}``
  start (and keep restarting) it
  ``{"op": "retire", "name", "grace"}``  stop one for good (no restart), ``grace`` seconds
  ``{"op": "stop", "grace": 1.0}``  SIGTERM every component, SIGKILL what is left after
  ``grace`` seconds, then exit. End of file (the server died, even by SIGKILL) does the same.

stdout, to the server:
  ``{"event": "started", "name", "pid"}``
  ``{"event": "exited", "name", "pid", "code", "strays", "restart_in"}``  (restart_in: null
  when the warden gives up on it)
  ``{"event": "retired", "name", "how"}``
  ``{"event": "stopped", "stopped": {name: how}, "strays": n, "seconds": s}``
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_RESTARTS = 5  # in a row; a component that stayed up for STABLE seconds starts over
STABLE = 60.0


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(option, value)


def _die_with_warden() -> None:  # in the child, between fork and exec
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _starter(nice: int):
    """The child's set-up between fork and exec: dies with the warden, runs ``nice`` lower."""
    if not nice:
        return _die_with_warden

    def start() -> None:
        _die_with_warden()
        os.nice(nice)

    return start


def children(pid: int) -> list[int]:
    """Live direct children of ``pid`` (from /proc)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.append(int(entry))
    return found


def _kill(pid: int, sig: int, group: bool = True) -> None:
    with contextlib.suppress(OSError):
        (os.killpg if group else os.kill)(pid, sig)


def _identity(uid: int | None) -> dict:
    if uid is None:
        return {}
    import pwd

    entry = pwd.getpwuid(uid)
    return {"user": uid, "group": entry.pw_gid, "extra_groups": []}


class Component:
    def __init__(self, spec: dict) -> None:
        self.name: str = spec["name"]
        self.argv: list[str] = list(spec["argv"])
        self.env: dict[str, str] = dict(spec["env"])
        self.log: str = spec["log"]
        self.cwd: str | None = spec.get("cwd")
        self.nice: int = int(spec.get("nice") or 0)
        self.user: int | None = spec.get("user")  # uid to run as (root only: PostgreSQL)
        self.stop_signal: int = int(spec.get("stop_signal") or signal.SIGTERM)
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self.failures = 0
        self.restart_at: float | None = None

    def spawn(self) -> int:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signalled as a whole
                preexec_fn=_starter(self.nice),
                **_identity(self.user),
            )
        self.started = time.monotonic()
        self.restart_at = None
        return self.proc.pid


class Warden:
    def __init__(self, out=sys.stdout) -> None:
        self.out = out
        self.components: dict[str, Component] = {}
        self.stopping = False

    def emit(self, **event: object) -> None:
        try:
            self.out.write(json.dumps(event) + "\n")
            self.out.flush()
        except (OSError, ValueError):  # the server is gone: keep cleaning up regardless
            pass

    # -- components ------------------------------------------------------------------

    def start(self, spec: dict) -> None:
        comp = Component(spec)
        old = self.components.get(comp.name)
        if old is not None and old.proc is not None and old.proc.poll() is None:
            self._terminate([old], grace=1.0)
        self.components[comp.name] = comp
        self.emit(event="started", name=comp.name, pid=comp.spawn())

    def retire(self, name: str, grace: float) -> None:
        """Stop component ``name`` for good (a worker scaled down): its stop signal, up to
        ``grace`` seconds for what it runs to finish, then SIGKILL. Not restarted."""
        comp = self.components.pop(name, None)
        if comp is None:
            return
        comp.restart_at = None
        how = self._terminate([comp], grace)
        self.sweep(1.0)
        self.emit(event="retired", name=name, how=how.get(name, "exited"))

    def leaders(self) -> set[int]:
        return {
            c.proc.pid for c in self.components.values() if c.proc and c.proc.returncode is None
        }

    def kill_strays(self) -> int:
        """SIGKILL every child that is not a live component leader - what a dead component
        left behind, re-parented to us (the subreaper) - and whatever those leave behind in
        turn. Returns how many."""
        total = 0
        for _ in range(50):
            leaders = self.leaders()
            strays = [pid for pid in children(os.getpid()) if pid not in leaders]
            if not strays:
                break
            for pid in strays:
                _kill(pid, signal.SIGKILL, group=False)
                with contextlib.suppress(OSError):
                    if os.getpgid(pid) == pid:
                        _kill(pid, signal.SIGKILL)
            for pid in strays:  # reap them, so that their own children re-parent to us
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            total += len(strays)
        return total

    def reap(self) -> None:
        """Collect every exited child; handle components that exited."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            comp = next((c for c in self.components.values() if c.proc and c.proc.pid == pid), None)
            if comp is None or comp.proc is None:
                continue
            comp.proc.returncode = os.waitstatus_to_exitcode(status)
            _kill(pid, signal.SIGKILL)  # the rest of its process group (workers, tasks)
            if self.stopping:
                continue
            strays = self.sweep(1.0)
            now = time.monotonic()
            comp.failures = 1 if now - comp.started > STABLE else comp.failures + 1
            delay = None
            if comp.failures <= MAX_RESTARTS:
                delay = float(min(2**comp.failures, 10))
                comp.restart_at = now + delay
            self.emit(
                event="exited",
                name=comp.name,
                pid=pid,
                code=comp.proc.returncode,
                strays=strays,
                restart_in=delay,
                attempt=comp.failures,
                max_restarts=MAX_RESTARTS,
            )

    def restart_due(self) -> float | None:
        """Restart components whose back-off is over; the seconds until the next one."""
        now = time.monotonic()
        upcoming = []
        for comp in self.components.values():
            if comp.restart_at is None or self.stopping:
                continue
            if comp.restart_at <= now:
                self.emit(event="started", name=comp.name, pid=comp.spawn(), restarted=True)
            else:
                upcoming.append(comp.restart_at - now)
        return min(upcoming) if upcoming else None

    def _terminate(self, comps: list[Component], grace: float) -> dict[str, str]:
        """SIGTERM the groups of ``comps`` at once, wait up to ``grace``, SIGKILL the rest."""
        how: dict[str, str] = {}
        live = [c for c in comps if c.proc is not None and c.proc.poll() is None]
        for comp in live:
            _kill(comp.proc.pid, comp.stop_signal)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace
        pending = list(live)
        while pending and time.monotonic() < deadline:
            time.sleep(0.02)
            pending = [c for c in pending if c.proc.poll() is None]  # type: ignore[union-attr]
        for comp in live:
            killed = comp in pending
            how[comp.name] = "SIGKILL" if killed else "SIGTERM"
            _kill(comp.proc.pid, signal.SIGKILL)  # the group: workers may ignore SIGTERM
        for comp in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                comp.proc.wait(timeout=2)  # type: ignore[union-attr]
        return how

    def sweep(self, seconds: float = 2.0) -> int:
        """Kill strays until none has appeared for a while (at most ``seconds``): a process
        in a group of its own (Airflow 3's task processes) becomes our child only once the
        parent that was just killed has exited."""
        total, quiet, deadline = 0, 0, time.monotonic() + seconds
        while quiet < 3 and time.monotonic() < deadline:
            found = self.kill_strays()
            total += found
            quiet = 0 if found else quiet + 1
            time.sleep(0.05)
        return total

    def stop(self, grace: float) -> None:
        started = time.monotonic()
        self.stopping = True
        how = self._terminate(list(self.components.values()), grace)
        strays = self.sweep()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        self.emit(
            event="stopped",
            stopped=how,
            strays=strays,
            seconds=round(time.monotonic() - started, 3),
        )

    # -- main loop -------------------------------------------------------------------

    def serve(self, control) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        stop_signal: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: stop_signal.append(signum))
        sel = selectors.DefaultSelector()
        sel.register(control, selectors.EVENT_READ)
        sel.register(wake_r, selectors.EVENT_READ)
        buffer = b""
        grace = 1.0
        while not stop_signal:
            timeout = self.restart_due()
            for key, _ in sel.select(timeout):
                if key.fileobj == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 4096):
                            pass
                    continue
                chunk = os.read(control.fileno(), 65536)
                if not chunk:  # the server is gone
                    stop_signal.append(0)
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    if request["op"] == "start":
                        self.start(request)
                    elif request["op"] == "retire":
                        self.retire(request["name"], float(request.get("grace", 60.0)))
                    elif request["op"] == "stop":
                        grace = float(request.get("grace", grace))
                        stop_signal.append(0)
            self.reap()
        self.stop(grace)


def main() -> None:
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    Warden().serve(sys.stdin.buffer)


if __name__ == "__main__":
    main()
