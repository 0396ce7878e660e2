"""``mwaa ui``: open the environment's Airflow UI, logged in with a web login token."""

from __future__ import annotations

import click

from .options import client_for, connection_options, one_env
from .present import Spinner


@click.command()
@click.option("--print", "print_only", is_flag=True, help="print the URL instead of opening it")
@connection_options
def ui(print_only: bool, **conn) -> None:
    """Open the Airflow UI, logged in (CreateWebLoginToken, then MWAA's console sign-in URL).

    The URL holds a token that works once, within 60 seconds: open it at once, and do not
    share it."""
    settings = one_env(conn)
    with client_for(settings, conn) as client, Spinner("asking MWAA", stream=None):
        url = client.web_login_url()
    if print_only:
        click.echo(url)
        return
    import webbrowser

    if not webbrowser.open(url):
        click.echo(url)
        click.echo("mwaa: no browser to open here: open the URL above within 60 s", err=True)
