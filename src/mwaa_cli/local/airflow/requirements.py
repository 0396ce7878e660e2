"""A user's requirements.txt, installed as MWAA installs it - into a layer of its own.

The layer is a copy of the runtime made of hard links (cheap, and the shared runtime never
changes), into which uv installs the requirements with MWAA's rules:

- a line anywhere matching ``-c `` or ``--constraint `` (commented out too: MWAA's documented
  opt-out) means the file brings its own constraints; otherwise Airflow's constraints for
  the version are added ("Forcing local constraints"). An ``-c`` line naming Airflow's
  published constraints of the very version is read from the committed pins (offline);
- MWAA's essential constraints always apply: Airflow itself and the packages it cannot run
  without stay at the runtime's versions;
- the install may take 9 minutes; a failure is logged and the environment starts anyway,
  without the layer - as on MWAA, where it is found in the logs - and said loudly.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .. import owned
from .runtime import Runtime, _uv

CONSTRAINT_LINE = re.compile(r"-c |--constraint ")  # MWAA's regex, on any line
MAX_INSTALL = 9 * 60
_AIRFLOW_CONSTRAINTS_URL = re.compile(
    r"https://raw\.githubusercontent\.com/apache/airflow/constraints-(?P<version>[\d.]+)/"
    r"constraints-[\d.]+\.txt"
)
# packages Airflow cannot run without at other versions (MWAA's essential constraints)
ESSENTIAL = (
    "flask-appbuilder", "flask-babel", "flask-jwt-extended", "flask-limiter", "flask-login",
    "flask-sqlalchemy", "flask-session", "flask-wtf", "flask", "gunicorn", "billiard",
    "celery", "gevent", "greenlet", "kombu", "vine", "sqlalchemy-utils", "sqlalchemy",
    "statsd", "watchtower", "fluent-logger", "uvicorn", "fastapi", "starlette", "pydantic",
)  # fmt: skip


@dataclass
class Layer:
    """The runtime plus a user's requirements, as a venv of hard links."""

    root: Path
    runtime: Runtime

    @property
    def version(self):
        return self.runtime.version

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def airflow(self) -> Path:
        return self.root / "bin" / "airflow"

    @property
    def site_packages(self) -> Path:
        relative = self.runtime.site_packages.relative_to(self.runtime.root)
        return self.root / relative

    @property
    def python_version(self) -> str:
        return self.runtime.python_version


@dataclass
class InstallResult:
    ok: bool
    layer: Layer | None
    log: Path
    summary: str
    seconds: float
    reused: bool = False


def has_constraints(text: str) -> bool:
    return any(CONSTRAINT_LINE.search(line) for line in text.splitlines())


def essential_constraints(runtime: Runtime) -> str:
    """``apache-airflow==X`` and the runtime's versions of the essential packages."""
    lines = [f"apache-airflow=={runtime.version.version}"]
    for line in runtime.version.pins.read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if "==" in line and name in ESSENTIAL:
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def localized(text: str, runtime: Runtime) -> str:
    """``text`` with ``-c`` lines that name Airflow's published constraints of this very
    version read from the committed pins (no network needed)."""

    def swap(match: re.Match) -> str:
        if match["version"] == runtime.version.version and runtime.version.pins_source == (
            "constraints"
        ):
            return str(runtime.version.pins)
        return match[0]

    return _AIRFLOW_CONSTRAINTS_URL.sub(swap, text)


def clone(runtime: Runtime, target: Path) -> Layer:
    """A venv at ``target`` that is ``runtime`` made of hard links (scripts copied, their
    interpreter line pointed at the copy)."""
    if target.exists():
        shutil.rmtree(target)
    old = str(runtime.root)
    for dirpath, dirnames, filenames in os.walk(runtime.root):
        rel = Path(dirpath).relative_to(runtime.root)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            source, dest = Path(dirpath) / name, target / rel / name
            if source.is_symlink():
                os.symlink(os.readlink(source), dest)
            elif rel == Path("bin"):
                data = source.read_bytes()
                if data.startswith(b"#!") and old.encode() in data.split(b"\n", 1)[0]:
                    head, _, body = data.partition(b"\n")
                    data = head.replace(old.encode(), str(target).encode()) + b"\n" + body
                dest.write_bytes(data)
                shutil.copymode(source, dest)
            else:
                try:
                    os.link(source, dest)
                except OSError:  # another file system: a copy then
                    shutil.copy2(source, dest)
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():
                os.symlink(os.readlink(Path(dirpath) / name), target / rel / name)
                dirnames.remove(name)
    config = target / "pyvenv.cfg"
    if config.exists():
        text = config.read_text()
        config.unlink()  # a hard link: do not edit the runtime's
        config.write_text(text.replace(old, str(target)))
    return Layer(target, runtime)


