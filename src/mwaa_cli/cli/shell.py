"""``mwaa shell``: an interactive Airflow CLI on one environment."""

from __future__ import annotations

import click

from .. import paths
from ..errors import MwaaError
from .options import client_for, connection_options, one_env, shell_status
from .repl import loop
from .run import execute, run_options, run_opts, show, show_preview


@click.command()
@click.argument("name", required=False)
@connection_options
@run_options
def shell(name: str | None, **opts) -> None:
    """An interactive Airflow CLI on NAME (default: the default environment).

    History is kept across sessions (0600, secret values masked); Tab completes the commands
    the environment's Airflow version accepts, DAG ids and variable keys. Old syntax is
    translated as in `mwaa run`; commands Airflow confirms are confirmed here. Ctrl-C stops
    waiting for a command (it may still run remotely) and returns to the prompt; Ctrl-D
    leaves; `clear` clears the screen. With stdin not a terminal, reads one command a line
    (a script).
    """
    ro = run_opts(opts)
    settings = one_env(opts, name)
    with client_for(settings, opts) as client:

        def one(argv: list[str]) -> int:
            try:
                outcome = execute(client, argv, ro)
            except MwaaError as exc:
                click.echo(f"mwaa: error: {exc}", err=True)
                return int(exc.exit_status)
            except click.Abort:
                click.echo("mwaa: not confirmed: nothing was sent", err=True)
                return 1
            except KeyboardInterrupt:
                client.close()  # drop the connection: the reply will never be read
                click.echo(
                    "\nmwaa: interrupted: stopped waiting for the reply; the command may still "
                    "be running on the environment",
                    err=True,
                )
                return 130
            if not hasattr(outcome, "stdout"):
                show_preview(outcome, ro)  # type: ignore[arg-type]
                return 0
            show(outcome, ro)  # type: ignore[arg-type]
            return shell_status(outcome.exit_code)  # type: ignore[union-attr]

        history = paths.state_dir() / "shell_history"
        raise SystemExit(loop(client, one, history))


@click.command("airflow-help", hidden=True)
def airflow_help() -> None:
    """What `mwaa-airflow` (or `airflow` aliased to it) accepts on the default environment."""
    from .options import resolve
    from .repl import help_text

    click.echo("usage: mwaa-airflow GROUP_OR_COMMAND [ARGS…]   (Airflow's CLI, run remotely)")
    settings = resolve({})
    with client_for(settings, {}) as client:
        click.echo(help_text(client.allowlist(), client.env, client.airflow_version()))
