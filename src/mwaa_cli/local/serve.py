"""``mwaa local serve``: prepare the home, start Airflow's components and the endpoint."""

from __future__ import annotations

import fcntl
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .._files import make_private_dir
from ..aws_files import NotEditable
from ..errors import ConfigError, ExitStatus, MwaaError
from .airflow.home import AirflowHome, read_state, sample_dags_folder
from .airflow.versions import DEFAULT, lookup
from .airflow_rest import ROLES, AirflowRestApi, RestLimits
from .api import EnvironmentInfo, Limits, LocalApp
from .api.cli_queue import CommandQueue
from .auth import SigV4Verifier, load_or_create_key, load_or_create_role_keys
from .autoscale import Autoscaler
from .backends import NAMES, check_unchanged, make_backend
from .backends.celery import CeleryBackend, CeleryOptions
from .banner import Banner, render_banner
from .broker import BrokerError
from .cli_tokens import DEFAULT_TTL, TokenSigner
from .client_setup import client_environ, default_profile, write_aws_profile, write_env_file
from .definition import find as find_definition
from .definition import load as load_definition
from .environment import Spec, assemble
from .executor import ExecutorError, SubprocessExecutor, WarmExecutor
from .joining import join_handler
from .metadata_db import MetadataUnavailable
from .path_guard import dags_folder_guard
from .policies import KEY_NAMES
from .postgres import PostgresError
from .readiness import DagsParsed, NotReady, Readiness, wait_until_ready
from .sessions import SessionStore
from .supervisor import Supervisor
from .tls import bundle_in_effect, ensure_certificates
from .uvicorn_run import keep_stop_signals, serve_until_stopped


@dataclass
class ServeOptions:
    name: str = "local"
    home: Path | None = None
    dags: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8780
    api_port: int = 0  # 0: pick a free port
    region: str = "us-east-1"
    scheduler: bool = True
    command_timeout: float = 300.0
    concurrency: int = 4
    queue_size: int = 64  # CLI commands waiting for a slot
    queue_wait: float = 60.0  # seconds one may wait
    output_limit: int = 64 * 1024 * 1024  # bytes per stream of one command
    header_timeout: float = 10.0  # seconds for a request's headers to arrive
    body_timeout: float = 30.0  # seconds for a request's body to arrive
    token_ttl: float = DEFAULT_TTL
    executor: str = "warm"  # or "subprocess": a cold `airflow` process per command
    tls: bool = True  # False: --insecure-http
    write_profile: str | None = None  # the AWS profile's name (default: mwaa-local[-NAME])
    profile: bool = True  # False (--no-profile): env.sh exports the endpoint and keys
    access_mode: str = "PUBLIC_ONLY"  # reported by GetEnvironment (to rehearse PRIVATE_ONLY)
    airflow_version: str | None = None  # default: the env file's, else the newest MWAA offers
    requirements: Path | None = None
    plugins: Path | None = None
    startup_script: Path | None = None
    airflow_config: dict[str, str] = field(default_factory=dict)  # section.key -> value
    env_file: Path | None = None  # mwaa-local.toml (default: found beside the DAGs)
    rest_role: str | None = "Admin"  # InvokeRestApi's Airflow role (None: access denied)
    rest_timeout: float = 10.0  # seconds, as MWAA
    rest_max_reply: int = 6 * 1024 * 1024  # bytes, as MWAA
    exit_with_stdin: bool = False  # stop when stdin closes (a region's child: its parent died)
    ready_timeout: float = 600.0  # seconds every component gets to answer before start fails
    backend: str | None = None  # "sqlite" | "celery" (default: the env file's, else sqlite)
    celery: dict = field(default_factory=dict)  # CeleryOptions' fields given as flags

    def spec(self) -> Spec:
        """This environment's definition: flags over the env file over defaults."""
        definition = load_definition(find_definition(self.env_file, self.dags))
        version = self.airflow_version or definition.airflow_version or DEFAULT
        lookup(version)  # an unknown version: a clear error listing the valid ones
        dags = (self.dags or definition.dags or sample_dags_folder()).resolve()
        if not dags.is_dir():
            raise StartupError(f"DAGs folder {dags} does not exist", ExitStatus.CONFIG)
        for label, path in (
            ("--requirements", self.requirements),
            ("--plugins", self.plugins),
            ("--startup-script", self.startup_script),
        ):
            if path is not None and not path.exists():
                raise StartupError(f"{label} {path}: no such file", ExitStatus.CONFIG)
        backend = self.backend or definition.backend or "sqlite"
        if backend not in NAMES:
            raise StartupError(
                f"--backend {backend}: not one of {', '.join(NAMES)}", ExitStatus.CONFIG
            )
        celery = CeleryOptions(**{**definition.celery, **self.celery})
        if backend == "celery" and (problems := celery.check()):
            raise StartupError("; ".join(problems), ExitStatus.CONFIG)
        return Spec(
            backend=backend,
            celery=celery,
            airflow_version=version,
            dags=dags,
            requirements=self.requirements or definition.requirements,
            plugins=self.plugins or definition.plugins,
            startup_script=self.startup_script or definition.startup_script,
            airflow_config={**definition.airflow_configuration_options, **self.airflow_config},
        )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tls_hosts(host: str) -> list[str]:
    if ipaddress.ip_address(socket.gethostbyname(host)).is_unspecified:
        return [socket.gethostname(), socket.getfqdn()]
    return [host]


