"""mwaa-cli: run Apache Airflow CLI commands on Amazon MWAA from a terminal or Python."""

from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    CommandNotAllowed,
    ConfigError,
    ConnectError,
    EnvironmentNotFound,
    ExitStatus,
    MwaaError,
    ProtocolError,
    RequestTimeout,
    ServerBusy,
    ServerError,
)

if TYPE_CHECKING:
    from .client import Client, Result


def __getattr__(name: str) -> Any:
    if name == "__version__":  # one place: pyproject.toml's version, as installed
        from importlib.metadata import version

        return version("mwaa-cli")
    # the client is imported on first use: `mwaa run` reaches it only when it needs it
    if name in ("Client", "Result"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'mwaa_cli' has no attribute {name!r}")


__all__ = [
    "AuthError",
    "Client",
    "CommandNotAllowed",
    "ConfigError",
    "ConnectError",
    "EnvironmentNotFound",
    "ExitStatus",
    "MwaaError",
    "ProtocolError",
    "RequestTimeout",
    "Result",
    "ServerBusy",
    "ServerError",
]
