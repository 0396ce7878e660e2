"""Options shared by the commands, and turning them into settings and clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from .. import settings as settings_module
from ..settings import DEFAULT_BUSY_TIMEOUT, DEFAULT_TIMEOUT, EnvSettings

if TYPE_CHECKING:
    from ..client import Client


def _complete_env(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Environment names from the config file (and running local environments), for shell
    completion of --env; a comma starts the next name."""
    try:
        file = settings_module.load_file(settings_module.config_path())
        names = settings_module.configured_aliases(file)
    except Exception:  # completion must never fail loudly
        names = []
    try:
        from ..paths import local_homes

        names += [p.name for p in local_homes().iterdir() if (p / "env.sh").exists()]
    except OSError:
        pass
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return [
        click.shell_completion.CompletionItem(prefix + name)
        for name in sorted(set(names))
        if name.startswith(last)
    ]


def env_option(many: bool) -> Callable:
    return click.option(
        "--env",
        "-e",
        "env",
        metavar="NAME[,NAME…]" if many else "NAME",
        shell_complete=_complete_env,
        help="environment (a config-file name or an MWAA name)"
        + ("; several: a,b,c" if many else "")
        + " [default: $MWAA_ENV, the config file's default_env, or the only one]",
    )


def connection_options(func: Callable | None = None, *, many: bool = False) -> Callable:
    """--env/--region/--profile/--endpoint-url/--airflow-version/--proxy/--timeout/
    --busy-timeout. ``many``: --env takes a comma-separated list."""

    def decorate(func: Callable) -> Callable:
        options = [
            env_option(many),
            click.option("--region", metavar="REGION", help="AWS region [default: boto3's chain]"),
            click.option("--profile", metavar="PROFILE", help="AWS named profile"),
            click.option(
                "--endpoint-url",
                metavar="URL",
                help="MWAA API endpoint (e.g. a local environment) "
                "[default: $AWS_ENDPOINT_URL_MWAA]",
            ),
            click.option(
                "--airflow-version",
                metavar="X.Y.Z",
                help="the environment's Airflow version [default: from GetEnvironment, cached "
                "5 min]",
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
            click.option(
                "--busy-timeout",
                type=float,
                default=DEFAULT_BUSY_TIMEOUT,
                show_default=True,
                help="seconds to keep re-sending a command the server was too busy to start "
                "(503); 0: never",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate(func) if func is not None else decorate


def resolve(conn: dict, env: str | None = None) -> EnvSettings:
    """Settings for one environment from the connection options (``env`` overrides --env)."""
    flags = {k: conn.get(k) for k in settings_module.ENV_VARS}
    if env is not None:
        flags["env"] = env
    settings = settings_module.resolve(flags)
    if settings.sources.get("profile", "").startswith("the local environment"):
        click.echo(
            f"mwaa: {settings.name!r} is the local environment running on this machine: using "
            f"its AWS profile {settings.profile} (pass --profile or --region for AWS)",
            err=True,
        )
    return settings


def one_env(conn: dict, name: str | None = None) -> EnvSettings:
    """The settings of the one environment a single-environment command works on."""
    selector = name or conn.get("env")
    if selector and "," in selector:
        raise click.UsageError(
            f"this command works on one environment; got {selector!r} (mwaa run takes several)"
        )
    return resolve(conn, env=name) if name else resolve(conn)


def client_for(settings: EnvSettings, conn: dict) -> Client:
    from ..client import Client

    return Client.from_settings(
        settings,
        timeout=conn.get("timeout") or DEFAULT_TIMEOUT,
        busy_timeout=conn.get("busy_timeout", DEFAULT_BUSY_TIMEOUT),
    )


def shown_name(settings: EnvSettings, client: Client | None = None) -> str:
    """How to name an environment to the user: its config-file alias, with the MWAA name."""
    name = settings.name or (client.env if client is not None else "?")
    if settings.alias and settings.alias != name:
        return f"{settings.alias} ({name})"
    return name


def without_name(settings: EnvSettings) -> EnvSettings:
    return dataclasses.replace(settings, name=None)


def shell_status(code: int) -> int:
    """A remote exit code as a shell exit status: killed by signal N -> 128 + N."""
    return 128 - code if code < 0 else min(code, 255)


def write_bytes(stream, data: bytes) -> None:
    stream.buffer.write(data)
    stream.flush()


def note(message: str) -> None:
    click.echo(f"mwaa: {message}", err=True)
