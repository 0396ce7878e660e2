"""``mwaa doctor``: the checks of :mod:`mwaa_cli.doctor`, one line each, with fixes."""

from __future__ import annotations

import json

import click

from .options import client_for, connection_options, one_env

_MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red"), "skip": ("-", None)}


@click.command()
@click.argument("name", required=False)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="print the checks as JSON")
def doctor(name: str | None, as_json: bool, **conn) -> None:
    """Check everything between here and NAME's Airflow, in order, with a fix for each
    problem: credentials and identity, region, the environment and its status, web server
    access mode, CLI token, network reach, and a round trip of 'airflow version'.

    Exit code 0 when nothing failed, 1 otherwise.
    """
    from ..doctor import FAIL, WARN, run_checks  # socket/ssl: only when doctoring
    from .present import Spinner

    settings = one_env(conn, name)
    checks = []
    with client_for(settings, conn) as client:
        steps = run_checks(client)
        while True:
            with Spinner("checking…", delay=0.5):
                check = next(steps, None)
            if check is None:
                break
            checks.append(check)
            if as_json:
                continue
            mark, color = _MARKS[check.status]
            click.echo(f"{click.style(mark, fg=color)} {check.name:<12} {check.detail}")
            if check.fix:
                click.echo(f"  {'':<12} fix: {check.fix}")
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        click.echo(json.dumps([c.__dict__ for c in checks], indent=2))
    elif not failed:
        click.echo(
            "all checks passed"
            + (" (with warnings)" if any(c.status == WARN for c in checks) else "")
        )
    raise SystemExit(1 if failed else 0)
