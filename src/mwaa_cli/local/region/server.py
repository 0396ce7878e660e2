"""``mwaa local up/down/status/logs``: a local MWAA region in the background.

The region's state lives in ``$MWAA_CLI_HOME/region``: its lock (pid, endpoint), CA and
server certificate (shared by its environments), key pairs, ``env.sh``, ``region.log`` and
``envs/NAME/`` per environment. ``up`` starts ``mwaa local up --foreground`` detached and
waits until it answers and the environments that were running are back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..._files import make_private_dir
from ...aws_files import NotEditable
from ...errors import ExitStatus
from ...paths import state_dir
from ..auth import SigV4Verifier, load_or_create_key, load_or_create_role_keys
from ..autoscale import read_status
from ..client_setup import client_environ, write_aws_profile, write_env_file
from ..policies import KEY_NAMES
from ..serve import StartupError, bind_or_explain, lock_home, record_owner, tls_hosts
from ..sessions import SessionStore
from ..tls import bundle_in_effect, ensure_certificates
from .children import is_locked, owner_record
from .registry import Registry
from .sources import Buckets

DEFAULT_PORT = 8790
DEFAULT_PROFILE = "mwaa-local-region"


def region_root() -> Path:
    return state_dir() / "region"


@dataclass
class RegionOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = "us-east-1"
    buckets: dict[str, Path] = field(default_factory=dict)  # bucket name -> folder
    buckets_root: Path | None = None  # each subfolder is a bucket
    dag_sync_interval: float = 30.0
    write_profile: str | None = DEFAULT_PROFILE
    tls: bool = True
    backend: str = "sqlite"  # environments' default (the tag mwaa-local:backend overrides)

    def argv(self) -> list[str]:
        """This configuration as ``mwaa local up --foreground`` flags."""
        argv = ["--host", self.host, "--port", str(self.port), "--region", self.region]
        for name, folder in self.buckets.items():
            argv += ["--bucket", f"{name}={folder}"]
        if self.buckets_root is not None:
            argv += ["--buckets", str(self.buckets_root)]
        argv += ["--dag-sync-interval", str(self.dag_sync_interval)]
        argv += ["--write-profile", self.write_profile] if self.write_profile else ["--no-profile"]
        argv += ["--backend", self.backend]
        return argv


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} [mwaa region] {message}", file=sys.stderr, flush=True)


def run(opts: RegionOptions) -> int:
    """The region in the foreground until SIGINT/SIGTERM (which stop every environment)."""
    from ..uvicorn_run import keep_stop_signals, serve_until_stopped
    from .api import RegionApp

    root = region_root()
    make_private_dir(root)
    lock = lock_home(root)
    sock = bind_or_explain(opts.host, opts.port)
    port = sock.getsockname()[1]
    tls = ensure_certificates(root / "tls", "region", tls_hosts(opts.host), bundle_in_effect())
    endpoint = f"https://{opts.host}:{port}"
    record_owner(lock, endpoint)
    key = load_or_create_key(root / "credentials.json")
    role_keys = load_or_create_role_keys(root / "role-keys.json", KEY_NAMES)
    verifier = SigV4Verifier([key, *role_keys.values()], opts.region, sessions=SessionStore())
    buckets = Buckets(opts.buckets, opts.buckets_root, opts.region)
    registry = Registry(
        root,
        opts.region,
        buckets,
        _say,
        dag_sync_interval=opts.dag_sync_interval,
        backend=opts.backend,
    )
    profile = opts.write_profile
    if profile:
        try:
            write_aws_profile(profile, endpoint, opts.region, key, tls.ca_bundle, "region")
        except NotEditable as exc:
            _say(f"WARNING: {exc}; no AWS profile written: env.sh exports the endpoint and keys")
            profile = None
    exports = client_environ(endpoint, opts.region, key, tls.ca_bundle, profile, "")
    exports.pop("MWAA_ENV", None)
    write_env_file(root / "env.sh", "region", exports)
    early = keep_stop_signals()
    registry.restore()
    watcher = threading.Thread(target=registry.watch, name="watch", daemon=True)
    watcher.start()
    record_owner(lock, endpoint, ready=True, profile=profile, region=opts.region)
    _say(f"serving on {endpoint} (region {opts.region}); sources: {buckets.describe()}")
    if profile:
        _say(f"AWS profile: {profile} (aws --profile {profile} mwaa list-environments)")
    _say(f"or: source {root / 'env.sh'}")

    key_names = {k.access_key_id: name for name, k in role_keys.items()}
    app = RegionApp(registry, verifier, str(tls.ca_cert), key_names=key_names).build()
    try:
        serve_until_stopped(app, sock, early, tls)
    finally:
        _say("stopping the environments …")
        started = time.monotonic()
        registry.shutdown()
        sock.close()
        _say(f"stopped in {time.monotonic() - started:.1f} s")
        lock.close()
    return 0


# -- the background process ---------------------------------------------------------------


@dataclass
class RegionState:
    running: bool
    pid: int | None
    endpoint: str | None
    profile: str | None
    root: Path


def state() -> RegionState:
    root = region_root()
    running = (root / "serve.lock").exists() and is_locked(root)
    owner = owner_record(root) if running else {}
    return RegionState(running, owner.get("pid"), owner.get("endpoint"), owner.get("profile"), root)


def environments() -> list[dict]:
    """Every environment's record (what ``status`` shows), read from disk."""
    out = []
    for path in sorted((region_root() / "envs").glob("*/environment.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        home = path.parent / "home"
        child = owner_record(home) if is_locked(home) else {}
        out.append(
            {
                "name": doc["name"],
                "status": doc["status"],
                "airflow_version": doc["definition"].get("AirflowVersion"),
                "webserver": f"127.0.0.1:{doc['port']}",
                "pid": child.get("pid"),
                "ready": bool(child.get("ready")),
                "last_update": doc.get("last_update", {}),
                "backend": child.get("backend"),
                "workers": read_status(home) if child.get("backend") == "celery" else None,
            }
        )
    return out


def start_background(opts: RegionOptions, wait: float = 600.0) -> RegionState:
    """Start the region detached; return once it answers and its environments are back."""
    current = state()
    if current.running:
        raise StartupError(
            f"the region is already running (pid {current.pid}, {current.endpoint}); "
            "'mwaa local down' stops it",
            ExitStatus.USAGE,
        )
    root = region_root()
    make_private_dir(root)
    log = root / "region.log"
    with open(log, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} mwaa local up\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mwaa_cli", "local", "up", "--foreground", *opts.argv()],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartupError(f"the region did not start:\n{_tail(log)}")
        owner = owner_record(root)
        if owner.get("ready") and owner.get("pid") == proc.pid:
            break
        time.sleep(0.2)
    else:
        raise StartupError(f"the region did not start within {wait:.0f} s:\n{_tail(log)}")
    while time.monotonic() < deadline:  # environments coming back
        if not any(
            e["status"] in _STARTING or (e["status"] in _RUNNING and not e["ready"])
            for e in environments()
        ):
            break
        if proc.poll() is not None:
            raise StartupError(f"the region exited:\n{_tail(log)}")
        time.sleep(0.5)
    return state()


_STARTING = ("CREATING", "UPDATING", "DELETING")
_RUNNING = ("AVAILABLE", "UPDATE_FAILED")


def stop_background(wait: float = 180.0) -> RegionState | None:
    """SIGTERM the region and wait until it (and every environment) stopped."""
    current = state()
    if not current.running or not current.pid:
        return None
    try:
        os.kill(current.pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and is_locked(current.root):
        time.sleep(0.2)
    if is_locked(current.root):
        os.kill(current.pid, signal.SIGKILL)
    return current


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rsplit("\n--- ", 1)[-1].splitlines()[1:][-lines:])
