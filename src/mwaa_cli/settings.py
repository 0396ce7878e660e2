"""Named environments from a TOML config file, and how flags, env vars and the file combine.

``config.toml`` lives in the platform's config dir (``click.get_app_dir``: ``~/.config/mwaa-cli``
on Linux, ``~/Library/Application Support/mwaa-cli`` on macOS), or wherever ``MWAA_CLI_CONFIG``
points::

    default_env = "prod"

    [envs.prod]
    name = "analytics-prod"          # the MWAA environment name (default: the table's key)
    region = "eu-west-1"
    profile = "prod-sso"
    # endpoint_url = "https://127.0.0.1:8780"   # e.g. a local environment
    # airflow_version = "2.10.3"                 # skip asking GetEnvironment
    # allow = ["dags test"]                      # allowlist overrides
    # deny = ["db clean"]
    # proxy = "socks5h://127.0.0.1:8157"         # the bastion tunnel to a private web server

Every setting resolves flag > the chosen environment's table in the file > environment
variable > default: an environment chosen by name brings its own region, profile and
endpoint, which generic variables (``AWS_REGION``, ``AWS_PROFILE``, a local environment's
``env.sh``) do not override. The environment itself is chosen flag > ``MWAA_ENV`` > the
file's ``default_env``. ``AWS_PROFILE`` naming a *local* environment's profile (written by
``mwaa local serve``) is not applied to a table that names neither a profile nor an
endpoint: that table means real AWS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

CONFIG_VAR = "MWAA_CLI_CONFIG"
DEFAULT_TIMEOUT = 300.0  # seconds to wait for a command's reply
DEFAULT_BUSY_TIMEOUT = 60.0  # seconds to keep re-sending a command the server never started

# setting -> the environment variables that set it, in order
ENV_VARS: dict[str, tuple[str, ...]] = {
    "env": ("MWAA_ENV",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    "endpoint_url": ("AWS_ENDPOINT_URL_MWAA", "AWS_ENDPOINT_URL"),
    "airflow_version": ("MWAA_AIRFLOW_VERSION",),
    "proxy": ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"),
}
_ENV_KEYS = {
    "name",
    "region",
    "profile",
    "endpoint_url",
    "airflow_version",
    "allow",
    "deny",
    "proxy",
}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_VAR):
        return Path(environ[CONFIG_VAR]).expanduser()
    import click

    return Path(click.get_app_dir("mwaa-cli")) / "config.toml"


def load_file(path: Path) -> dict:
    """The parsed config file ({} when there is none); a clear error when it is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from exc
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    envs = doc.get("envs", {})
    if not isinstance(envs, dict) or not all(isinstance(v, dict) for v in envs.values()):
        raise ConfigError(f"{path}: [envs.NAME] tables expected")
    for alias, table in envs.items():
        unknown = set(table) - _ENV_KEYS
        if unknown:
            raise ConfigError(
                f"{path}: [envs.{alias}] has unknown keys {sorted(unknown)}; "
                f"known: {sorted(_ENV_KEYS)}"
            )
        for key in ("allow", "deny"):
            if not isinstance(table.get(key, []), list):
                raise ConfigError(f"{path}: [envs.{alias}] {key} must be a list of commands")
    return doc


@dataclass(frozen=True)
class EnvSettings:
    """Where and how to reach one environment, with where each value came from."""

    alias: str | None = None  # the [envs.ALIAS] table used, if any
    name: str | None = None  # the MWAA environment name (None: the only one in the region)
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    airflow_version: str | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    proxy: str | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    # AWS_PROFILE names a local environment's profile that must not apply here
    ignore_env_profile: bool = False


