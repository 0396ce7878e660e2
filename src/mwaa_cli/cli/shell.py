"""``mwaa shell``: an interactive Airflow CLI on one environment."""

from __future__ import annotations

import click

from .. import config
from ..errors import MwaaError
from ..repl import loop
from .options import client_for, connection_options, resolve, shell_status
from .run import execute, run_options, run_opts, show


@click.command()
@click.argument("name", required=False)
@connection_options
@run_options
def shell(name: str | None, **opts) -> None:
    """An interactive Airflow CLI on NAME (default: the default environment).

    History is kept across sessions; Tab completes the commands the environment's Airflow
    version accepts, DAG ids and variable keys (fetched once). Old syntax is translated as in
    `mwaa run`. With stdin not a terminal, reads one command a line (a script).
    """
    ro = run_opts(opts)
    settings = resolve(opts, env=name) if name else resolve(opts)
    with client_for(settings, opts) as client:

        def one(argv: list[str]) -> int:
            try:
                outcome = execute(client, argv, ro)
            except MwaaError as exc:
                click.echo(f"mwaa: error: {exc}", err=True)
                return int(exc.exit_status)
            if isinstance(outcome, dict):
                from .run import show_preview

                show_preview(outcome, ro)
                return 0
            show(outcome, ro)
            return shell_status(outcome.exit_code)

        history = config.state_dir() / "shell_history"
        raise SystemExit(loop(client, one, history))