def _say(message: str) -> None:
    print(f"[mwaa local] {message}", file=sys.stderr, flush=True)


class StartupError(MwaaError):
    """The environment cannot start; the message says why and what to do."""

    def __init__(self, message: str, exit_status: int = ExitStatus.UNAVAILABLE) -> None:
        super().__init__(message)
        self.exit_status = ExitStatus(exit_status)


def lock_home(root: Path):
    """Hold ``root``'s lock for as long as the returned file stays open; refuse clearly when
    another server holds it (two servers on one home would share its DB and sockets)."""
    fh = open(root / "serve.lock", "a+")  # noqa: SIM115 - held open for the server's life
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        try:
            owner = json.loads(fh.read() or "{}")
        except ValueError:
            owner = {}
        fh.close()
        pid = owner.get("pid", "?")
        where = f", {owner['endpoint']}" if owner.get("endpoint") else ""
        raise StartupError(
            f"another 'mwaa local serve' (pid {pid}{where}) is running on {root}: stop it "
            f"first (Ctrl-C in its terminal, or kill {pid}), or give this one its own "
            "--name or --home"
        ) from None
    return fh


def record_owner(fh, endpoint: str, **more) -> None:
    """What the lock file says while the server holds it: pid and endpoint, and once it
    serves, ``ready`` and what failed of the user's parts (``error``)."""
    fh.seek(0)
    fh.truncate()
    fh.write(
        json.dumps({"pid": os.getpid(), "endpoint": endpoint, "started_at": time.time(), **more})
    )
    fh.flush()


