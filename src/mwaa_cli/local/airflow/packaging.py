"""Requirements for an environment whose web server cannot reach PyPI (private networking):
the wheels, downloaded for MWAA's platform and Python, go into ``plugins.zip``, and a
``requirements.txt`` installs from them offline - MWAA unpacks plugins.zip to
``/usr/local/airflow/plugins``, so that is where pip looks.

``pip download`` does the work (uv has no download command): for manylinux x86_64 (MWAA's
default) or aarch64, and the Python of the Airflow version, binary wheels only - a package
published only as an sdist cannot be installed offline on MWAA and is reported.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError
from .requirements import has_constraints, localized
from .runtime import runtime_for

MWAA_PLUGINS = "/usr/local/airflow/plugins"
PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64"),
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_17_aarch64"),
}


@dataclass
class Packaged:
    plugins_zip: Path
    requirements: Path
    wheels: list[str] = field(default_factory=list)
    log: str = ""


def _pip() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip3") or shutil.which("pip")
    if found:
        return [found]
    raise ConfigError("package-requirements needs pip (pip install pip)")


def package(
    requirements: Path,
    version: str,
    out: Path,
    arch: str = "x86_64",
    plugins: Path | None = None,
) -> Packaged:
    """Download the wheels of ``requirements`` (with the version's constraints unless the
    file names its own) into ``out/plugins.zip`` beside ``plugins`` (a folder or zip to
    keep), and write ``out/requirements.txt`` that installs them offline."""
    meta = runtime_for(version).version
    text = requirements.read_text()
    python = meta.python.replace(".", "")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mwaa-wheels-") as tmp:
        wheels = Path(tmp) / "wheels"
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text(localized(text, runtime_for(version)))
        argv = [
            *_pip(), "download", "--disable-pip-version-check", "--no-input",
            "--dest", str(wheels), "--only-binary=:all:", "--python-version", python,
            "--implementation", "cp", "--abi", f"cp{python}",
            *(arg for p in PLATFORMS[arch] for arg in ("--platform", p)),
            "-r", str(reqs),
        ]  # fmt: skip
        if not has_constraints(text):
            argv += ["--constraint", str(meta.pins)]
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise PackagingError(
                f"pip download failed (exit {done.returncode}) for Python {meta.python} on "
                f"manylinux {arch}:\n{_tail(done.stdout + done.stderr)}\n(a package without a "
                "wheel for this platform cannot be installed offline on MWAA)"
            )
        names = sorted(p.name for p in wheels.iterdir())
        plugins_zip = out / "plugins.zip"
        with zipfile.ZipFile(plugins_zip, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in _existing_plugins(plugins, archive):
                if name in names:
                    raise PackagingError(f"{plugins} already holds {name}")
            for name in names:
                archive.write(wheels / name, name)
    lines = [
        f"--find-links {MWAA_PLUGINS}",
        "--no-index",
        "",
        *(line for line in text.splitlines() if _is_requirement(line)),
    ]
    requirements_out = out / "requirements.txt"
    requirements_out.write_text("\n".join(lines) + "\n")
    return Packaged(plugins_zip, requirements_out, names, done.stdout)


def _is_requirement(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("#", "-", "--"))


def _existing_plugins(plugins: Path | None, archive: zipfile.ZipFile) -> list[str]:
    """Copy the user's plugins into ``archive``; their names."""
    if plugins is None:
        return []
    names = []
    if plugins.is_dir():
        for path in sorted(plugins.rglob("*")):
            if path.is_file():
                name = str(path.relative_to(plugins))
                archive.write(path, name)
                names.append(name)
    else:
        with zipfile.ZipFile(plugins) as source:
            for info in source.infolist():
                archive.writestr(info, source.read(info))
                names.append(info.filename)
    return names


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class PackagingError(ConfigError):
    """The requirements could not be packaged (the message says why)."""
