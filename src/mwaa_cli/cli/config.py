"""``mwaa config``: the config file of named environments."""

from __future__ import annotations

import click

from .. import settings as settings_module


@click.group()
def config() -> None:
    """The config file of named environments."""


@config.command("path")
def config_path() -> None:
    """Print where the config file is read from ($MWAA_CLI_CONFIG overrides it)."""
    path = settings_module.config_path()
    click.echo(str(path))  # stdout: the path alone, for $(mwaa config path)
    if not path.exists():
        click.echo("mwaa: (the file does not exist yet)", err=True)
