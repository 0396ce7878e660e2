"""Options shared by the commands, and turning them into settings and clients."""

from __future__ import annotations

from collections.abc import Callable

import click

from .. import settings as settings_module
from ..client import DEFAULT_TIMEOUT, Client
from ..settings import EnvSettings


def _complete_env(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Environment names from the config file, for shell completion of --env."""
    try:
        file = settings_module.load_file(settings_module.config_path())
    except Exception:  # completion must never fail loudly
        return []
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return [
        click.shell_completion.CompletionItem(prefix + name)
        for name in settings_module.configured_aliases(file)
        if name.startswith(last)
    ]


def connection_options(func: Callable) -> Callable:
    """--env/--region/--profile/--endpoint-url/--airflow-version/--proxy/--timeout."""
    options = [
        click.option(
            "--env",
            "-e",
            "env",
            metavar="NAME[,NAME…]",
            shell_complete=_complete_env,
            help="environment (a config-file name or an MWAA name); several: a,b,c "
            "[default: $MWAA_ENV, the config file's default_env, or the only one]",
        ),
        click.option("--region", metavar="REGION", help="AWS region [default: boto3's chain]"),
        click.option("--profile", metavar="PROFILE", help="AWS named profile"),
        click.option(
            "--endpoint-url",
            metavar="URL",
            help="MWAA API endpoint (e.g. a local environment) [default: $AWS_ENDPOINT_URL_MWAA]",
        ),
        click.option(
            "--airflow-version",
            metavar="X.Y.Z",
            help="the environment's Airflow version [default: from GetEnvironment, cached 5 min]",
        ),
        click.option(
            "--proxy",
            metavar="URL",
            help="proxy for the web server: http://…, socks5h://host:port "
            "[default: $HTTPS_PROXY/$ALL_PROXY]",
        ),
        click.option(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="seconds to wait for a command's reply",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def resolve(conn: dict, env: str | None = None) -> EnvSettings:
    """Settings for one environment from the connection options (``env`` overrides --env)."""
    flags = {k: conn.get(k) for k in settings_module.ENV_VARS}
    if env is not None:
        flags["env"] = env
    return settings_module.resolve(flags)


def client_for(settings: EnvSettings, conn: dict) -> Client:
    return Client.from_settings(settings, timeout=conn.get("timeout") or DEFAULT_TIMEOUT)


def shell_status(code: int) -> int:
    """A remote exit code as a shell exit status: killed by signal N -> 128 + N."""
    return 128 - code if code < 0 else min(code, 255)


def write_bytes(stream, data: bytes) -> None:
    stream.buffer.write(data)
    stream.flush()


def note(message: str) -> None:
    click.echo(f"mwaa: {message}", err=True)
