"""The warm fork-server: import Airflow once, then fork one child per CLI command.

Run as ``python zygote.py SOCKET [AIRFLOW_SCRIPT [MODULE,…]]`` (by path: it imports only the
standard library until it imports Airflow) with the environment's Airflow settings and a pipe
on stdin: end-of-file there means the server is gone, and the zygote ends its commands and exits. It
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
import time

# Imported once here, not per command, on every Airflow version; the modules of one major
# (its CLI commands, operators its DAGs import) come as a third argument, comma-separated,
# from mwaa_cli.local.airflow.v2 / v3 (``PRELOAD``).
PRELOAD = [
    "airflow.__main__",
    "airflow.version",
    "airflow.cli.commands.connection_command",
    "airflow.cli.commands.dag_command",
    "airflow.cli.commands.db_command",
    "airflow.cli.commands.pool_command",
    "airflow.cli.commands.provider_command",
    "airflow.cli.commands.task_command",
    "airflow.cli.commands.variable_command",
    "airflow.cli.commands.version_command",
    "airflow.cli.commands.cheat_sheet_command",
    "airflow.timetables.trigger",
    "airflow.providers.smtp.hooks.smtp",
    "packaging.requirements",
    "rich._emoji_codes",
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
    _preload_plugins()


def _preload_plugins() -> None:
    """Load Airflow's plugins once here (about 6 ms per command otherwise) - but only when
    they load cleanly: a plugin that fails to import is logged by every cold command (and by
    MWAA), so then each child keeps loading them itself and logs it the same way. A probe
    child finds out first, so that a failure is never logged or cached in the zygote."""
    try:
        from airflow import plugins_manager
    except ImportError:
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        clean = b"0"
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            plugins_manager.ensure_plugins_loaded()
            errors = getattr(plugins_manager, "import_errors", None)
            if errors is None and hasattr(plugins_manager, "get_import_errors"):
                errors = plugins_manager.get_import_errors()
            clean = b"1" if not errors else b"0"
        finally:
            os.write(write, clean)
            os._exit(0)
    os.close(write)
    verdict = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    if verdict == b"1":
        try:
            plugins_manager.ensure_plugins_loaded()
        except Exception:
            pass


# what `providers hooks/behaviours/widgets/notifications/links/triggerer/…` read: every cold
# process imports each provider's hook, link and notifier classes for them (seconds)
PROVIDER_VIEWS = (
    "hooks",
    "connection_form_widgets",
    "field_behaviours",
    "notification",
    "extra_links_class_names",
    "trigger",
    "dialects",
)
TOP_UP_DELAY = 0.05  # seconds without a command before the spares used are replaced
IDLE_BEFORE_WARM_UP = 3.0  # seconds without a command before the providers are loaded


def provider_steps():
    """Load the providers' classes, one class (or one view) per step: a command that
    arrives meanwhile waits for one step, not for all of them. Airflow's deprecation
    warnings for reading these views are not shown here: each command that reads one still
    shows them itself."""
    import warnings

    from airflow.providers_manager import ProvidersManager

    def quietly(load):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load()

    manager = quietly(ProvidersManager)
    # the providers' configuration defaults: parsed from YAML in every command that
    # reads configuration (over 100 ms on Airflow 2.10)
    quietly(manager.initialize_providers_configuration)
    yield
    for view in PROVIDER_VIEWS:
        value = quietly(lambda view=view: getattr(manager, view, None))
        yield
        if hasattr(value, "values"):
            values = iter(value.values())  # a lazy mapping: importing its classes is the point
            while quietly(lambda values=values: next(values, StopIteration)) is not StopIteration:
                yield


def _consume(steps) -> None:
    for _ in steps:
        pass


def _parsed_imports() -> list[str]:
    """Parse the DAG files; the modules that brought in, in import order, leaving out the
    DAG files and anything from the DAGs or plugins folders."""
    from airflow.configuration import conf

    try:
        from airflow.models.dagbag import DagBag
    except ImportError:  # moved in later Airflow 3 releases
        from airflow.dag_processing.dagbag import DagBag  # type: ignore[no-redef]

    folders = [
        os.path.realpath(conf.get("core", "dags_folder")),
        os.path.realpath(conf.get("core", "plugins_folder")),
    ]
    before = set(sys.modules)
    DagBag(folders[0], include_examples=False)
    names = []
    for name, module in list(sys.modules.items()):
        if name in before or name.startswith("unusual_prefix_") or module is None:
            continue
        path = os.path.realpath(getattr(module, "__file__", None) or "")
        if not path or any(path.startswith(folder + os.sep) for folder in folders):
            continue
        names.append(name)
    return names


def dag_imports() -> list[str]:
    """The library modules the DAG files import: what a command that parses them imports
    every time. A grandchild parses the files (its own logging thrown away); this process
    then imports only those modules, so that the probe judges their imports alone. User
    code runs in children only, never in the zygote."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        data = b"[]"
        try:
            os.close(read)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            data = json.dumps(_parsed_imports()).encode()
        except BaseException:
            pass
        finally:
            while data:
                data = data[os.write(write, data) :]
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    names = json.loads(b"".join(chunks) or b"[]")
    _consume(import_steps(names))
    return names


