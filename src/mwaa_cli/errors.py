"""One exception tree for the library and the exit codes the CLI maps it to."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Exit codes of ``mwaa`` for its own errors (sysexits-style, so they do not collide
    with the small codes that Airflow commands return, which ``mwaa run`` passes through)."""

    OK = 0
    COMMAND_FAILED = 1  # the remote command failed (its own code is passed through when known)
    USAGE = 2  # bad arguments to mwaa itself
    COMMAND_REJECTED = 65  # not on the environment's allowlist, refused before or by the server
    ENV_NOT_FOUND = 67  # no such MWAA environment / none chosen
    UNREACHABLE = 68  # cannot connect to the control plane or the web server
    UNAVAILABLE = 69  # the web server is busy (503) or the environment is not AVAILABLE
    SERVER_ERROR = 70  # the web server or control plane failed (5xx)
    TIMEOUT = 75  # the request or the remote command timed out
    PROTOCOL = 76  # a reply that does not follow MWAA's wire format
    AUTH = 77  # credentials missing/refused, token rejected (403)
    CONFIG = 78  # missing region or other configuration


class MwaaError(Exception):
    """Base of every error the library raises; ``exit_status`` is what the CLI exits with."""

    exit_status = ExitStatus.SERVER_ERROR


class ConfigError(MwaaError):
    exit_status = ExitStatus.CONFIG


class ConfirmationRequired(MwaaError):
    """A command Airflow confirms interactively, with no terminal to ask and no ``--yes``."""

    exit_status = ExitStatus.USAGE


class AuthError(MwaaError):
    exit_status = ExitStatus.AUTH


class EnvironmentNotFound(MwaaError):
    exit_status = ExitStatus.ENV_NOT_FOUND


class CommandNotAllowed(MwaaError):
    exit_status = ExitStatus.COMMAND_REJECTED


class ConnectError(MwaaError):
    exit_status = ExitStatus.UNREACHABLE
    not_sent: bool = False  # True: the connection failed before the request was sent


class ServerBusy(MwaaError):
    """503: the server did not run the command now. ``not_started``: it never started, so
    sending it again is safe; ``retry_after``: seconds the server asked to wait."""

    exit_status = ExitStatus.UNAVAILABLE
    not_started: bool = True
    retry_after: float | None = None


class ServerError(MwaaError):
    exit_status = ExitStatus.SERVER_ERROR


class RequestTimeout(MwaaError):
    exit_status = ExitStatus.TIMEOUT


class ProtocolError(MwaaError):
    exit_status = ExitStatus.PROTOCOL
