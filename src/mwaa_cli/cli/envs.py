"""``mwaa envs``, ``mwaa env show`` and ``mwaa completion``."""

from __future__ import annotations

import dataclasses
import json

import click

from .. import settings as settings_module
from .options import client_for, connection_options, resolve


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@click.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def envs(as_json: bool, **conn) -> None:
    """List the environments in the region: name, status, Airflow version, access mode."""
    conn["env"] = None
    base = resolve(conn)
    with client_for(dataclasses.replace(base, name=None), conn) as client:
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
    _table(table)


@click.group()
def env() -> None:
    """One environment: its settings and what MWAA says about it."""


@env.command()
@click.argument("name", required=False)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show(name: str | None, as_json: bool, **conn) -> None:
    """Show NAME (a config-file name or an MWAA name; default: the default environment):
    the resolved settings, where each came from, and GetEnvironment's details."""
    settings = resolve(conn, env=name) if name else resolve(conn)
    with client_for(settings, conn) as client:
        info = client.get_environment()
    resolved = {
        "alias": settings.alias,
        "name": client.env,
        "region": client.mwaa.meta.region_name,
        "profile": settings.profile,
        "endpoint_url": client.mwaa.meta.endpoint_url,
        "airflow_version": settings.airflow_version,
        "allow": list(settings.allow),
        "deny": list(settings.deny),
        "proxy": settings.proxy,
    }
    if as_json:
        doc = {"settings": resolved, "sources": settings.sources, "environment": info}
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    rows: list[tuple] = [("SETTING", "VALUE", "FROM")]
    for key, value in resolved.items():
        if value in (None, [], ""):
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        source = settings.sources.get(key) or (
            settings.sources.get("env") if key in ("name", "alias") else None
        )
        rows.append((key, shown, source or "default"))
    _table(rows)
    click.echo("")
    fields = [
        "Name",
        "Status",
        "AirflowVersion",
        "WebserverAccessMode",
        "WebserverUrl",
        "EnvironmentClass",
        "Schedulers",
        "MinWorkers",
        "MaxWorkers",
        "ExecutionRoleArn",
        "Arn",
        "CreatedAt",
    ]
    detail = [("ENVIRONMENT", "")] + [(f, info[f]) for f in fields if info.get(f) is not None]
    last = (info.get("LastUpdate") or {}).get("Status")
    if last:
        detail.append(("LastUpdate", last))
    _table(detail)


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for mwaa.

    \b
    bash:  eval "$(mwaa completion bash)"            (in ~/.bashrc)
    zsh:   eval "$(mwaa completion zsh)"             (in ~/.zshrc)
    fish:  mwaa completion fish > ~/.config/fish/completions/mwaa.fish
    """
    from click.shell_completion import get_completion_class

    from . import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "mwaa", "_MWAA_COMPLETE").source())


@click.group()
def config() -> None:
    """The config file of named environments."""


@config.command("path")
def config_path() -> None:
    """Print where the config file is read from ($MWAA_CLI_CONFIG overrides it)."""
    path = settings_module.config_path()
    click.echo(f"{path}{'' if path.exists() else '  (does not exist yet)'}")
