"""Batches: many commands from a file, over one token and one connection, with a report
that says exactly how far they got."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ExitStatus, MwaaError
from ..wire import encode_command

if TYPE_CHECKING:
    from . import Client
    from .results import Result

MAX_COMMAND = 256 * 1024  # what the CLI endpoint accepts (bytes of command line)


@dataclass(frozen=True)
class BatchLine:
    """One command of a batch file: its line number, its argv and the text as written."""

    number: int
    argv: tuple[str, ...]
    text: str

    def describe(self) -> str:
        shown = shlex.join(self.argv)
        if len(shown) > 80:
            shown = shown[:77] + "…"
        return f"line {self.number} ({shown})"


class BatchError(MwaaError):
    """A batch problem tied to one line (the message names it), with the exit code of its
    cause."""

    def __init__(self, message: str, exit_status: ExitStatus) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def parse_batch(text: str) -> list[BatchLine]:
    """The commands of a batch file: one a line; blank lines and ``#`` comments skipped; a
    leading ``airflow`` (copy-pasted lines) dropped. Errors name the line."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line.encode()) > MAX_COMMAND:
            raise BatchError(
                f"line {number}: the command is {len(line.encode())} bytes, more than the "
                f"{MAX_COMMAND} the CLI endpoint accepts",
                ExitStatus.COMMAND_REJECTED,
            )
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise BatchError(f"line {number}: {exc}: {line[:80]!r}", ExitStatus.USAGE) from None
        if argv and argv[0] == "airflow":
            argv = argv[1:]
        if not argv:
            raise BatchError(f"line {number}: 'airflow' alone is not a command", ExitStatus.USAGE)
        lines.append(BatchLine(number, tuple(argv), line))
    return lines


@dataclass
class BatchReport:
    """What a batch did: results in order, and which lines never ran."""

    lines: list[BatchLine]
    results: list[Result] = field(default_factory=list)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def not_run(self) -> list[BatchLine]:
        return self.lines[len(self.results) :]

    def stopped_message(self, error: MwaaError) -> str:
        """Why and where the batch stopped, what completed and what did not run."""
        done = len(self.results)
        at = self.lines[done]
        completed = (
            f"lines {', '.join(str(line.number) for line in self.lines[:done])} completed"
            if done
            else "none completed"
        )
        rest = self.lines[done + 1 :]
        skipped = (
            f"not run: {', '.join(line.describe() for line in rest)}"
            if rest
            else "nothing after it"
        )
        return (
            f"batch stopped at command {done + 1} of {len(self.lines)}, {at.describe()}: "
            f"{error}; {completed}; {skipped}"
        )


def prepare_batch(
    client: Client, lines: Sequence[BatchLine], *, confirmed: bool = False, **prepare
) -> list[BatchLine]:
    """Every line translated and checked before the first one is sent; errors name the line.
    Commands Airflow would confirm need ``--yes`` on their line (a batch cannot ask), or
    ``confirmed`` for all of them."""
    prepared = []
    for line in lines:
        try:
            item = client.prepare(line.argv, **prepare)
        except MwaaError as exc:
            raise BatchError(f"line {line.number}: {exc}", exc.exit_status) from exc
        if item.confirm and confirmed:
            item = item.confirmed()
        if item.confirm:
            raise BatchError(
                f"line {line.number}: {shlex.join(item.argv)} asks for confirmation "
                f"({item.confirm}); add --yes to that line to run it in a batch",
                ExitStatus.USAGE,
            )
        if len(encode_command(item.argv).encode()) > MAX_COMMAND:
            raise BatchError(
                f"line {line.number}: the command is longer than the {MAX_COMMAND} bytes the "
                "CLI endpoint accepts",
                ExitStatus.COMMAND_REJECTED,
            )
        prepared.append(BatchLine(line.number, item.argv, line.text))
    return prepared


def run_batch(
    client: Client,
    lines: Sequence[BatchLine],
    *,
    keep_going: bool = False,
    on_result: Callable[[int, BatchLine, Result], None] | None = None,
    **run,
) -> BatchReport:
    """Run ``lines`` in order; stop after the first failing command unless ``keep_going``.
    An error with no reply (unreachable, timed out, stopped) raises :class:`BatchError`
    whose message says where the batch stopped and what did not run."""
    report = BatchReport(list(lines))
    for index, line in enumerate(lines, 1):
        try:
            result = client.run(line.argv, **run)
        except MwaaError as exc:
            raise BatchError(report.stopped_message(exc), exc.exit_status) from exc
        report.results.append(result)
        if on_result is not None:
            on_result(index, line, result)
        if not result.ok and not keep_going:
            break
    return report