def _stop_when_stdin_closes() -> None:
    """A region starts each environment with a pipe on stdin: its end closing (the region
    exited, even by kill -9) stops this server as Ctrl-C would, so nothing is orphaned."""

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def bind_or_explain(host: str, port: int) -> socket.socket:
    try:
        return _bind(host, port)
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE
            raise StartupError(
                f"port {port} on {host} is already in use (another mwaa local serve?): pick "
                "another with --port N, or --port 0 for any free one"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(opts: ServeOptions, state_dir: Path) -> int:
    """Run the local environment in the foreground until Ctrl-C / SIGTERM."""
    # the servers a backend owns (Postgres, the broker): started before the DB is migrated,
    # stopped after every Airflow component, however serving ends
    services = Supervisor([], dict(os.environ), state_dir, report=_say)
    try:
        return _serve(opts, state_dir, services)
    finally:
        if services.components:
            report = services.stop(grace=15.0)
            _say(f"stopped {report.describe()}")


def _serve(opts: ServeOptions, state_dir: Path, services: Supervisor) -> int:
    spec = opts.spec()
    # until the banner, SIGTERM (mwaa local down, a region stopping this environment) is an
    # interrupt: what runs then - uv, the startup script, airflow db migrate - is killed
    # with its whole process group (local/owned.py) instead of running on
    signal.signal(signal.SIGTERM, _interrupt)
    if opts.exit_with_stdin:
        _stop_when_stdin_closes()
    root = (opts.home or state_dir / "local" / opts.name).resolve()
    if not ipaddress.ip_address(socket.gethostbyname(opts.host)).is_loopback:
        _say(
            f"WARNING: binding to {opts.host}, not loopback: anyone who can reach this port and "
            "holds the environment's key pair can run Airflow commands on this machine"
        )
    created = make_private_dir(root)
    lock = lock_home(root)
    sock = bind_or_explain(opts.host, opts.port)
    port = sock.getsockname()[1]
    api_port = opts.api_port or free_port()
    flavour_components = _components(spec.airflow_version) if opts.scheduler else {}
    backend = make_backend(spec, root, opts.region, opts.host)
    if opts.scheduler:
        flavour_components.update(backend.components())
    services.log_dir = root / "logs"
    try:
        check_unchanged(read_state(root), backend, root)
        built = assemble(spec, root, api_port, _say, list(flavour_components), backend)
        home = built.home
        backend.start_services(services, _say)
        state = home.prepare(log=_say, created=created)
    except (ValueError, ConfigError) as exc:  # an upgrade MWAA would refuse, a backend move
        raise StartupError(str(exc), ExitStatus.CONFIG) from None
    except (PostgresError, BrokerError, MetadataUnavailable) as exc:
        raise StartupError(
            f"{exc}\n(see {root / 'logs'}: postgres.log, broker.log)", ExitStatus.UNAVAILABLE
        ) from None
    except RuntimeError as exc:  # airflow db migrate failed
        raise StartupError(f"{exc}\n(see {root / 'logs'})", ExitStatus.SERVER_ERROR) from None
    version = spec.airflow_version
    dags = spec.dags

    tls = (
        ensure_certificates(root / "tls", opts.name, tls_hosts(opts.host), bundle_in_effect())
        if opts.tls
        else None
    )
    endpoint = f"{'https' if tls else 'http'}://{opts.host}:{port}"
    record_owner(lock, endpoint)
    info = EnvironmentInfo(
        name=opts.name,
        airflow_version=version,
        webserver_hostname=f"{opts.host}:{port}",
        created_at=float(state["created_at"]),
        region=opts.region,
        airflow_ui_url=f"127.0.0.1:{api_port}" if opts.scheduler else None,
        access_mode=opts.access_mode,
        airflow_config=dict(spec.airflow_config),
        last_error=built.error,
        sources={
            key: str(path)
            for key, path in (
                ("RequirementsS3Path", spec.requirements),
                ("PluginsS3Path", spec.plugins),
                ("StartupScriptS3Path", spec.startup_script),
            )
            if path is not None
        },
    )
    supervisor = Supervisor(home.airflow, home.environ(), root / "logs", report=_say)
    executor = make_executor(opts, home)
    # the fork-server first: on two cores, four Airflow components importing at the same
    # time would double the wait for the first CLI command; they start right after it
    try:
        executor.start()
    except ExecutorError as exc:
        raise StartupError(f"{exc}; its error is above", ExitStatus.SERVER_ERROR) from None
    readiness = None
    autoscaler: Autoscaler | None = None
    if opts.scheduler:
        readiness = Readiness(
            f"http://127.0.0.1:{api_port}",
            home.flavour.health_path,
            home.flavour.answers,
            home.flavour.heartbeats,
            since=datetime.now(timezone.utc) - timedelta(seconds=1),
            dags=DagsParsed(backend.dag_files, dags, home.flavour.parser),
            more=_workers_consuming(root / "logs", list(flavour_components)),
        )
        nice = home.flavour.nice()
        level = max(nice.values(), default=0)
        nice.update({name: level for name in flavour_components if name not in nice})
        nice.pop(home.flavour.ui_component, None)
        supervisor.start(flavour_components, home.environ, nice=nice)
        if isinstance(backend, CeleryBackend):
            autoscaler = Autoscaler(
                backend, supervisor, home.environ, root / "run" / "workers.json", _say, level
            )
            autoscaler.adopt([n for n in flavour_components if n.startswith("worker-")])
    key = load_or_create_key(root / "credentials.json")
    role_keys = load_or_create_role_keys(root / "role-keys.json", KEY_NAMES)
    local_app = LocalApp(
        info,
        TokenSigner(home.token_key(), opts.token_ttl),
        executor.run,
        verifier=SigV4Verifier([key, *role_keys.values()], opts.region, sessions=SessionStore()),
        preflight=backend.preflight,
        queue=CommandQueue(opts.concurrency, opts.queue_size, opts.queue_wait),
        limits=Limits(body_timeout=opts.body_timeout),
        rest=AirflowRestApi(
            f"http://127.0.0.1:{api_port}",
            home.flavour.rest_prefix,
            home.flavour.major,
            home.ui_passwords,
            RestLimits(opts.rest_timeout, opts.rest_max_reply),
        )
        if opts.scheduler
        else None,
        rest_role=opts.rest_role,
        rest_roles={
            k.access_key_id: (role if role in ROLES else None) for role, k in role_keys.items()
        },
        key_names={k.access_key_id: name for name, k in role_keys.items()},
    )
    local_app.check_paths = dags_folder_guard(local_app.allowlist, dags)
    if isinstance(backend, CeleryBackend):
        local_app.join = join_handler(home, spec, backend.exposed)
    app = local_app.build()

    env_file = root / "env.sh"
    bundle = tls.ca_bundle if tls else None
    profile = (opts.write_profile or default_profile(opts.name)) if opts.profile else None
    if profile is not None:
        try:
            write_aws_profile(profile, endpoint, opts.region, key, bundle, opts.name)
        except NotEditable as exc:
            _say(f"WARNING: {exc}; no AWS profile written: env.sh exports the endpoint and keys")
            profile = None
    exports = client_environ(endpoint, opts.region, key, bundle, profile, opts.name)
    write_env_file(env_file, opts.name, exports)
    _configure_logging(root / "logs")
    _wait_for_components(readiness, root / "logs", opts.ready_timeout, supervisor, executor)
    early = keep_stop_signals()  # from the banner on, Ctrl-C means "stop"
    if autoscaler is not None:
        autoscaler.start()
    record_owner(
        lock, endpoint, ready=True, error=built.error, api_port=api_port, backend=backend.name
    )
    print(
        render_banner(
            Banner(opts, info, endpoint, dags, root, env_file, exports, profile, home, built),
            list(flavour_components),
        ),
        flush=True,
    )

    def end_commands_in_flight() -> None:
        # their callers get a clear 503 instead of waiting out the graceful shutdown and
        # then a dropped connection
        local_app.stopping.set()
        if killed := executor.kill_running():
            _say(f"stopping: killed {killed} command(s) still running")

    try:
        serve_until_stopped(
            app, sock, early, tls, opts.header_timeout, on_stop=end_commands_in_flight
        )
    finally:
        if autoscaler is not None:
            autoscaler.stop()
        _say("stopping Airflow components …")
        started = time.monotonic()
        stopping = threading.Thread(target=lambda: reports.append(supervisor.stop()))
        reports: list = []
        stopping.start()  # the components and the fork-server stop side by side
        executor.stop()
        stopping.join()
        sock.close()
        what = reports[0].describe() if reports else "nothing was running"
        _say(f"stopped in {time.monotonic() - started:.1f} s: {what}, fork-server")
        lock.close()
    return 0


def _workers_consuming(log_dir: Path, names: list[str]):
    """Readiness of Celery workers: each has said "ready." in its log since this start."""
    offsets = {}
    for name in names:
        if name.startswith("worker-"):
            try:
                offsets[name] = (log_dir / f"{name}.log").stat().st_size
            except OSError:
                offsets[name] = 0

    def pending() -> dict[str, str]:
        waiting = {}
        for name, offset in offsets.items():
            try:
                with open(log_dir / f"{name}.log", "rb") as fh:
                    fh.seek(offset)
                    said = fh.read()
            except OSError:
                said = b""
            if b" ready." not in said:
                waiting[name] = "not consuming tasks yet"
        return waiting

    return pending


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


def _wait_for_components(
    readiness: Readiness | None,
    log_dir: Path,
    limit: float,
    supervisor: Supervisor,
    executor: SubprocessExecutor | WarmExecutor,
) -> None:
    """Until every component answers (ready means ready); on a component that does not come
    up, or a Ctrl-C / SIGTERM meanwhile (serve() made SIGTERM an interrupt), stop what was
    started and say why."""
    try:
        waited = wait_until_ready(readiness, log_dir, limit, lambda: supervisor.given_up)
        if readiness is not None:
            _say(f"every component answers ({waited:.0f} s after the components started)")
    except (NotReady, KeyboardInterrupt) as exc:
        _say("stopping Airflow components …")
        supervisor.stop()
        executor.stop()
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise StartupError(str(exc), ExitStatus.UNAVAILABLE) from None


def make_executor(opts: ServeOptions, home: AirflowHome) -> SubprocessExecutor | WarmExecutor:
    """The executor ``opts.executor`` names, for ``home``'s Airflow settings."""
    limits = {
        "timeout": opts.command_timeout,
        "concurrency": opts.concurrency,
        "output_limit": opts.output_limit,
    }
    if opts.executor == "subprocess":
        return SubprocessExecutor(home.airflow, home.environ("cli"), **limits)
    sock = home.root / "run" / "zygote.sock"
    if len(str(sock)) > 100:  # AF_UNIX paths are limited to 108 bytes
        sock = Path(tempfile.mkdtemp(prefix="mwaa-local-")) / "zygote.sock"
    return WarmExecutor.for_home(home, sock, **limits)


def _components(version: str) -> dict[str, list[str]]:
    from .airflow.flavour import for_major

    return for_major(lookup(version).major).components()


def _configure_logging(log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    audit = logging.getLogger("mwaa_cli.local.audit")
    handler = logging.FileHandler(log_dir / "audit.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    audit.propagate = False
    logging.getLogger("mwaa_cli.local").addHandler(logging.StreamHandler(sys.stderr))
