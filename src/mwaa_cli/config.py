"""Settings from the environment: the only reader of ``os.environ`` in the client."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

ENV_VAR = "MWAA_ENV"  # default environment name
HOME_VAR = "MWAA_CLI_HOME"  # relocates all of mwaa-cli's state (tests use it)


def default_env() -> str | None:
    return os.environ.get(ENV_VAR) or None


def state_dir() -> Path:
    """Where mwaa-cli keeps its state (local environments, caches)."""
    if os.environ.get(HOME_VAR):
        return Path(os.environ[HOME_VAR]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mwaa-cli"


def token_cache_key_hints() -> tuple[str, str, str, str]:
    """What, besides flags, decides where and as whom a CLI token is made (no boto3 needed):
    region, profile, endpoint and access key id from the environment."""
    env = os.environ
    return (
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
        env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "",
        env.get("AWS_ENDPOINT_URL_MWAA") or env.get("AWS_ENDPOINT_URL") or "",
        env.get("AWS_ACCESS_KEY_ID") or "",
    )


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_ca_bundle(url: str, env: str | None) -> str | None:
    """The CA bundle of the local environment at ``url`` (HTTPS on loopback), if it is ours:
    ``$MWAA_CLI_HOME/local/ENV/tls/ca-bundle.pem``, or the only local environment's."""
    if urlsplit(url).scheme != "https" or not is_loopback_url(url):
        return None
    local = state_dir() / "local"
    if env and (local / env / "tls" / "ca-bundle.pem").is_file():
        return str(local / env / "tls" / "ca-bundle.pem")
    found = sorted(local.glob("*/tls/ca-bundle.pem"))
    return str(found[0]) if len(found) == 1 else None


def local_ca_only(ca_bundle: str) -> str:
    """For a local environment's ``tls/ca-bundle.pem``: its ``ca.pem``; else ``ca_bundle``."""
    path = Path(ca_bundle)
    ca = path.with_name("ca.pem")
    ours = (state_dir() / "local").resolve()
    if path.name == "ca-bundle.pem" and ca.is_file() and ours in path.resolve().parents:
        return str(ca)
    return ca_bundle
