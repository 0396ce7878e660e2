"""How results reach the terminal: byte-exact streams, JSON envelopes, noise filtering and
a spinner for slow commands."""

from __future__ import annotations

import base64
import itertools
import re
import sys
import threading
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import Result

# What Airflow writes to stderr that is not about the command: Python warnings (the warning
# line and the source line after it), log records (classic and structlog layouts).
# "file.py:859: DeprecationWarning: …" (Python) and "file.py:859 FutureWarning: …" (Airflow's
# own format, on every Airflow 2 command)
_WARNING = re.compile(rb"^\S.*:\d+:? \w*Warning: ")
_LOG_LINE = re.compile(
    rb"^(\[\d{4}-\d\d-\d\dT?[\d:., +\-]*\]\s*(\{[^}]*\}\s*)?(DEBUG|INFO|WARNING)\b"  # classic
    rb"|\d{4}-\d\d-\d\d[T ][\d:.]+Z?\s+\[(debug|info|warning)\s*\])"  # structlog console
)


def filter_noise(stderr: bytes) -> bytes:
    """``stderr`` without warnings and DEBUG/INFO/WARNING log lines; errors are kept."""
    kept: list[bytes] = []
    skip_source = False
    for line in stderr.splitlines(keepends=True):
        if skip_source and line.startswith((b"  ", b"\t")):
            skip_source = False
            continue
        skip_source = False
        if _WARNING.match(line):
            skip_source = True
            continue
        if _LOG_LINE.match(line):
            continue
        kept.append(line)
    return b"".join(kept)


def _text(data: bytes) -> tuple[str, bool]:
    """(text, is_base64): UTF-8 when it decodes, else base64 so that no byte is lost."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), True


def envelope(
    environment: str,
    command: Sequence[str],
    *,
    result: Result | None = None,
    stderr: bytes | None = None,
    error: Exception | None = None,
    request: dict | None = None,
) -> dict[str, Any]:
    """One command's ``--json`` record; the same keys whether it ran, failed to get a reply
    (``error``) or was only previewed (``request``, with ``--dry-run``)."""
    from ..errors import MwaaError

    doc: dict[str, Any] = {
        "environment": environment,
        "command": list(command),
        "exit_code": None,
        "exit_code_reported": False,
        "stdout": "",
        "stderr": "",
        "duration_ms": 0,
        "error": None,
        "request": request,
    }
    if result is not None:
        out, out_b64 = _text(result.stdout)
        err, err_b64 = _text(result.stderr if stderr is None else stderr)
        doc.update(
            command=list(result.command),
            exit_code=result.exit_code,
            exit_code_reported=result.exit_code_reported,
            stdout=out,
            stderr=err,
            duration_ms=round(result.duration * 1000),
        )
        if out_b64 or err_b64:
            doc["encoding"] = {
                "stdout": "base64" if out_b64 else "utf-8",
                "stderr": "base64" if err_b64 else "utf-8",
            }
    elif error is not None:
        code = int(error.exit_status) if isinstance(error, MwaaError) else 1
        doc.update(exit_code=code, error=f"{type(error).__name__}: {error}")
    elif request is not None:
        doc["exit_code"] = 0
    return doc


class Spinner:
    """A spinner on ``stream`` after ``delay`` seconds, only when it is a terminal."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(
        self,
        label: str,
        stream: IO[str] | None = None,
        delay: float = 1.0,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.delay = delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shown = False

    def __enter__(self) -> Spinner:
        isatty = getattr(self.stream, "isatty", lambda: False)
        if self.enabled and isatty():
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def _spin(self) -> None:
        if self._stop.wait(self.delay):
            return
        self.shown = True
        for frame in itertools.cycle(self.FRAMES):
            self.stream.write(f"\r{frame} {self.label}")
            self.stream.flush()
            if self._stop.wait(0.1):
                break
        self.stream.write("\r\x1b[2K")  # erase the spinner line
        self.stream.flush()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
