"""Runtimes: one virtualenv per Airflow version, made once with uv from committed pins.

``$MWAA_CLI_RUNTIMES`` (default ``~/.local/share/mwaa-cli/runtimes``, one store for every
home: ``MWAA_CLI_HOME`` does not move it) holds ``airflow-X.Y.Z/``, each a
venv with Apache Airflow X.Y.Z and the providers MWAA preinstalls, at the exact versions of
``pins/airflow-X.Y.Z.txt``. The first start of a version creates it (uv, a minute or so on a
fresh cache); later starts only look at its stamp, offline and at once. mwaa-cli's own
process never imports Airflow: Airflow runs only in the runtime's processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, MwaaError
from ...paths import data_dir
from ..progress import ProgressLine
from .versions import PREINSTALLED, VERSIONS, AirflowVersion, lookup

RUNTIMES_VAR = "MWAA_CLI_RUNTIMES"
STAMP = "mwaa-runtime.json"


class RuntimeCreationError(MwaaError):
    """A runtime could not be created (the message holds uv's reason)."""


def runtimes_dir() -> Path:
    value = os.environ.get(RUNTIMES_VAR)
    return Path(value).expanduser() if value else data_dir() / "runtimes"


# -- interpreters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.12.1"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def _probe(path: str) -> Interpreter | None:
    try:
        done = subprocess.run(
            [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.executable)"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    version, _, executable = done.stdout.strip().partition(" ")
    return Interpreter(executable or path, version)


def find_interpreters(
    minors: tuple[str, ...] = ("3.12", "3.11", "3.10", "3.13"),
) -> list[Interpreter]:
    """Python interpreters on this machine (PATH, pyenv, the usual places), one per minor."""
    found: dict[str, Interpreter] = {}
    current = Interpreter(sys.executable, ".".join(map(str, sys.version_info[:3])))
    for minor in minors:
        candidates = [shutil.which(f"python{minor}")]
        pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
        candidates += sorted(str(p) for p in pyenv.glob(f"{minor}*/bin/python{minor}"))
        candidates += [f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"]
        if current.minor == minor:
            candidates.insert(0, sys.executable)
        for path in candidates:
            if path and Path(path).exists() and (probe := _probe(path)) and probe.minor == minor:
                found[minor] = probe
                break
    return list(found.values())


def best_interpreter(wanted: str) -> tuple[Interpreter, str | None]:
    """MWAA's Python for the version when the machine has it, else the nearest one; and a
    warning when it is not MWAA's."""
    found = {i.minor: i for i in find_interpreters()}
    if wanted in found:
        return found[wanted], None
    order = sorted(found, key=lambda m: abs(float(m) - float(wanted)))
    if not order:
        raise ConfigError("no Python 3.10-3.13 interpreter found on this machine")
    chosen = found[order[0]]
    return chosen, (
        f"MWAA runs this Airflow on Python {wanted}, which this machine does not have: using "
        f"Python {chosen.version} ({chosen.path}); code that depends on the Python version may "
        "behave differently on MWAA"
    )


# -- runtimes -------------------------------------------------------------------------------


def _uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    beside = Path(sys.executable).with_name("uv")
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found:
        return found
    raise ConfigError("uv is needed to create Airflow runtimes: pip install uv")


@dataclass
class Runtime:
    version: AirflowVersion
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def airflow(self) -> Path:
        return self.root / "bin" / "airflow"

    @property
    def stamp(self) -> Path:
        return self.root / STAMP

    def info(self) -> dict:
        try:
            return json.loads(self.stamp.read_text())
        except (OSError, ValueError):
            return {}

    def ready(self) -> bool:
        info = self.info()
        return (
            info.get("pins_sha256") == _sha(self.version.pins)
            and info.get("preinstalled") == list(PREINSTALLED)
            and self.python.exists()
        )

    @property
    def site_packages(self) -> Path:
        found = self.info().get("site_packages")
        if found:
            return Path(found)
        return next(self.root.glob("lib/python3.*/site-packages"))

    @property
    def python_version(self) -> str:
        return str(self.info().get("python_version", "?"))

    def size(self) -> int:
        total = 0
        for path in self.root.rglob("*"):
            try:
                if path.is_file() and not path.is_symlink():
                    total += path.stat().st_size
            except OSError:
                pass
        return total


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def runtime_for(version: str) -> Runtime:
    meta = lookup(version)
    return Runtime(meta, runtimes_dir() / f"airflow-{meta.version}")


def ensure(version: str, say: Callable[[str], None] = print) -> Runtime:
    """The runtime of ``version``, created first if needed (one creator at a time)."""
    runtime = runtime_for(version)
    if runtime.ready():
        return runtime
    runtimes_dir().mkdir(parents=True, exist_ok=True)
    with open(runtimes_dir() / f".airflow-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process creating it: wait, then use it
        if runtime.ready():
            return runtime
        _create(runtime, say)
    return runtime


def _create(runtime: Runtime, say: Callable[[str], None]) -> None:
    meta = runtime.version
    interpreter, warning = best_interpreter(meta.python)
    say(
        f"Creating the Apache Airflow {meta.version} runtime (first use of this version) with "
        f"Python {interpreter.version} in {runtime.root} (a minute or so) …"
    )
    if warning:
        say(f"WARNING: {warning}")
    started = time.monotonic()
    if runtime.root.exists():
        shutil.rmtree(runtime.root)  # a half-made one
    uv = _uv()
    log = runtimes_dir() / f"airflow-{meta.version}.log"
    steps = [
        [uv, "venv", "--quiet", "--python", interpreter.path, str(runtime.root)],
        [
            uv,
            "pip",
            "install",
            "--no-progress",
            "--python",
            str(runtime.python),
            "--compile-bytecode",  # without it every Airflow command takes twice as long
            f"apache-airflow=={meta.version}",
            *PREINSTALLED,
            "--constraint",
            str(meta.pins),
        ],
    ]
    progress = ProgressLine("[mwaa local] ")
    with open(log, "w", encoding="utf-8") as out:
        for argv in steps:
            code = _run_logged(argv, out, lambda line: _progress(progress, meta.version, line))
            if code != 0:
                progress.done()
                shutil.rmtree(runtime.root, ignore_errors=True)
                raise RuntimeCreationError(
                    f"creating the Airflow {meta.version} runtime failed (uv exited {code}): "
                    f"{_last_lines(log)}\n(uv's whole output: {log}); nothing was left behind"
                )
    progress.done()
    site = subprocess.run(
        [str(runtime.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runtime.stamp.write_text(
        json.dumps(
            {
                "airflow_version": meta.version,
                "python": interpreter.path,
                "python_version": interpreter.version,
                "mwaa_python": meta.python,
                "pins_sha256": _sha(meta.pins),
                "preinstalled": list(PREINSTALLED),
                "site_packages": site,
                "created_at": time.time(),
            },
            indent=1,
        )
    )
    say(f"Runtime ready in {time.monotonic() - started:.0f} s (uv's output: {log})")


def _run_logged(argv: list[str], out, on_line: Callable[[str], None]) -> int:
    """Run ``argv``, its output into ``out`` line by line (each also given to ``on_line``)."""
    from .. import owned

    proc = owned.popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    with owned.owned(proc):  # Ctrl-C or a stop: uv and what it started go too
        for line in proc.stdout:
            out.write(line)
            out.flush()
            on_line(line.rstrip())
        return proc.wait()


def _progress(progress: ProgressLine, version: str, line: str) -> None:
    words = line.split()
    if words and words[0] in ("Resolved", "Prepared", "Installed", "Uninstalled"):
        progress.update(f"Airflow {version} runtime: {line.strip()} …")


def _last_lines(log: Path, count: int = 6) -> str:
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return "\n".join(lines[-count:])


def installed() -> list[Runtime]:
    found = []
    for version in VERSIONS:
        runtime = runtime_for(version)
        if runtime.ready():
            found.append(runtime)
    return found


def remove(version: str) -> bool:
    runtime = runtime_for(version)
    if not runtime.root.exists():
        return False
    shutil.rmtree(runtime.root)
    return True