_CROSS = "\u00d7"  # uv marks an error with a multiplication sign


def failure_cause(output: str) -> str:
    """The installer's one-line reason in uv's output: its ``error:`` line with the deepest
    ``cause:`` (``╰─▶ Because …`` on a terminal), else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next(
        (
            line.removeprefix("error:").lstrip(_CROSS).strip().rstrip(":")
            for line in reversed(lines)
            if line.startswith(("error:", _CROSS))
        ),
        None,
    )
    causes = [
        line.split(":", 1)[1].strip() if line.startswith("cause:") else line[3:].strip()
        for line in lines
        if line.startswith(("cause:", "╰─▶"))
    ]
    if error and causes:
        return f"{error}: {causes[-1]}"[:500]
    return (error or (causes[-1] if causes else None) or (lines[-1] if lines else "no output"))[
        :500
    ]


def install(
    requirements: Path, runtime: Runtime, target: Path, log: Path, extra_env: dict | None = None
) -> InstallResult:
    """Install ``requirements`` on top of ``runtime`` at ``target``, MWAA's way; reuse the
    layer when neither changed since."""
    started = time.monotonic()
    text = requirements.read_text()
    digest = hashlib.sha256(
        (
            text + runtime.info().get("pins_sha256", "") + str(sorted((extra_env or {}).items()))
        ).encode()
    ).hexdigest()
    stamp = target / "mwaa-requirements.sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return InstallResult(True, Layer(target, runtime), log, "unchanged", 0.0, reused=True)
    layer = clone(runtime, target)
    work = target / "mwaa-requirements"
    work.mkdir(exist_ok=True)
    (work / "requirements.txt").write_text(localized(text, runtime))
    (work / "essential-constraints.txt").write_text(essential_constraints(runtime))
    argv = [
        _uv(), "pip", "install", "--python", str(layer.python), "--compile-bytecode",
        "-r", str(work / "requirements.txt"),
        "--constraint", str(work / "essential-constraints.txt"),
    ]  # fmt: skip
    notes = []
    if not has_constraints(text):
        notes.append(
            "Constraints should be specified for requirements.txt; forcing local constraints "
            f"(Apache Airflow {runtime.version.version}'s)"
        )
        argv += ["--constraint", str(runtime.version.pins)]
    env = dict(os.environ, **(extra_env or {}))
    log.parent.mkdir(parents=True, exist_ok=True)
    before = log.stat().st_size if log.exists() else 0
    with open(log, "a") as out:
        for note in notes:
            out.write(f"WARNING: {note}\n")
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        try:
            done = owned.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                timeout=MAX_INSTALL,
            )  # fmt: skip
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = 124
            out.write(f"ERROR: the install passed {MAX_INSTALL // 60} minutes and was stopped\n")
    seconds = time.monotonic() - started
    if code != 0:
        shutil.rmtree(target, ignore_errors=True)
        with open(log, "rb") as whole:
            whole.seek(before)
            attempt = whole.read().decode("utf-8", "replace")
        # this attempt's output, kept apart: a later start (a rollback's) appends to the log
        kept = log.with_name(f"requirements-failed-{time.strftime('%Y%m%d-%H%M%S')}.log")
        kept.write_text(attempt)
        return InstallResult(
            False,
            None,
            kept,
            f"{failure_cause(attempt)} (pip exited {code}; its whole output: {kept})",
            seconds,
        )
    stamp.write_text(digest)
    return InstallResult(True, layer, log, "; ".join(["installed", *notes]), seconds)
