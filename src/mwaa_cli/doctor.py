"""``mwaa doctor``: check, in order, everything between this machine and a remote Airflow
command, and say how to fix the first thing that is wrong.

Each check is a small function ``(client, context) -> Check``; a failed check ends the run
(the ones after it need what it checks). Fixes branch on error classes, never on raw codes.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .client import Client
from .client.transport import is_loopback
from .errors import AuthError, ConnectError, EnvironmentNotFound, MwaaError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

PRIVATE_ONLY_FIX = (
    "the web server has no public endpoint: run mwaa from inside the environment's VPC "
    "(an EC2 instance, Cloud9, a CI runner), connect over a VPN or Direct Connect, or open "
    "the SSH tunnel AWS documents through a bastion host — `ssh -D 8157 -C -q -N "
    "ec2-user@BASTION` — and add --proxy socks5h://127.0.0.1:8157 (or proxy = … in the "
    "config file)"
)
# STS error codes that mean "these credentials are not (or no longer) valid"
_STALE_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "AccessDenied",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


@dataclass
class Context:
    """What earlier checks learnt, for the later ones."""

    environment: dict = field(default_factory=dict)
    mode: str = "?"
    token: Any = None


def _loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=3):
            return True
    except OSError:
        return False


def _stopped_local(endpoint: str, name: str | None) -> Check:
    """Nothing listens on a loopback endpoint: a local environment that is not running."""
    from .local_envs import find, owning

    found = owning(endpoint) or find(name or "")
    what = f"the local environment '{found.name}'" if found else "a local environment"
    start = found.start_command if found else "mwaa local serve (or mwaa local up)"
    return Check(
        "endpoint",
        FAIL,
        f"{what} is not running: nothing listens on {endpoint}",
        f"start it with `{start}`, then source its env.sh again if it asks",
    )


def check_identity(client: Client, ctx: Context) -> Check:
    import botocore.exceptions as bx

    try:
        plane = client.control_plane
        _ = plane.client
        credentials = plane.session.get_credentials()
    except MwaaError as exc:
        return Check(
            "settings",
            FAIL,
            str(exc),
            "pass --region/--profile, or set them for this environment in the config file "
            "('mwaa config path')",
        )
    if credentials is None:
        return Check(
            "credentials",
            FAIL,
            "no AWS credentials found in boto3's chain",
            "run 'aws sso login --profile P' and pass --profile P, or export "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; for a local environment, source its "
            "env.sh",
        )
    if _loopback_url(plane.endpoint) and not _listening(plane.endpoint):
        return _stopped_local(plane.endpoint, client.env)
    sts = plane.sts()
    if _loopback_url(plane.endpoint) and not _loopback_url(sts.meta.endpoint_url):
        return Check(
            "identity",
            SKIP,
            f"access key {credentials.access_key[:8]}… (a local environment: its own key pair; "
            "no STS here)",
        )
    try:
        who = sts.get_caller_identity()
    except bx.SSLError as exc:
        return Check(
            "identity",
            FAIL,
            f"STS GetCallerIdentity failed: {exc}",
            "the endpoint's TLS certificate is not trusted: set AWS_CA_BUNDLE",
        )
    except bx.EndpointConnectionError as exc:
        return Check(
            "identity",
            FAIL,
            f"STS GetCallerIdentity failed: {exc}",
            f"STS in region '{plane.region_name}' cannot be reached: check the region name, "
            "the network, proxies and AWS_ENDPOINT_URL_STS",
        )
    except (bx.SSOError, bx.UnauthorizedSSOTokenError, bx.TokenRetrievalError) as exc:
        return Check(
            "identity", FAIL, f"the SSO session failed: {exc}", "run 'aws sso login --profile P'"
        )
    except bx.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        fix = (
            "the credentials are expired or invalid: 'aws sso login', or refresh the keys"
            if code in _STALE_CREDENTIALS
            else "see the error: the identity could not be confirmed"
        )
        return Check("identity", FAIL, f"STS GetCallerIdentity failed: {exc}", fix)
    except bx.BotoCoreError as exc:
        return Check("identity", FAIL, f"STS GetCallerIdentity failed: {exc}", "see the error")
    return Check("identity", OK, f"{who['Arn']} (account {who['Account']})")


def check_region(client: Client, ctx: Context) -> Check:
    plane = client.control_plane
    return Check("region", OK, f"{plane.region_name} (MWAA API {plane.endpoint})")


def check_environment(client: Client, ctx: Context) -> Check:
    try:
        ctx.environment = client.get_environment()
    except EnvironmentNotFound as exc:
        return Check(
            "environment",
            FAIL,
            str(exc),
            "check the name and region: 'mwaa envs --region R' lists what exists",
        )
    except AuthError as exc:
        return Check(
            "environment",
            FAIL,
            str(exc),
            "the credentials are refused: check the profile or keys (and that they are for "
            "this account), and IAM permission airflow:GetEnvironment",
        )
    except ConnectError as exc:
        return Check("environment", FAIL, str(exc), "check the region and the network")
    except MwaaError as exc:
        return Check("environment", FAIL, str(exc), "see the error above")
    env = ctx.environment
    status = env.get("Status", "?")
    detail = f"{env.get('Name')} is {status}, Airflow {env.get('AirflowVersion', '?')}"
    if status == "AVAILABLE":
        return Check("environment", OK, detail)
    fixes = {
        "CREATING": "wait: creation takes 20-30 minutes",
        "UPDATING": "wait for the update to finish",
        "CREATE_FAILED": "see the environment's LastUpdate error ('mwaa env show')",
        "UPDATE_FAILED": "see LastUpdate in 'mwaa env show'; roll back or fix the update",
        "UNAVAILABLE": "the environment is unhealthy: check its CloudWatch logs",
    }
    return Check("environment", FAIL, detail, fixes.get(status, "wait until AVAILABLE"))


def check_access_mode(client: Client, ctx: Context) -> Check:
    ctx.mode = ctx.environment.get("WebserverAccessMode", "?")
    if ctx.mode == "PRIVATE_ONLY":
        via = f" (proxy {client.proxy})" if client.proxy else ""
        return Check("access mode", WARN, f"PRIVATE_ONLY{via}", "" if via else PRIVATE_ONLY_FIX)
    return Check("access mode", OK, ctx.mode)


def check_token(client: Client, ctx: Context) -> Check:
    try:
        ctx.token = client.token(refresh=True)
    except AuthError as exc:
        arn = ctx.environment.get("Arn", "the environment")
        return Check(
            "token",
            FAIL,
            str(exc),
            f"the identity needs IAM permission airflow:CreateCliToken on {arn}",
        )
    except MwaaError as exc:
        return Check("token", FAIL, str(exc), "see the error above")
    return Check("token", OK, f"CreateCliToken works; web server {ctx.token.webserver_hostname}")


def check_network(client: Client, ctx: Context) -> Check:
    """DNS, TCP and TLS to the web server (not through a proxy: then the round trip says)."""
    url = ctx.token.cli_url or client.cli_url(ctx.token.webserver_hostname)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if client.proxy:
        return Check("network", SKIP, f"through proxy {client.proxy}: see the round trip")
    started = time.monotonic()
    try:
        addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
    except OSError as exc:
        return Check("network", FAIL, f"cannot resolve {host}: {exc}", "check DNS / VPN")
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            if parts.scheme == "https":
                context = ssl.create_default_context(cafile=client.ca_bundle or None)
                with context.wrap_socket(sock, server_hostname=host):
                    pass
    except ssl.SSLError as exc:
        return Check(
            "network",
            FAIL,
            f"TLS to {host}:{port} failed: {exc}",
            "the certificate is not trusted: set AWS_CA_BUNDLE (a local environment: source "
            "its env.sh)",
        )
    except OSError as exc:
        private = ipaddress_is_private(addr[0])
        return Check(
            "network",
            FAIL,
            f"cannot connect to {host}:{port} ({addr[0]}): {exc}",
            PRIVATE_ONLY_FIX if private else "check firewalls, proxies and security groups",
        )
    ms = (time.monotonic() - started) * 1000
    return Check("network", OK, f"{host}:{port} ({addr[0]}) reachable in {ms:.0f} ms")


def check_round_trip(client: Client, ctx: Context) -> Check:
    started = time.monotonic()
    try:
        result = client.run(["version"])
    except ConnectError as exc:
        fix = (
            PRIVATE_ONLY_FIX
            if ctx.mode == "PRIVATE_ONLY"
            else "the web server cannot be reached: check proxies, firewalls and DNS"
        )
        return Check("round trip", FAIL, f"'version' failed: {exc}", fix)
    except AuthError as exc:
        return Check(
            "round trip",
            FAIL,
            f"'version' failed: {exc}",
            "the token was refused: check the clock (tokens live 60 s) and retry",
        )
    except MwaaError as exc:
        return Check("round trip", FAIL, f"'version' failed: {exc}", "see the error above")
    ms = (time.monotonic() - started) * 1000
    if result.ok:
        return Check(
            "round trip", OK, f"'airflow version' = {result.stdout_text.strip()} in {ms:.0f} ms"
        )
    return Check(
        "round trip",
        FAIL,
        f"'version' exited {result.exit_code}: {result.stderr[:200]!r}",
        "the environment's CLI is unhealthy: check its web server logs",
    )


CHECKS: list[Callable[[Client, Context], Check]] = [
    check_identity,
    check_region,
    check_environment,
    check_access_mode,
    check_token,
    check_network,
    check_round_trip,
]


def run_checks(client: Client) -> Iterator[Check]:
    """Each check's outcome, in order; after a failure the checks that need it are skipped."""
    ctx = Context()
    for check in CHECKS:
        outcome = check(client, ctx)
        yield outcome
        if outcome.status == FAIL:
            return


def ipaddress_is_private(address: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private and not ip.is_loopback
