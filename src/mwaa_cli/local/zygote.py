"""The warm fork-server: import Airflow once, then fork one child per CLI command.

Run as ``python zygote.py SOCKET [AIRFLOW_SCRIPT]`` (by path: it imports only the standard
library until it imports Airflow) with the environment's Airflow settings and a pipe on stdin:
end-of-file there means the server is gone, and the zygote ends its commands and exits. It
is single-threaded and holds no DB connection. Protocol on the Unix socket, one connection
per command:

- request: ``sendmsg`` of a 4-byte length with two fds (the child's stdout and stderr), then
  that many bytes of JSON ``{"argv": [...]}``;
- replies: ``{"pid": N}\\n`` once the child is forked (it leads its own process group, so
  the caller can kill it), then ``{"exit_code": N}\\n`` when it has been reaped (negative:
  killed by that signal, as with ``subprocess``).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys

# The command modules behind MWAA's allowlist: imported once here, not per command.
PRELOAD = [
    "airflow.cli.commands.asset_command",
    "airflow.cli.commands.backfill_command",
    "airflow.cli.commands.cheat_sheet_command",
    "airflow.cli.commands.connection_command",
    "airflow.cli.commands.dag_command",
    "airflow.cli.commands.db_command",
    "airflow.cli.commands.pool_command",
    "airflow.cli.commands.provider_command",
    "airflow.cli.commands.task_command",
    "airflow.cli.commands.variable_command",
    "airflow.cli.commands.version_command",
    # imported lazily by common commands (measured in a child: sys.modules before/after)
    "airflow.__main__",
    "airflow.timetables.trigger",
    "airflow.sdk.execution_time.cache",
    "airflow.dag_processing.collection",
    "airflow.dag_processing.bundles.local",
    "airflow.providers.standard.operators.bash",
    "airflow.providers.standard.operators.python",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.sensors.time",
    "airflow.sdk.bases.decorator",
    "airflow.sdk.bases.sensor",
    "airflow.sdk.definitions.decorators",
    "asgiref.sync",
    "packaging.requirements",
    "rich._emoji_codes",
    # found in children (sys.modules before/after) of DAG-parsing and rendering commands
    "airflow.providers.standard.operators.empty",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.standard.sensors.external_task",
    "airflow.providers.standard.triggers.external_task",
    "airflow.providers.standard.hooks.filesystem",
    "airflow.providers.common.compat.openlineage.check",
    "airflow.providers.smtp.hooks.smtp",
    "airflow.version",
    "email.mime.multipart",
    "email.mime.text",
    "email.mime.application",
    "jinja2.ext",
    "pygments.lexers.data",
]


def _already_synchronized(*args, **kwargs) -> None:
    """``synchronize_log_template`` after the zygote ran it once (see :func:`warm_up`)."""


def warm_up() -> None:
    """Do once what Airflow otherwise does lazily on first use in every command.

    - ``synchronize_log_template``: every DB command reflects the ``log_template`` table and
      compares it with the config (about 10 ms); the config cannot change under a running
      zygote (it is restarted when it does), so once is enough.
    - the metrics registry (Airflow 3.3): a YAML file parsed on the first ``Stats`` call,
      tens of milliseconds in every command that triggers a run or clears a task.
    """
    try:
        from airflow.utils import db

        db.synchronize_log_template()
        db.synchronize_log_template = _already_synchronized
    except Exception:
        pass
    try:
        from airflow._shared.observability.metrics import stats

        stats._get_registry()
    except Exception:
        pass


def preload() -> None:
    """Import Airflow, build its CLI parser, import command modules, configure the ORM."""
    import airflow
    from airflow.cli import cli_parser

    cli_parser.get_parser()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # not in this Airflow version: imported lazily if ever used
            pass
    try:
        import airflow.models  # noqa: F401
        from sqlalchemy.orm import configure_mappers

        configure_mappers()
    except Exception:
        pass
    warm_up()
    _dispose_engine()
    gc.collect()
    gc.freeze()  # keep the preloaded heap out of the children's collections (copy-on-write)


def _dispose_engine() -> None:
    """Drop pooled DB connections so that no connection crosses a fork."""
    from airflow import settings

    engine = getattr(settings, "engine", None)
    if engine is not None:
        engine.dispose(close=False)


def _exit_code(exc: SystemExit) -> int:
    """What CPython exits with for ``SystemExit(code)`` (printing a non-int code)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


