"""mwaa-cli: run Apache Airflow CLI commands on Amazon MWAA from a terminal or Python."""

from .client import Client, Result
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
