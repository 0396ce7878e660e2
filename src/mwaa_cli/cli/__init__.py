"""The ``mwaa`` command: argv -> settings -> library call -> streams -> exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import ExitStatus, MwaaError
from .doctor import doctor
from .envs import completion, config, env, envs
from .local import local
from .run import batch, parse_batch, run
from .shell import shell


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mwaa-cli", prog_name="mwaa")
def cli() -> None:
    """Drive Apache Airflow on Amazon MWAA (or a local MWAA-compatible environment)."""


for command in (run, batch, shell, envs, env, doctor, local, completion, config):
    cli.add_command(command)


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
    if not args or args[0] in ("-h", "--help"):
        return main(["airflow-help"], prog_name="mwaa-airflow")
    return main(["run", "--", *args], prog_name="mwaa-airflow")


@click.command("airflow-help", hidden=True)
def airflow_help() -> None:
    """What `mwaa-airflow` (or `airflow` aliased to it) accepts on the default environment."""
    from ..repl import help_text
    from .options import client_for, resolve

    click.echo("usage: mwaa-airflow GROUP_OR_COMMAND [ARGS…]   (Airflow's CLI, run remotely)")
    settings = resolve({})
    with client_for(settings, {}) as client:
        click.echo(help_text(client.allowlist(), client.env, client.airflow_version()))


cli.add_command(airflow_help)


__all__ = ["airflow_main", "cli", "main", "parse_batch"]
