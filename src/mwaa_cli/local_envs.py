"""Local environments started on this machine, as the client sees them (no local extra
needed): a `mwaa local serve` home (``$MWAA_CLI_HOME/local/NAME``) or an environment of the
local region (``$MWAA_CLI_HOME/region/envs/NAME``), whether it runs, and its ``env.sh``.

So that ``mwaa run --env local -- dags list`` in a new terminal - the command the banner
suggests - reaches the running environment instead of failing for want of a region, and
``mwaa doctor`` can say "stopped: start it with …" instead of blaming the network.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .local.region.children import is_locked  # stdlib only: no local extra needed
from .paths import state_dir


@dataclass(frozen=True)
class LocalEnvironment:
    name: str
    home: Path  # the folder whose serve.lock and env.sh describe it
    region: bool  # an environment of the local region (else a `mwaa local serve`)
    running: bool
    exports: dict[str, str] = field(default_factory=dict)  # what its env.sh exports

    @property
    def env_file(self) -> Path:
        return self.home / "env.sh"

    @property
    def start_command(self) -> str:
        return "mwaa local up" if self.region else f"mwaa local serve --name {self.name}"

    def profile_applies(self, environ: dict[str, str] | os._Environ) -> str | None:
        """Its AWS profile, when this process's own AWS files are where that profile was
        written (else sourcing env.sh is the way)."""
        profile = self.exports.get("AWS_PROFILE")
        if not profile:
            return None
        for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            wanted = self.exports.get(var)
            if wanted and Path(environ.get(var) or "/").expanduser().resolve() != Path(wanted):
                return None
        return profile


def _exports(env_file: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        lines = env_file.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        if line.startswith("export "):
            key, _, value = line[7:].partition("=")
            try:
                found[key] = shlex.split(value)[0] if value else ""
            except (ValueError, IndexError):
                continue
    return found


def find(name: str) -> LocalEnvironment | None:
    """The local environment ``name`` started on this machine (running or not), if any."""
    if not name or "/" in name or name.startswith("."):
        return None
    home = state_dir() / "local" / name
    if (home / "env.sh").is_file():
        running = is_locked(home)
        return LocalEnvironment(name, home, False, running, _exports(home / "env.sh"))
    region = state_dir() / "region"
    record = region / "envs" / name / "environment.json"
    if record.is_file() and (region / "env.sh").is_file():
        running = is_locked(region)
        try:
            json.loads(record.read_text())
        except (OSError, ValueError):
            return None
        return LocalEnvironment(name, region, True, running, _exports(region / "env.sh"))
    return None


def owning(endpoint: str) -> LocalEnvironment | None:
    """The local environment whose env.sh points at ``endpoint`` (a stopped one too)."""
    for folder in sorted((state_dir() / "local").glob("*/env.sh")):
        found = find(folder.parent.name)
        if found and _endpoint_of(found) == endpoint.rstrip("/"):
            return found
    region = state_dir() / "region"
    if (region / "env.sh").is_file():
        exports = _exports(region / "env.sh")
        running = is_locked(region)
        candidate = LocalEnvironment("region", region, True, running, exports)
        if _endpoint_of(candidate) == endpoint.rstrip("/"):
            return candidate
    return None


def _endpoint_of(env: LocalEnvironment) -> str | None:
    try:
        record = json.loads((env.home / "serve.lock").read_text() or "{}")
    except (OSError, ValueError):
        record = {}
    endpoint = record.get("endpoint") or env.exports.get("AWS_ENDPOINT_URL_MWAA")
    return str(endpoint).rstrip("/") if endpoint else None


def hint(name: str | None) -> str | None:
    """What to do when ``name`` could not be reached and is a local environment here."""
    found = find(name or "")
    if found is None:
        return None
    if not found.running:
        return (
            f"'{found.name}' is a local environment of this machine and it is stopped: start "
            f"it with `{found.start_command}`"
        )
    return (
        f"'{found.name}' is a local environment running on this machine: `source "
        f"{found.env_file}` in this shell (or pass --profile "
        f"{found.exports.get('AWS_PROFILE', 'mwaa-local')})"
    )
