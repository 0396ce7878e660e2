"""The ``mwaa`` command: argv -> settings -> library call -> streams -> exit code.

Subcommands are imported when they run (``mwaa run`` never imports the shell, the doctor
or the local environment), which keeps a short command short.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from ..errors import ExitStatus, MwaaError

# name -> "module:attribute" under mwaa_cli.cli
COMMANDS = {
    "run": "run:run",
    "batch": "batch:batch",
    "api": "api:api",
    "ui": "ui:ui",
    "trigger": "runs:trigger",
    "logs": "runs:logs",
    "wait": "runs:wait",
    "shell": "shell:shell",
    "envs": "envs:envs",
    "env": "envs:env",
    "doctor": "doctor:doctor",
    "local": "local:local",
    "completion": "completion:completion",
    "config": "config:config",
    "airflow-help": "shell:airflow_help",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if name != "airflow-help"]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mwaa-cli", prog_name="mwaa")
def cli() -> None:
    """Drive Apache Airflow on Amazon MWAA (or a local MWAA-compatible environment)."""


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
        from ..in_flight import interrupted_message

        click.echo(interrupted_message(), err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return ExitStatus.USAGE if isinstance(exc, click.UsageError) else 1
    except KeyboardInterrupt:
        from ..in_flight import interrupted_message

        click.echo(interrupted_message(), err=True)
        return 130
    return 0


def airflow_main(argv: Sequence[str] | None = None) -> int:
    """``mwaa-airflow ARGS``: behaves like ``airflow ARGS`` on the default environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        return main(["airflow-help"], prog_name="mwaa-airflow")
    return main(["run", "--", *args], prog_name="mwaa-airflow")


def parse_batch(text: str) -> list[list[str]]:
    """The argv of each command of a batch file (see :func:`mwaa_cli.client.batch.parse_batch`)."""
    from ..client.batch import parse_batch as parse

    return [list(line.argv) for line in parse(text)]


__all__ = ["airflow_main", "cli", "main", "parse_batch"]
