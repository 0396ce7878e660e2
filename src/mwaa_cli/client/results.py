"""What the client returns: a command's result, a prepared command, a request preview."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One remote command's outcome: its streams and exit code, kept apart.

    ``stdout`` and ``stderr`` are the remote bytes, exactly; ``stdout_text`` and
    ``stderr_text`` decode them as UTF-8 (undecodable bytes replaced).
    """

    environment: str
    command: tuple[str, ...]
    stdout: bytes
    stderr: bytes
    exit_code: int
    exit_code_reported: bool  # False: inferred from stderr (real MWAA sends none)
    duration: float
    busy_retries: int = 0  # times the server said "busy, not started" and it was sent again

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    @property
    def text(self) -> str:
        """``stdout_text`` (the name earlier versions used)."""
        return self.stdout_text


@dataclass(frozen=True)
class Prepared:
    """A command ready to send, and what was changed on the way (for stderr).

    ``confirm`` is the question to ask before sending a command that Airflow would confirm
    interactively (``dags delete``); once the user agrees, :meth:`confirmed` adds ``--yes``.
    """

    argv: tuple[str, ...]
    notes: tuple[str, ...] = ()
    confirm: str | None = None

    def confirmed(self) -> Prepared:
        return Prepared((*self.argv, "--yes"), self.notes, None)


@dataclass(frozen=True)
class Preview:
    """The exact CLI request :meth:`Client.run` would send, token masked (``--dry-run``)."""

    method: str
    url: str
    headers: dict[str, str]
    body: str

    def as_dict(self) -> dict:
        return {"method": self.method, "url": self.url, "headers": self.headers, "body": self.body}
