"""``mwaa run`` (one or many environments) and ``mwaa batch``."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click

from ..client import Client, Result
from ..errors import MwaaError
from ..outcome import infer_exit_code
from ..output import Spinner, envelope, error_envelope, filter_noise
from ..settings import EnvSettings
from .options import client_for, connection_options, note, resolve, shell_status, write_bytes


@dataclass(frozen=True)
class RunOptions:
    """How a command is prepared, sent and shown."""

    translate: bool = True
    force: bool = False
    filter_noise: bool = False
    inference: str = "default"  # "strict" | "lenient": for replies without an exit code
    as_json: bool = False
    dry_run: bool = False


def run_options(func: Callable) -> Callable:
    options = [
        click.option("--json", "as_json", is_flag=True, help="print a JSON envelope per command"),
        click.option(
            "--no-translate",
            "no_translate",
            is_flag=True,
            help="send old Airflow syntax (list_dags, dags backfill on 3.x) as typed",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="skip the client-side allowlist check (the server still checks)",
        ),
        click.option(
            "--strict",
            "inference",
            flag_value="strict",
            help="without a reported exit code, any ERROR/CRITICAL log line also means failure",
        ),
        click.option(
            "--lenient",
            "inference",
            flag_value="lenient",
            help="without a reported exit code, only a traceback means failure",
        ),
        click.option(
            "--filter-noise",
            is_flag=True,
            help="drop Python warnings and DEBUG/INFO/WARNING log lines from the output",
        ),
        click.option(
            "--dry-run", is_flag=True, help="print the request that would be sent, token masked"
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_opts(opts: dict) -> RunOptions:
    return RunOptions(
        translate=not opts.pop("no_translate", False),
        force=opts.pop("force", False),
        filter_noise=opts.pop("filter_noise", False),
        inference=opts.pop("inference", None) or "default",
        as_json=opts.pop("as_json", False),
        dry_run=opts.pop("dry_run", False),
    )


def execute(
    client: Client, args: Sequence[str], ro: RunOptions, label: str = "", spinner: bool = True
) -> Result | dict:
    """Prepare and run one command (or describe it, with ``dry_run``)."""
    prepared = client.prepare(args, translate=ro.translate, force=ro.force)
    for message in prepared.notes:
        note(f"{label}{message}")
    if ro.dry_run:
        return client.request_preview(prepared.argv)
    with Spinner(f"{label}{shlex.join(prepared.argv)}", enabled=spinner):
        result = client.run(prepared.argv)
    if not result.exit_code_reported and ro.inference != "default":
        result = dataclasses.replace(result, exit_code=infer_exit_code(result.stderr, ro.inference))
    return result


def show(result: Result, ro: RunOptions) -> None:
    """Remote stdout to stdout, stderr to stderr (byte for byte unless --filter-noise)."""
    out, err = result.stdout, result.stderr
    if ro.filter_noise:
        out, err = filter_noise(out), filter_noise(err)
    write_bytes(sys.stdout, out)
    write_bytes(sys.stderr, err)
    if result.exit_code < 0:
        import signal

        try:
            name = signal.Signals(-result.exit_code).name
        except ValueError:
            name = f"signal {-result.exit_code}"
        note(f"the remote command was killed by {name} (exit {shell_status(result.exit_code)})")


def json_record(result: Result, ro: RunOptions) -> dict:
    """The ``--json`` envelope of ``result`` (stderr filtered with --filter-noise)."""
    return envelope(result, filter_noise(result.stderr) if ro.filter_noise else None)


def show_preview(preview: dict, ro: RunOptions) -> None:
    if ro.as_json:
        click.echo(json.dumps(preview, indent=2))
        return
    click.echo(f"{preview['method']} {preview['url']}")
    for key, value in preview["headers"].items():
        click.echo(f"{key}: {value}")
    click.echo("")
    click.echo(preview["body"])


def targets(conn: dict, all_envs: bool) -> list[EnvSettings]:
    """The environments a command goes to: --env a,b,c, --all, or the one default."""
    selector = conn.get("env")
    if all_envs:
        if selector:
            raise click.UsageError("--all and --env cannot be combined")
        base = resolve(conn)
        lister = Client.from_settings(dataclasses.replace(base, name=None))
        names = lister.list_environment_names()
        if not names:
            raise click.UsageError("--all: no environments in this region")
        return [dataclasses.replace(base, name=n, alias=None) for n in names]
    if selector and "," in selector:
        names = [n.strip() for n in selector.split(",") if n.strip()]
        return [resolve(conn, env=n) for n in dict.fromkeys(names)]
    return [resolve(conn)]


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@connection_options
@run_options
@click.option("--all", "all_envs", is_flag=True, help="run on every environment in the region")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def run(args: tuple[str, ...], all_envs: bool, **opts) -> None:
    """Run one Airflow CLI command remotely: mwaa run -- dags list -o json

    Remote stdout goes to stdout byte for byte, remote stderr to stderr; the exit code is
    the remote command's. Old syntax (list_dags, trigger_dag, variables -s) is translated for
    the environment's Airflow version, the command is checked against its allowlist before
    anything is sent, and --yes is added where Airflow would ask for confirmation.
    """
    ro = run_opts(opts)
    envs = targets(opts, all_envs)
    if len(envs) > 1 or all_envs:
        raise SystemExit(run_many_envs(envs, args, opts, ro))
    with client_for(envs[0], opts) as client:
        outcome = execute(client, args, ro)
    if isinstance(outcome, dict):
        show_preview(outcome, ro)
        return
    if ro.as_json:
        click.echo(json.dumps(json_record(outcome, ro)))
    else:
        show(outcome, ro)
    raise SystemExit(shell_status(outcome.exit_code))


def run_many_envs(envs: list[EnvSettings], args: Sequence[str], conn: dict, ro: RunOptions) -> int:
    """One command on several environments at once; output grouped per environment."""

    from concurrent.futures import ThreadPoolExecutor

    def one(settings: EnvSettings) -> Result | dict | MwaaError:
        try:
            with client_for(settings, conn) as client:
                return execute(client, args, ro, label=f"[{settings.name}] ", spinner=False)
        except MwaaError as exc:
            return exc

    label = f"{shlex.join(args)} on {len(envs)} environments"
    with Spinner(label), ThreadPoolExecutor(max_workers=min(8, len(envs))) as pool:
        outcomes = list(pool.map(one, envs))
    codes, docs = [], []
    for settings, outcome in zip(envs, outcomes, strict=True):
        name = settings.name or "?"
        if isinstance(outcome, MwaaError):
            code = int(outcome.exit_status)
            docs.append(error_envelope(name, list(args), outcome, code))
            if not ro.as_json:
                click.echo(f"==> {name} <==")
                click.echo(f"mwaa: error: [{name}] {outcome}", err=True)
        elif isinstance(outcome, dict):
            code = 0
            docs.append({"environment": name, "request": outcome})
            if not ro.as_json:
                click.echo(f"==> {name} <==")
                show_preview(outcome, ro)
        else:
            code = shell_status(outcome.exit_code)
            docs.append(json_record(outcome, ro))
            if not ro.as_json:
                click.echo(f"==> {name} <== (exit {outcome.exit_code})")
                show(outcome, ro)
        codes.append(code)
    if ro.as_json:
        click.echo(json.dumps(docs, indent=2))
    return max(codes)


def parse_batch(text: str) -> list[list[str]]:
    """Commands of a batch file: one a line; blank lines and ``#`` comment lines skipped."""
    commands = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise click.UsageError(f"line {number}: {exc}: {line!r}") from exc
        if argv and argv[0] == "airflow":  # tolerate copy-pasted `airflow ...` lines
            argv = argv[1:]
        commands.append(argv)
    return commands


