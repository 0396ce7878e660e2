"""``mwaa local serve``: the local MWAA-compatible environment."""

from __future__ import annotations

from pathlib import Path

import click

from .. import paths


@click.group()
def local() -> None:
    """The local MWAA-compatible environment (needs the 'local' extra)."""


@local.command()
@click.option("--name", default="local", show_default=True, help="environment name")
@click.option(
    "--dags",
    type=click.Path(file_okay=False, path_type=Path),
    help="DAGs folder [default: the bundled sample DAGs]",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"state folder [default: ${paths.HOME_VAR}/local/NAME]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8780, show_default=True, help="endpoint port (0: any free)")
@click.option("--api-port", default=0, help="Airflow API server/UI port [default: a free one]")
@click.option("--region", default="us-east-1", show_default=True, help="region it reports")
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="CLI only: no scheduler, DAG processor, triggerer or API server",
)
@click.option(
    "--command-timeout",
    default=300.0,
    show_default=True,
    help="seconds a CLI command may run before it is killed",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    help="CLI commands run at once (MWAA: about 4); more wait in a queue",
)
@click.option(
    "--queue-size",
    default=64,
    show_default=True,
    help="CLI commands that may wait for a slot; more get 503 + Retry-After",
)
@click.option(
    "--queue-wait",
    default=60.0,
    show_default=True,
    help="seconds a CLI command may wait for a slot before it gets 503 + Retry-After",
)
@click.option(
    "--executor",
    type=click.Choice(["warm", "subprocess"]),
    default="warm",
    show_default=True,
    help="warm: fork each command from a pre-imported Airflow (fast); "
    "subprocess: a cold `airflow` process per command",
)
@click.option(
    "--output-limit",
    default=64,
    show_default=True,
    help="MiB a command may write to stdout or stderr; past it, it is stopped and its output "
    "cut with a marker",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    help="seconds a connection may take to send a request's headers",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    help="seconds a request's body may take to arrive",
)
@click.option("--token-ttl", default=60.0, show_default=True, help="CLI token lifetime, seconds")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="serve plain HTTP instead of HTTPS with the environment's local CA",
)
@click.option(
    "--write-profile",
    metavar="PROFILE",
    help="the AWS profile that holds the endpoint, key pair and CA (in the AWS config and "
    "credentials files) [default: mwaa-local, or mwaa-local-NAME]",
)
@click.option(
    "--no-profile",
    is_flag=True,
    help="write no AWS profile: env.sh then exports the endpoint and key pair, which apply "
    "to every profile in a shell that sources it",
)
@click.option(
    "--webserver-access-mode",
    type=click.Choice(["PUBLIC_ONLY", "PRIVATE_ONLY"]),
    default="PUBLIC_ONLY",
    show_default=True,
    help="the access mode GetEnvironment reports (rehearse a private environment)",
)
def serve(**opts) -> None:
    """Start a local environment in the foreground; Ctrl-C stops it."""
    try:
        from ..local.serve import ServeOptions
        from ..local.serve import serve as run_server
    except ImportError as exc:
        raise click.ClickException(
            f"the local environment needs the 'local' extra ({exc.name} is missing): "
            "pip install 'mwaa-cli[local]'"
        ) from exc
    options = ServeOptions(
        name=opts["name"],
        home=opts["home"],
        dags=opts["dags"],
        host=opts["host"],
        port=opts["port"],
        api_port=opts["api_port"],
        region=opts["region"],
        scheduler=not opts["no_scheduler"],
        command_timeout=opts["command_timeout"],
        concurrency=opts["concurrency"],
        queue_size=opts["queue_size"],
        queue_wait=opts["queue_wait"],
        output_limit=opts["output_limit"] * 1024 * 1024,
        header_timeout=opts["header_timeout"],
        body_timeout=opts["body_timeout"],
        token_ttl=opts["token_ttl"],
        executor=opts["executor"],
        tls=not opts["insecure_http"],
        write_profile=opts["write_profile"],
        profile=not opts["no_profile"],
        access_mode=opts["webserver_access_mode"],
    )
    raise SystemExit(run_server(options, paths.state_dir()))