def resolve(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
    file: Mapping | None = None,
) -> EnvSettings:
    """Combine ``flags`` (``env``, ``region``, ``profile``, ``endpoint_url``,
    ``airflow_version``, ``proxy``), environment variables and the config ``file``."""
    environ = os.environ if environ is None else environ
    file = load_file(config_path(environ)) if file is None else file
    sources: dict[str, str] = {}

    def from_flag_or_env(key: str) -> str | None:
        if flags.get(key):
            sources[key] = "flag"
            return flags[key]
        for var in ENV_VARS[key]:
            if environ.get(var):
                sources[key] = f"env {var}"
                return environ[var]
        return None

    selector = from_flag_or_env("env")
    if selector is None and file.get("default_env"):
        selector, sources["env"] = str(file["default_env"]), "file default_env"
    envs = file.get("envs", {})
    table = envs.get(selector, {}) if selector else {}
    values: dict[str, object] = {}
    for key in ("region", "profile", "endpoint_url", "airflow_version", "proxy"):
        if flags.get(key):
            values[key], sources[key] = flags[key], "flag"
        elif table.get(key):
            values[key], sources[key] = str(table[key]), f"file [envs.{selector}]"
        else:
            values[key] = from_flag_or_env(key)
    ignore_env_profile = False
    from_env = sources.get("profile", "").startswith("env")
    if table and not values["endpoint_url"] and from_env:
        ignore_env_profile = is_local_profile(str(values["profile"]), environ)
    if ignore_env_profile:
        values["profile"] = None
        sources.pop("profile")
    if selector and not table and not any(values[k] for k in ("region", "profile", "endpoint_url")):
        # a new terminal, and the command the banner suggests: the local environment of
        # that name running here, through its own AWS profile
        from . import local_envs

        found = local_envs.find(selector)
        profile = found.profile_applies(environ) if found and found.running else None
        if profile:
            values["profile"] = profile
            sources["profile"] = f"the local environment '{selector}' running here"
    name = str(table.get("name") or selector) if selector else None
    if selector and selector in envs:
        sources["name"] = f"file [envs.{selector}]"
    return EnvSettings(
        alias=selector if selector in envs else None,
        name=name,
        allow=tuple(table.get("allow", ())),
        deny=tuple(table.get("deny", ())),
        sources=sources,
        ignore_env_profile=ignore_env_profile,
        **values,  # type: ignore[arg-type]
    )


LOCAL_PROFILE_MARK = "# mwaa-cli local environment"


def is_local_profile(profile: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``profile`` in the AWS config file was written by ``mwaa local serve``."""
    environ = os.environ if environ is None else environ
    path = Path(environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()
    try:
        text = path.read_text()
    except OSError:
        return False
    from .aws_files import profile_of, section_lines, split_lines

    lines = section_lines(split_lines(text), lambda header: profile_of(header) == profile)
    return any(line.strip().startswith(LOCAL_PROFILE_MARK) for line in lines or ())


def default_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The environment ``MWAA_ENV`` names, if any."""
    environ = os.environ if environ is None else environ
    return next((environ[v] for v in ENV_VARS["env"] if environ.get(v)), None)


def aws_file_stamps(environ: Mapping[str, str]) -> list[str]:
    """The AWS config and credentials files' time, size and inode ("-" when missing): part
    of every cache key that an edited profile must invalidate."""
    stamps = []
    for var, default in (
        ("AWS_CONFIG_FILE", "~/.aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        try:
            stat = Path(environ.get(var) or default).expanduser().stat()
            stamps.append(f"{stat.st_mtime_ns}:{stat.st_size}:{stat.st_ino}")
        except OSError:
            stamps.append("-")
    return stamps


def token_cache_key_hints(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """What, besides explicit settings, decides where and as whom a CLI token is made - read
    without boto3: region, profile, endpoint and access key id from the environment."""
    environ = os.environ if environ is None else environ

    def first(*names: str) -> str:
        return next((environ[n] for n in names if environ.get(n)), "")

    # a profile's endpoint and keys live in these files: when they change (a local
    # environment rewrote its profile), so does the key
    stamps = aws_file_stamps(environ)
    return (
        first(*ENV_VARS["region"]),
        first(*ENV_VARS["profile"]),
        first(*ENV_VARS["endpoint_url"]),
        first("AWS_ACCESS_KEY_ID") + "|" + "|".join(stamps),
    )


def configured_aliases(file: Mapping) -> list[str]:
    return sorted(file.get("envs", {}))
