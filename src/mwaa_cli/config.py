"""Settings from the environment: the only reader of ``os.environ`` in the client."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "MWAA_ENV"  # default environment name
HOME_VAR = "MWAA_CLI_HOME"  # relocates all of mwaa-cli's state (tests use it)


def default_env() -> str | None:
    return os.environ.get(ENV_VAR) or None


def state_dir() -> Path:
    """Where mwaa-cli keeps its state (local environments, caches)."""
    if os.environ.get(HOME_VAR):
        return Path(os.environ[HOME_VAR]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mwaa-cli"
