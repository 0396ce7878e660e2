"""Where mwaa-cli keeps its state, and the layout of a local environment's home.

``MWAA_CLI_HOME`` relocates all of it (the tests use it); otherwise it lives in the XDG data
folder (``~/.local/share/mwaa-cli``).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VAR = "MWAA_CLI_HOME"


def data_dir() -> Path:
    """mwaa-cli's folder in the XDG data folder (``~/.local/share/mwaa-cli``), whatever
    ``MWAA_CLI_HOME`` says: what every home shares (the Airflow runtimes) lives here."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mwaa-cli"


def state_dir() -> Path:
    """Where mwaa-cli keeps its state (local environments, caches, shell history)."""
    if os.environ.get(HOME_VAR):
        return Path(os.environ[HOME_VAR]).expanduser()
    return data_dir()


def local_homes() -> Path:
    """The folder holding the homes of local environments (``local/NAME``)."""
    return state_dir() / "local"


class LocalLayout:
    """The files of one local environment's home that the client and the server share."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def owner(self) -> Path:
        """While a server runs: its pid and endpoint (JSON), under a lock."""
        return self.root / "serve.lock"

    @property
    def ca_cert(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def ca_bundle(self) -> Path:
        return self.root / "tls" / "ca-bundle.pem"

    @property
    def env_file(self) -> Path:
        return self.root / "env.sh"
