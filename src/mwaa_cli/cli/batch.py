"""``mwaa batch``: many commands from a file over one token and one connection."""

from __future__ import annotations

import json
import shlex
import sys

import click

from ..client.batch import BatchLine, parse_batch, prepare_batch, run_batch
from .options import client_for, connection_options, note, one_env, shell_status
from .run import json_record, run_options, run_opts, show


@click.command()
@connection_options
@run_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--keep-going", "-k", is_flag=True, help="run every command even after a failure")
@click.option("--quiet", "-q", is_flag=True, help="no per-command headers on stderr")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="a progress line per command on stderr [default: on a terminal, or without --quiet]",
)
def batch(file, keep_going: bool, quiet: bool, progress: bool | None, **opts) -> None:
    """Run many commands (FILE, or - for stdin) over one token and one connection.

    \b
    mwaa batch nightly.txt
    printf 'variables set a 1\\nvariables get a\\n' | mwaa batch -

    One Airflow command a line; blank lines and `#` comments are skipped, a leading
    `airflow` is dropped. Every command is translated and checked before the first one is
    sent (errors name the line). Commands run in order and stop at the first failure unless
    --keep-going; each one's stdout/stderr is written as it finishes, after a
    `==> [i/n] line N: command` header on stderr (--json: one envelope per line instead).
    Commands Airflow would confirm need --yes on their line (or mwaa's --yes). Exit code:
    the first failed command's code, else 0.
    """
    ro = run_opts(opts)
    lines = parse_batch(file.read())
    show_progress = (not quiet) if progress is None else progress
    with client_for(one_env(opts), opts) as client:
        prepared = prepare_batch(
            client, lines, confirmed=ro.yes, translate=ro.translate, force=ro.force
        )
        if ro.dry_run:
            for line in prepared:
                preview = client.request_preview(line.argv)
                click.echo(json.dumps(preview.as_dict()) if ro.as_json else f"# line {line.number}")
                if not ro.as_json:
                    from .run import show_preview

                    show_preview(preview, ro)
            return
        total = len(prepared)

        def on_result(index: int, line: BatchLine, result) -> None:
            if show_progress and not ro.as_json:
                click.echo(
                    f"==> [{index}/{total}] line {line.number}: {shlex.join(result.command)} "
                    f"(exit {result.exit_code}, {result.duration * 1000:.0f} ms)",
                    err=True,
                )
            elif show_progress:
                done = f"[{index}/{total}] line {line.number}: exit {result.exit_code}"
                click.echo(done, err=True)
            if ro.as_json:
                click.echo(json.dumps(json_record(client.env, line.argv, result, ro)))
                sys.stdout.flush()
            else:
                show(result, ro)

        report = run_batch(
            client, prepared, keep_going=keep_going, on_result=on_result, infer=ro.inference
        )
    failed = report.failed
    if failed and not keep_going and report.not_run:
        first = report.results[-1]
        skipped = ", ".join(line.describe() for line in report.not_run)
        note(
            f"batch: stopped after line {report.lines[len(report.results) - 1].number} failed "
            f"(exit {first.exit_code}); not run: {skipped}"
        )
    elif failed and (show_progress or not quiet):
        note(f"batch: {len(failed)} of {total} commands failed")
    raise SystemExit(shell_status(failed[0].exit_code) if failed else 0)


__all__ = ["batch", "parse_batch"]
