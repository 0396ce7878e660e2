"""``mwaa envs`` and ``mwaa env show``."""

from __future__ import annotations

import dataclasses
import json

import click

from .options import client_for, connection_options, one_env, resolve
from .present import Spinner


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
    with (
        client_for(dataclasses.replace(base, name=None), conn) as client,
        Spinner("asking MWAA", stream=None),
    ):
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
    the resolved settings, where each came from, and GetEnvironment's details. The
    settings are shown even when the environment cannot be reached."""
    from ..errors import MwaaError

    settings = one_env(conn, name)
    resolved = {
        "alias": settings.alias,
        "name": settings.name,
        "region": settings.region,
        "profile": settings.profile,
        "endpoint_url": settings.endpoint_url,
        "airflow_version": settings.airflow_version,
        "allow": list(settings.allow),
        "deny": list(settings.deny),
        "proxy": settings.proxy,
    }
    info: dict | None = None
    error: MwaaError | None = None
    try:
        with client_for(settings, conn) as client, Spinner("asking MWAA", stream=None):
            info = client.get_environment()
            resolved["name"] = client.env
            resolved["region"] = client.control_plane.region_name
            resolved["endpoint_url"] = client.control_plane.endpoint
            for key in ("region", "endpoint_url"):
                settings.sources.setdefault(key, "boto3")
    except MwaaError as exc:
        error = exc
    if as_json:
        doc = {"settings": resolved, "sources": settings.sources, "environment": info}
        doc["error"] = f"{type(error).__name__}: {error}" if error else None
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        _show_settings(resolved, settings)
        if info is not None:
            _show_environment(info)
    if error is not None:
        raise error


def _show_settings(resolved: dict, settings) -> None:
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


def _show_environment(info: dict) -> None:
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