class Entry:
    """The ``airflow`` console script, compiled once, run in each child as ``__main__``.

    Running the very script a cold ``airflow`` process runs keeps ``sys.argv[0]`` and the
    top frames of tracebacks identical to a cold run.
    """

    def __init__(self, script: str | None) -> None:
        self.path = script or "airflow"
        if script and os.path.isfile(script):
            with open(script, "rb") as fh:
                source = fh.read()
        else:  # no console script: what `python -m airflow` would run
            source = b"import sys\nfrom airflow.__main__ import main\nsys.exit(main())\n"
        self.code = compile(source, self.path, "exec")

    def run(self) -> None:
        scope = {"__name__": "__main__", "__file__": self.path, "__builtins__": __builtins__}
        exec(self.code, scope)

    def excepthook(self) -> None:
        """Print the current exception as an uncaught one, from the script's frame down."""
        etype, value, tb = sys.exc_info()
        while tb is not None and not (
            tb.tb_frame.f_code.co_filename == self.path and tb.tb_frame.f_code.co_name == "<module>"
        ):
            tb = tb.tb_next
        tb = tb or sys.exc_info()[2]
        if value is not None:
            value.__traceback__ = tb  # the default hook prints the exception's own traceback
        sys.excepthook(etype, value, tb)


def run_child(entry: Entry, argv: list[str], out_fd: int, err_fd: int, close: list) -> None:
    """In the forked child: become a cold ``airflow ARGV`` process, then exit. Never returns."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for obj in close:
            obj.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (devnull, out_fd, err_fd):
            os.close(fd)
        random.seed()
        _dispose_engine()
        sys.argv = [entry.path, *argv]
        try:
            entry.run()
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except KeyboardInterrupt:
            entry.excepthook()
            code = 130
        except BaseException:  # as an uncaught exception would: traceback, exit 1
            entry.excepthook()
            code = 1
        try:
            atexit._run_exitfuncs()  # what interpreter shutdown would run
        except BaseException:
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = conn.recv(min(65536, size - got))
        if not chunk:
            raise ConnectionError("short request")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class Zygote:
    def __init__(self, path: str, entry: Entry) -> None:
        self.entry = entry
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(64)
        self.children: dict[int, socket.socket] = {}
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        sel.register(self.wake_r, selectors.EVENT_READ)
        sel.register(0, selectors.EVENT_READ)  # the server's pipe: EOF when it is gone
        try:
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj == 0:
                        if not os.read(0, 4096):
                            return
                    else:
                        try:
                            while self.wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                self._reap()
        finally:
            for pid in self.children:  # commands run in their own sessions: end them too
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(10)
            header, fds, _, _ = socket.recv_fds(conn, 4, 2)
            if len(header) != 4 or len(fds) != 2:
                raise ConnectionError("bad request header")
            request = json.loads(_recv_exact(conn, struct.unpack("!I", header)[0]))
            argv = [str(a) for a in request["argv"]]
        except (OSError, ValueError, KeyError, TypeError):
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child never returns into the zygote's loop
            try:
                close = [self.listener, conn, self.wake_r, self.wake_w, *self.children.values()]
                run_child(self.entry, argv, fds[0], fds[1], close)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        try:
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            pass

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            try:
                code = os.waitstatus_to_exitcode(status)
                conn.sendall(json.dumps({"exit_code": code}).encode() + b"\n")
            except OSError:
                pass
            finally:
                conn.close()


def main() -> None:
    path = sys.argv[1]
    entry = Entry(sys.argv[2] if len(sys.argv) > 2 else None)
    preload()
    zygote = Zygote(path, entry)
    print("ready", flush=True)
    # nobody reads the pipe after "ready": a later write must not block on a full pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    zygote.serve()


if __name__ == "__main__":
    main()
