"""MWAA's wire formats, shared by the client and the local environment.

The remote CLI: the body is the Airflow command line without the leading ``airflow``
(``text/plain``), the reply is ``{"stdout": base64, "stderr": base64}``. We add an
``exit_code`` field - a compatible extension that real MWAA does not send.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

CLI_PATH = "/aws_mwaa/cli"
CLI_PATH_V3 = "/pluginsv2/aws_mwaa/cli"
ENV_NAME_RE = re.compile(r"[a-zA-Z][0-9a-zA-Z\-_]{0,79}")


class WireError(ValueError):
    """A reply or request that does not follow the wire format."""


@dataclass(frozen=True)
class CliReply:
    """One decoded reply of the remote CLI endpoint."""

    stdout: bytes
    stderr: bytes
    exit_code: int | None = None  # None: the server (real MWAA) did not say


def encode_command(argv: Sequence[str]) -> str:
    """The request body for ``argv`` (a list of Airflow arguments, no leading ``airflow``)."""
    return shlex.join(argv)


def decode_command(body: str) -> list[str]:
    """Split a request body shell-style into an argv list (never run through a shell)."""
    try:
        return shlex.split(body)
    except ValueError as exc:  # e.g. "No closing quotation"
        raise WireError(f"cannot split the command: {exc}") from exc


def encode_reply(reply: CliReply) -> bytes:
    """The JSON body of a CLI reply."""
    doc: dict[str, object] = {
        "stdout": base64.b64encode(reply.stdout).decode("ascii"),
        "stderr": base64.b64encode(reply.stderr).decode("ascii"),
    }
    if reply.exit_code is not None:
        doc["exit_code"] = reply.exit_code
    return json.dumps(doc).encode()


def decode_reply(body: bytes) -> CliReply:
    """Parse a CLI reply; raise :class:`WireError` when it is not one."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise WireError("the reply is not JSON") from exc
    if not isinstance(doc, dict) or "stdout" not in doc or "stderr" not in doc:
        raise WireError("the reply lacks 'stdout' and 'stderr'")
    try:
        stdout = base64.b64decode(doc["stdout"] or "", validate=True)
        stderr = base64.b64decode(doc["stderr"] or "", validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise WireError("the reply's stdout/stderr are not base64") from exc
    code = doc.get("exit_code")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise WireError("the reply's exit_code is not an integer")
    return CliReply(stdout, stderr, code)


def is_valid_env_name(name: str) -> bool:
    """MWAA's environment name rule: 1-80 chars, ``[a-zA-Z][0-9a-zA-Z-_]*``."""
    return ENV_NAME_RE.fullmatch(name) is not None


UI_DOMAIN = "mwaa.localhost"  # RFC 6761: browsers resolve *.localhost to loopback


def ui_host(name: str, port: int) -> str:
    """A local environment's host name for browsers, ``NAME-PORT.mwaa.localhost``: cookies
    are scoped by host, not port, so each environment needs a name of its own for its login
    sessions to stay its own (scripts keep 127.0.0.1:PORT, which every resolver knows)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40] or "env"
    return f"{label}-{port}.{UI_DOMAIN}"
