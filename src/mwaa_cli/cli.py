"""The ``mwaa`` command: argv -> settings -> library call -> streams -> exit code."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from . import config
from .client import DEFAULT_TIMEOUT, Client
from .errors import ExitStatus, MwaaError


def connection_options(func):
    """--env/--region/--profile/--endpoint-url/--timeout, shared by remote commands."""
    options = [
        click.option(
            "--env",
            "-e",
            "env",
            metavar="NAME",
            help=f"MWAA environment name [default: ${config.ENV_VAR}, or the only one]",
        ),
        click.option("--region", metavar="REGION", help="AWS region [default: boto3's chain]"),
        click.option("--profile", metavar="PROFILE", help="AWS named profile"),
        click.option(
            "--endpoint-url",
            metavar="URL",
            help="MWAA API endpoint (e.g. a local environment) [default: $AWS_ENDPOINT_URL_MWAA]",
        ),
        click.option(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="seconds to wait for a command's reply",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _client(env, region, profile, endpoint_url, timeout) -> Client:
    return Client(env, region=region, profile=profile, endpoint_url=endpoint_url, timeout=timeout)


def shell_status(code: int) -> int:
    """A remote exit code as a shell exit status: killed by signal N -> 128 + N."""
    return 128 - code if code < 0 else min(code, 255)


def _write(stream, data: bytes) -> None:
    stream.buffer.write(data)
    stream.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mwaa-cli", prog_name="mwaa")
def cli() -> None:
    """Drive Apache Airflow on Amazon MWAA (or a local MWAA-compatible environment)."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@connection_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def run(args: tuple[str, ...], **conn) -> None:
    """Run one Airflow CLI command remotely: mwaa run -- dags list -o json

    Remote stdout goes to stdout byte for byte, remote stderr to stderr; the exit code is
    the remote command's.
    """
    with _client(**conn) as client:
        result = client.run(args)
    _write(sys.stdout, result.stdout)
    _write(sys.stderr, result.stderr)
    raise SystemExit(shell_status(result.exit_code))


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


@cli.command()
@connection_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--keep-going", "-k", is_flag=True, help="run every command even after a failure")
@click.option("--quiet", "-q", is_flag=True, help="no per-command headers on stderr")
def batch(file, keep_going: bool, quiet: bool, **conn) -> None:
    """Run many commands (FILE, or - for stdin) over one token and one connection.

    One Airflow command a line, `#` comment lines allowed. Commands run in order and stop at
    the first failure unless --keep-going. Each command's stdout/stderr is written as it
    finishes, after a `==> [i/n] command` header on stderr. Exit code: the first failed
    command's code, else 0.
    """
    commands = parse_batch(file.read())
    first_failure, failed, done = 0, 0, 0
    with _client(**conn) as client:
        try:
            for index, result in enumerate(client.run_many(commands, keep_going=keep_going), 1):
                done = index
                if not quiet:
                    click.echo(
                        f"==> [{index}/{len(commands)}] {shlex.join(result.command)} "
                        f"(exit {result.exit_code}, {result.duration * 1000:.0f} ms)",
                        err=True,
                    )
                _write(sys.stdout, result.stdout)
                _write(sys.stderr, result.stderr)
                if not result.ok:
                    failed += 1
                    first_failure = first_failure or shell_status(result.exit_code)
        except MwaaError as exc:  # say exactly how far the batch got
            completed = f"commands 1-{done} completed" if done else "none completed"
            raise type(exc)(
                f"batch stopped at command {done + 1} of {len(commands)} "
                f"({shlex.join(commands[done])}): {exc}; {completed}, "
                f"{len(commands) - done - 1} not run"
            ) from exc
    if not quiet and failed:
        click.echo(f"mwaa: batch: {failed} of {len(commands)} commands failed", err=True)
    raise SystemExit(first_failure)


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def envs(as_json: bool, **conn) -> None:
    """List the environments in the region: name, status, Airflow version."""
    conn.pop("env")
    with _client(None, **conn) as client:
        rows = client.environments()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = [("NAME", "STATUS", "AIRFLOW", "ACCESS", "WEB SERVER")]
    table += [
        (
            e.get("Name", ""),
            e.get("Status", ""),
            e.get("AirflowVersion", ""),
            e.get("WebserverAccessMode", ""),
            e.get("WebserverUrl", ""),
        )
        for e in rows
    ]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


@cli.group()
def local() -> None:
    """The local MWAA-compatible environment (needs the 'local' extra)."""


@local.command()
@click.option("--name", default="local", show_default=True, help="environment name")
@click.option(
    "--dags",
    type=click.Path(file_okay=False, path_type=Path),
    help="DAGs folder [default: the bundled sample DAGs]",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"state folder [default: ${config.HOME_VAR}/local/NAME]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8780, show_default=True, help="endpoint port (0: any free)")
@click.option("--api-port", default=0, help="Airflow API server/UI port [default: a free one]")
@click.option("--region", default="us-east-1", show_default=True, help="region it reports")
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="CLI only: no scheduler, DAG processor, triggerer or API server",
)
@click.option(
    "--command-timeout",
    default=300.0,
    show_default=True,
    help="seconds a CLI command may run before it is killed",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    help="CLI commands run at once; more get 503, like MWAA",
)
@click.option(
    "--executor",
    type=click.Choice(["warm", "subprocess"]),
    default="warm",
    show_default=True,
    help="warm: fork each command from a pre-imported Airflow (fast); "
    "subprocess: a cold `airflow` process per command",
)
@click.option("--token-ttl", default=60.0, show_default=True, help="CLI token lifetime, seconds")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="serve plain HTTP instead of HTTPS with the environment's local CA",
)
@click.option(
    "--write-profile",
    metavar="PROFILE",
    help="also write the endpoint, key pair and CA as this AWS profile (~/.aws/config)",
)
def serve(**opts) -> None:
    """Start a local environment in the foreground; Ctrl-C stops it."""
    try:
        from .local.serve import ServeOptions
        from .local.serve import serve as run_server
    except ImportError as exc:
        raise click.ClickException(
            f"the local environment needs the 'local' extra ({exc.name} is missing): "
            "pip install 'mwaa-cli[local]'"
        ) from exc
    options = ServeOptions(
        name=opts["name"],
        home=opts["home"],
        dags=opts["dags"],
        host=opts["host"],
        port=opts["port"],
        api_port=opts["api_port"],
        region=opts["region"],
        scheduler=not opts["no_scheduler"],
        command_timeout=opts["command_timeout"],
        concurrency=opts["concurrency"],
        token_ttl=opts["token_ttl"],
        executor=opts["executor"],
        tls=not opts["insecure_http"],
        write_profile=opts["write_profile"],
    )
    raise SystemExit(run_server(options, config.state_dir()))


def main(argv: Sequence[str] | None = None, prog_name: str = "mwaa") -> int:
    """Entry point of ``mwaa``: returns the exit code, never raises."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MwaaError as exc:
        click.echo(f"mwaa: error: {exc}", err=True)
        return int(exc.exit_status)
    except click.exceptions.Abort:
        click.echo("mwaa: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return ExitStatus.USAGE if isinstance(exc, click.UsageError) else 1
    except KeyboardInterrupt:
        click.echo("mwaa: interrupted", err=True)
        return 130
    return 0


def airflow_main(argv: Sequence[str] | None = None) -> int:
    """``mwaa-airflow ARGS``: behaves like ``airflow ARGS`` on the default environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    return main(["run", "--", *args], prog_name="mwaa-airflow")
