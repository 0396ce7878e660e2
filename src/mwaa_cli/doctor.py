"""``mwaa doctor``: check, in order, everything between this machine and a remote Airflow
command, and say how to fix the first thing that is wrong."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .client import Client
from .client.transport import is_loopback
from .errors import MwaaError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

PRIVATE_ONLY_FIX = (
    "the web server has no public endpoint: run mwaa from inside the environment's VPC "
    "(an EC2 instance, Cloud9, a CI runner), connect over a VPN or Direct Connect, or open "
    "the SSH tunnel AWS documents through a bastion host — `ssh -D 8157 -C -q -N "
    "ec2-user@BASTION` — and add --proxy socks5h://127.0.0.1:8157 (or proxy = … in the "
    "config file)"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


def _loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def _sts_client(client: Client) -> Any | None:
    """An STS client on the same session, or None for a local environment without STS."""
    plane = client.control_plane
    sts = plane.sts()
    if _loopback_url(plane.endpoint) and not _loopback_url(sts.meta.endpoint_url):
        return None  # a local environment and real STS: nothing to learn, no network here
    return sts


def run_checks(client: Client) -> Iterator[Check]:
    """Each check's outcome, in order; after a failure the checks that need it are skipped."""
    import botocore.exceptions as bx

    # 1. credentials and identity
    try:
        mwaa = client.mwaa
        credentials = client.control_plane.session.get_credentials()
    except MwaaError as exc:
        yield Check(
            "settings",
            FAIL,
            str(exc),
            "pass --region/--profile, or set them for this environment in the config file "
            "('mwaa config path')",
        )
        return
    if credentials is None:
        yield Check(
            "credentials",
            FAIL,
            "no AWS credentials found in boto3's chain",
            "run 'aws sso login --profile P' and pass --profile P, or export "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
        return
    key_id = credentials.access_key
    sts = _sts_client(client)
    if sts is None:
        yield Check(
            "identity",
            SKIP,
            f"access key {key_id[:8]}… (a local environment: its own key pair; no STS here)",
        )
    else:
        try:
            who = sts.get_caller_identity()
            yield Check("identity", OK, f"{who['Arn']} (account {who['Account']})")
        except (bx.ClientError, bx.BotoCoreError) as exc:
            if isinstance(exc, bx.SSLError):
                fix = "the endpoint's TLS certificate is not trusted: set AWS_CA_BUNDLE"
            elif isinstance(exc, bx.EndpointConnectionError):
                fix = "STS cannot be reached: check the network, proxies and AWS_ENDPOINT_URL_STS"
            else:
                fix = "the credentials are expired or invalid: 'aws sso login', or refresh the keys"
            yield Check("identity", FAIL, f"STS GetCallerIdentity failed: {exc}", fix)
            return

    # 2. region
    region = mwaa.meta.region_name
    yield Check("region", OK, f"{region} (MWAA API {mwaa.meta.endpoint_url})")

    # 3. the environment exists and is AVAILABLE
    try:
        env = client.get_environment()
    except MwaaError as exc:
        fix = (
            "check the name and region: 'mwaa envs --region R' lists what exists"
            if exc.exit_status == 67
            else ""
        )
        if not fix and exc.exit_status == 77:
            fix = "the credentials are refused: check the profile or keys (and that they are "
            fix += "for this account)"
        yield Check("environment", FAIL, str(exc), fix or "see the error above")
        return
    status = env.get("Status", "?")
    detail = f"{env.get('Name')} is {status}, Airflow {env.get('AirflowVersion', '?')}"
    if status == "AVAILABLE":
        yield Check("environment", OK, detail)
    else:
        fixes = {
            "CREATING": "wait: creation takes 20-30 minutes",
            "UPDATING": "wait for the update to finish",
            "CREATE_FAILED": "see the environment's LastUpdate error in the console",
            "UPDATE_FAILED": "see LastUpdate in 'mwaa env show'; roll back or fix the update",
            "UNAVAILABLE": "the environment is unhealthy: check its CloudWatch logs",
        }
        yield Check("environment", FAIL, detail, fixes.get(status, "wait until AVAILABLE"))
        return

    # 4. web server access mode
    mode = env.get("WebserverAccessMode", "?")
    if mode == "PRIVATE_ONLY":
        via = f" (proxy {client.proxy})" if client.proxy else ""
        yield Check("access mode", WARN, f"PRIVATE_ONLY{via}", "" if via else PRIVATE_ONLY_FIX)
    else:
        yield Check("access mode", OK, mode)

    # 5. a CLI token
    try:
        token = client.token(refresh=True)
    except MwaaError as exc:
        fix = (
            "the identity needs IAM permission airflow:CreateCliToken on "
            f"{env.get('Arn', 'the environment')}"
            if exc.exit_status == 77
            else "see the error above"
        )
        yield Check("token", FAIL, str(exc), fix)
        return
    yield Check("token", OK, f"CreateCliToken works; web server {token.webserver_hostname}")

    # 6. network reach of the web server
    url = token.cli_url or client.cli_url(token.webserver_hostname)
    yield _reach(url, client)

    # 7. a round trip
    started = time.monotonic()
    try:
        result = client.run(["version"])
    except MwaaError as exc:
        yield Check("round trip", FAIL, f"'version' failed: {exc}", _round_trip_fix(exc, mode))
        return
    ms = (time.monotonic() - started) * 1000
    if result.ok:
        yield Check("round trip", OK, f"'airflow version' = {result.text.strip()} in {ms:.0f} ms")
    else:
        yield Check(
            "round trip",
            FAIL,
            f"'version' exited {result.exit_code}: {result.stderr[:200]!r}",
            "the environment's CLI is unhealthy: check its web server logs",
        )


def _round_trip_fix(exc: MwaaError, mode: str) -> str:
    if exc.exit_status == 68 and mode == "PRIVATE_ONLY":
        return PRIVATE_ONLY_FIX
    if exc.exit_status == 68:
        return "the web server cannot be reached: check proxies, firewalls and DNS"
    if exc.exit_status == 77:
        return "the token was refused: check the clock (tokens live 60 s) and retry"
    return "see the error above"


def _reach(url: str, client: Client) -> Check:
    """DNS, TCP and TLS to the web server (not through a proxy: then the round trip says)."""
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


def ipaddress_is_private(address: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private and not ip.is_loopback
