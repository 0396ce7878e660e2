"""One progress line on stderr: rewritten in place on a terminal, said now and then in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """``update()`` as often as you like; a terminal shows the latest text on one line, a
    file or pipe gets the first text and then one line every ``every`` seconds at most."""

    def __init__(self, prefix: str = "", stream: TextIO | None = None, every: float = 15.0):
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.every = every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_said = 0.0
        self._shown = False

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\033[K{self.prefix}{text}")
            self._shown = True
        elif not self._last_said or now - self._last_said >= self.every:
            self.stream.write(f"{self.prefix}{text}\n")
            self._last_said = now
        else:
            return
        self.stream.flush()

    def done(self, text: str | None = None) -> None:
        """End the line (with ``text``, if given, as its last words)."""
        if self.tty and self._shown:
            self.stream.write("\r\033[K")
        if text is not None:
            self.stream.write(f"{self.prefix}{text}\n")
        self.stream.flush()
        self._shown = False