def import_steps(names: list[str]):
    """Import ``names`` one per step."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # imported lazily by the command that needs it, as before
            pass
        yield


# the idle-time warm-ups, in order: name -> (what the probe child does and returns, the
# steps the zygote then takes with that result)
WARMERS = {
    "providers": (lambda: _consume(provider_steps()), lambda _: provider_steps()),
    "dag imports": (dag_imports, import_steps),
}


def probe(work) -> tuple[int, int]:
    """Fork a child that runs ``work()`` with its output captured; it writes JSON
    ``{"ok": …, "result": …}`` to the returned pipe: ok only when ``work`` printed nothing
    and raised nothing (a cold command that would print a warning while importing a module
    must still print it, from its own import)."""
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(write)
        return pid, read
    doc: dict = {"ok": False, "result": None}
    try:
        os.close(read)
        out_r, out_w = os.pipe()
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.set_blocking(out_w, False)  # a chatty import must not block the probe
        # whatever sys.stdout/stderr were (a harness may have replaced them), both the fds
        # and the objects now lead to the pipe
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        result = work()
        sys.stdout.flush()
        sys.stderr.flush()
        os.set_blocking(out_r, False)
        try:
            printed = os.read(out_r, 1)
        except BlockingIOError:
            printed = b""
        doc = {"ok": not printed, "result": result}
    except BaseException:
        pass
    finally:
        data = json.dumps(doc).encode()
        while data:
            data = data[os.write(write, data) :]
        os._exit(0)


# warnings every cold `airflow` process shows while it imports Airflow and builds its
# parser (Airflow 2.10.3 warns about its own deprecated option there): shown once here, so
# replayed in each child, where a cold process would show them
STARTUP_WARNINGS: list = []


def preload(extra: list[str]) -> None:
    """Import Airflow, build its CLI parser, import command modules, configure the ORM."""
    import warnings

    show = warnings._showwarnmsg  # what both warnings implementations call to show one

    def record(message) -> None:
        STARTUP_WARNINGS.append(message)
        show(message)

    warnings._showwarnmsg = record
    try:
        import airflow
        from airflow.cli import cli_parser

        cli_parser.get_parser()
    finally:
        warnings._showwarnmsg = show
    for name in [*PRELOAD, *extra]:
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


def _replay_startup_warnings() -> None:
    import warnings

    for message in STARTUP_WARNINGS:
        warnings._showwarnmsg(message)  # as formatted by the showwarning Airflow installed


def run_child(
    entry: Entry,
    argv: list[str],
    out_fd: int,
    err_fd: int,
    close: list,
    done: socket.socket | None = None,
) -> None:
    """In the forked child: become a cold ``airflow ARGV`` process, then exit. Never returns.
    ``done``: where to report the exit code just before exiting."""
    code = 1
    try:
        try:
            os.setsid()
        except OSError:  # a spare leads its session already
            pass
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
            _replay_startup_warnings()
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
        # the output ends here: closing it now lets the server see end-of-file at once,
        # not after the kernel has torn down this big address space (~20 ms); a process
        # this command started that still holds the pipes keeps them open, as with a cold run
        for fd in (1, 2):
            try:
                os.close(fd)
            except OSError:
                pass
        if done is not None:
            try:
                done.sendall(f"{code}\n".encode())
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


class _Job:
    """A command in a child: the server's connection and the child's report socket."""

    def __init__(self, conn: socket.socket, control: socket.socket) -> None:
        self.conn, self.control, self.replied = conn, control, False

    def reply(self, code: int) -> None:
        if not self.replied:
            self.replied = True
            try:
                self.conn.sendall(json.dumps({"exit_code": code}).encode() + b"\n")
            except OSError:
                pass


class Zygote:
    SPARES = 2  # children forked ahead, waiting for a command

    def __init__(self, path: str, entry: Entry) -> None:
        self.entry = entry
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.status_path = path + ".warm"  # what the idle-time warm-up did (people, tests)
        self.listener.listen(64)
        self.children: dict[int, _Job] = {}
        self.spares: list[tuple[int, socket.socket]] = []  # (pid, control socket)
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.sel = selectors.DefaultSelector()
        # providers loaded when idle: pending -> probing -> loading -> done
        self.warm = "pending"
        self.warmers = list(WARMERS)
        self.warm_report: list[str] = []
        self.take = None
        self.probe = 0
        self.probe_out = b""
        self.steps = iter(())
        self.last_activity = time.monotonic()

    def _warm_up_when_idle(self) -> None:
        """After a few idle seconds, once per warmer (:data:`WARMERS`): a probe child does
        the work with its output captured; if that was silent, the zygote takes the same
        steps between commands, then replaces the spares forked before with children that
        inherit the result."""
        if self.warm == "pending":
            if self.children or time.monotonic() - self.last_activity < IDLE_BEFORE_WARM_UP:
                return
            if not self.warmers:
                self.warm = "done"
                self._status("; ".join(self.warm_report))
                return
            work, self.take = WARMERS[self.warmers[0]]
            self.warm = "probing"
            self.probe, read = probe(work)
            self.probe_out = b""
            self.sel.register(read, selectors.EVENT_READ, "probe")
        elif self.warm == "loading":
            name = self.warmers[0]
            try:
                next(self.steps)
                return
            except StopIteration:
                self.warm_report.append(f"{name}: loaded")
                _dispose_engine()
                gc.collect()
                gc.freeze()
                for _pid, control in self.spares:
                    control.close()  # EOF: the old spare exits, and is reaped
                self.spares.clear()
            except Exception as exc:
                self.warm_report.append(f"{name}: not loaded ({type(exc).__name__})")
            self.warmers.pop(0)
            self.warm = "pending"

    def _status(self, text: str) -> None:
        try:
            with open(self.status_path, "w") as fh:
                fh.write(text + "\n")
        except OSError:
            pass

    def _probed(self, read: int) -> None:
        chunk = os.read(read, 65536)
        if chunk:
            self.probe_out += chunk
            return
        self.sel.unregister(read)
        os.close(read)
        name = self.warmers[0]
        try:
            doc = json.loads(self.probe_out)
        except ValueError:
            doc = {"ok": False}
        if doc.get("ok"):
            self.steps = iter(self.take(doc.get("result")))
            self.warm = "loading"
        else:
            self.warm_report.append(f"{name}: not loaded (it printed something or failed)")
            self.warmers.pop(0)
            self.warm = "pending"
            self.last_activity = 0.0  # the next one need not wait

    def _timeout(self) -> float | None:
        if self.warm == "loading":
            return 0
        waits = []
        if len(self.spares) < self.SPARES:
            waits.append(max(0.0, self.last_activity + TOP_UP_DELAY - time.monotonic()))
        if self.warm == "pending":
            waits.append(max(0.05, IDLE_BEFORE_WARM_UP - (time.monotonic() - self.last_activity)))
        return min(waits) if waits else None

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.sel.register(0, selectors.EVENT_READ, "server")  # EOF when the server is gone
        try:
            self._top_up()
            while True:
                for key, _ in self.sel.select(self._timeout()):
                    if key.data == "accept":
                        self.last_activity = time.monotonic()
                        self._accept()
                    elif key.data == "probe":
                        self._probed(key.fd)
                    elif key.data == "server":
                        if not os.read(0, 4096):
                            return
                    elif key.data == "wake":
                        try:
                            while self.wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                    else:
                        self._report(key.data)
                self._reap()
                self._warm_up_when_idle()
                self._top_up()
        finally:
            signal.set_wakeup_fd(-1)  # no more wake-ups: the loop is over
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # commands run in their own sessions: end them (and the idle spares) too
            for pid in [*self.children, *(pid for pid, _ in self.spares)]:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass

    def _open_sockets(self) -> list:
        jobs = self.children.values()
        return [
            self.listener,
            self.wake_r,
            self.wake_w,
            *(job.conn for job in jobs),
            *(job.control for job in jobs),
            *(control for _, control in self.spares),
        ]

    def _fork_spare(self) -> None:
        """A child that waits for a command on a socketpair (forked now, not when asked)."""
        control, child_end = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()  # its own process group from birth: the server kills it whole
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                for obj in [*self._open_sockets(), control]:
                    obj.close()
                try:
                    header, fds, _, _ = socket.recv_fds(child_end, 4, 2)
                    if len(header) != 4 or len(fds) != 2:
                        os._exit(0)  # the zygote is gone: nothing to run
                    argv = json.loads(_recv_exact(child_end, struct.unpack("!I", header)[0]))
                except (OSError, ValueError):
                    os._exit(0)
                run_child(self.entry, [str(a) for a in argv], fds[0], fds[1], [], child_end)
            finally:
                os._exit(70)
        child_end.close()
        self.spares.append((pid, control))

    def _top_up(self) -> None:
        """Fork the spares that are missing - at once when none is left, else only after
        TOP_UP_DELAY without a new command: a fork of this big a process takes ~15 ms, and
        a command arriving meanwhile (the next of a batch) would wait for it."""
        if self.spares and time.monotonic() - self.last_activity < TOP_UP_DELAY:
            return
        while len(self.spares) < self.SPARES:
            self._fork_spare()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(10)
            header, fds, _, _ = socket.recv_fds(conn, 4, 2)
            if len(header) != 4 or len(fds) != 2:
                raise ConnectionError("bad request header")
            payload = _recv_exact(conn, struct.unpack("!I", header)[0])
            argv = [str(a) for a in json.loads(payload)["argv"]]
        except (OSError, ValueError, KeyError, TypeError):
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        if not self.spares:
            self._fork_spare()
        pid, control = self.spares.pop(0)
        job = json.dumps(argv).encode()
        try:
            socket.send_fds(control, [struct.pack("!I", len(job))], fds)
            control.sendall(job)
        except OSError:  # the spare died meanwhile: it is reaped below; refuse the request
            control.close()
            conn.close()
            return
        finally:
            for fd in fds:
                os.close(fd)
        self.children[pid] = _Job(conn, control)
        self.sel.register(control, selectors.EVENT_READ, pid)
        try:
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            pass

    def _report(self, pid: int) -> None:
        """A child said its exit code: pass it on now, before the kernel has torn it down."""
        job = self.children.get(pid)
        if job is None:
            return
        try:
            line = job.control.recv(64)
        except OSError:
            line = b""
        self.sel.unregister(job.control)
        if line.strip().lstrip(b"-").isdigit():
            job.reply(int(line))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            spare = next((s for s in self.spares if s[0] == pid), None)
            if spare is not None:  # an idle spare died (killed from outside)
                self.spares.remove(spare)
                spare[1].close()
                continue
            job = self.children.pop(pid, None)
            if job is None:
                continue
            self.last_activity = time.monotonic()
            if job.control.fileno() != -1 and not job.replied:
                try:
                    self.sel.unregister(job.control)
                except (KeyError, ValueError):
                    pass
            job.reply(os.waitstatus_to_exitcode(status))
            job.control.close()
            job.conn.close()


def main() -> None:
    path = sys.argv[1]
    entry = Entry(sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None)
    preload([m for m in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if m])
    zygote = Zygote(path, entry)
    print("ready", flush=True)
    # nobody reads the pipe after "ready": a later write must not block on a full pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    zygote.serve()


if __name__ == "__main__":
    main()
