"""``mwaa api METHOD PATH``: Airflow's REST API through MWAA's InvokeRestApi (like ``gh api``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .options import client_for, connection_options, one_env
from .present import Spinner


def _query(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``-q key=value`` pairs; a key given twice becomes a list (``-q state=a -q state=b``)."""
    query: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"-q {pair!r}: give KEY=VALUE")
        if key in query:
            old = query[key]
            query[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            query[key] = value
    return query


def _body(spec: str | None) -> Any:
    """``--body JSON``, ``--body @FILE`` or ``--body -`` (stdin) -> a JSON object."""
    if spec is None:
        return None
    where = "--body"
    if spec == "-":
        text, where = sys.stdin.read(), "--body - (stdin)"
    elif spec.startswith("@"):
        try:
            with open(spec[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise click.UsageError(f"--body {spec}: {exc.strerror}") from None
        where = f"--body {spec}"
    else:
        text = spec
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise click.UsageError(f"{where}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise click.UsageError(f"{where}: must be a JSON object (InvokeRestApi takes no other)")
    return body


def _print(doc: Any) -> None:
    if sys.stdout.isatty():
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


@click.command()
@click.argument("method", type=click.Choice(["GET", "PUT", "POST", "PATCH", "DELETE"], False))
@click.argument("path")
@click.option(
    "-q",
    "--query",
    "query",
    multiple=True,
    metavar="KEY=VALUE",
    help="a query parameter (repeatable; a key given twice is sent as a list)",
)
@click.option(
    "--body",
    metavar="JSON|@FILE|-",
    help="the JSON object sent as the request body (PUT, POST, PATCH)",
)
@click.option(
    "--paginate",
    is_flag=True,
    help="GET every offset/limit page of a list endpoint and print one merged reply",
)
@click.option("--status", is_flag=True, help="print Airflow's HTTP status on stderr")
@connection_options
def api(
    method: str,
    path: str,
    query: tuple[str, ...],
    body: str | None,
    paginate: bool,
    status: bool,
    **conn,
) -> None:
    """Call Airflow's REST API on the environment: METHOD PATH (below /api/v2 on Airflow 3,
    /api/v1 on Airflow 2), through MWAA's InvokeRestApi with your AWS credentials.

    \b
      mwaa api GET /dags -q limit=5
      mwaa api POST /dags/hello_mwaa/dagRuns --body '{"logical_date": null}'
      mwaa api GET /dags/hello_mwaa/dagRuns --paginate -q state=success

    Prints Airflow's JSON reply (indented on a terminal). Exit status: 0 for 2xx; 1 when
    Airflow refuses the call (4xx: not found, forbidden to the role, invalid), 70 when it
    fails (5xx, or no answer within MWAA's 10 s); Airflow's error body is printed too and
    its detail goes to stderr.
    """
    from ..client.rest import RestApiError

    payload = _body(body)
    if payload is not None and method in ("GET", "DELETE"):
        raise click.UsageError(f"--body: a {method} request carries no body")
    if paginate and method != "GET":
        raise click.UsageError("--paginate: only a GET of a list endpoint has pages")
    settings = one_env(conn)
    try:
        with client_for(settings, conn) as client, Spinner("calling Airflow", stream=None):
            reply = client.api(method, path, _query(query), payload, paginate=paginate)
    except RestApiError as exc:
        if exc.body is not None:
            _print(exc.body)
        raise
    if status:
        click.echo(f"HTTP {reply.status}", err=True)
    _print(reply.body)