@click.command()
@connection_options
@run_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--keep-going", "-k", is_flag=True, help="run every command even after a failure")
@click.option("--quiet", "-q", is_flag=True, help="no per-command headers on stderr")
def batch(file, keep_going: bool, quiet: bool, **opts) -> None:
    """Run many commands (FILE, or - for stdin) over one token and one connection.

    One Airflow command a line, `#` comment lines allowed. Every command is translated and
    checked before the first one is sent. Commands run in order and stop at the first failure
    unless --keep-going. Each command's stdout/stderr is written as it finishes, after a
    `==> [i/n] command` header on stderr (--json: one envelope per line instead). Exit code:
    the first failed command's code, else 0.
    """
    ro = run_opts(opts)
    if opts.get("env") and "," in opts["env"]:
        raise click.UsageError("batch runs on one environment: give one --env")
    commands = parse_batch(file.read())
    first_failure, failed, done = 0, 0, 0
    with client_for(resolve(opts), opts) as client:
        prepared = []
        for number, argv in enumerate(commands, 1):
            try:
                item = client.prepare(argv, translate=ro.translate, force=ro.force)
            except MwaaError as exc:
                raise type(exc)(f"batch command {number} ({shlex.join(argv)}): {exc}") from exc
            for message in item.notes:
                note(f"[{number}] {message}")
            prepared.append(list(item.argv))
        if ro.dry_run:
            for argv in prepared:
                show_preview(client.request_preview(argv), ro)
            return
        try:
            for index, result in enumerate(client.run_many(prepared, keep_going=keep_going), 1):
                done = index
                if ro.as_json:
                    click.echo(json.dumps(json_record(result, ro)))
                else:
                    if not quiet:
                        click.echo(
                            f"==> [{index}/{len(prepared)}] {shlex.join(result.command)} "
                            f"(exit {result.exit_code}, {result.duration * 1000:.0f} ms)",
                            err=True,
                        )
                    show(result, ro)
                if not result.ok:
                    failed += 1
                    first_failure = first_failure or shell_status(result.exit_code)
        except MwaaError as exc:  # say exactly how far the batch got
            completed = f"commands 1-{done} completed" if done else "none completed"
            raise type(exc)(
                f"batch stopped at command {done + 1} of {len(prepared)} "
                f"({shlex.join(prepared[done])}): {exc}; {completed}, "
                f"{len(prepared) - done - 1} not run"
            ) from exc
    if not quiet and failed and not ro.as_json:
        click.echo(f"mwaa: batch: {failed} of {len(prepared)} commands failed", err=True)
    raise SystemExit(first_failure if first_failure else 0)
