"""InvokeRestApi without boto3: botocore's own SigV4 signer over ``http.client``.

Importing boto3 and building an ``mwaa`` client costs more than the call itself. The first
call of a process goes through boto3 (:class:`~.control_plane.ControlPlane`) and records a
:class:`Route`: where botocore sent InvokeRestApi (host prefix included), how it signed it
(service name, region), what it verified the server with, and the credentials it signed
with. Later processes read the route and sign with ``botocore.auth.SigV4Auth`` directly.

A route is kept like a CLI token (:class:`~.tokens.FileCache`: 0600, in a private folder,
dropped when stale) and keyed by everything that decides it: the explicit settings, every
``AWS_*`` variable, and the size and time of the AWS config and credentials files, so an
edited profile, another key or another endpoint is a different route. Credentials from
environment variables are never written (they are read from the environment again);
temporary credentials (SSO, assumed roles, processes) are kept until 10 minutes before
they expire (botocore's own mandatory refresh), static ones for 15 minutes.

Anything the route cannot answer alike - an error MWAA (not Airflow) raised, a connection
that was never made - drops the route and the call is made through boto3 again, which gives
its retries and its precise errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from .. import paths
from ..errors import ConnectError, RequestTimeout, ServerError
from .tokens import FileCache

STATIC_TTL = 900.0  # seconds a route with static credentials is kept
REFRESH_MARGIN = 600.0  # temporary credentials: dropped this long before they expire
READ_TIMEOUT = 60.0  # botocore's default read timeout
STATIC_METHODS = frozenset({"shared-credentials-file", "config-file", "explicit"})
TEMPORARY_METHODS = frozenset(
    {
        "sso",
        "assume-role",
        "assume-role-with-web-identity",
        "custom-process",
        "container-role",
        "iam-role",
        "login",
    }
)
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
# the calls that go without boto3 (boto3 method -> the path before the environment's name):
# both on the "env." host, both what every command of `mwaa run` / `mwaa api` needs
OPERATIONS = {"invoke_rest_api": "/restapi/", "create_cli_token": "/clitoken/"}


class Credentials(NamedTuple):
    """What ``SigV4Auth`` reads: ``access_key``, ``secret_key``, ``token``."""

    access_key: str
    secret_key: str
    token: str | None


@dataclass(frozen=True)
class Route:
    """How botocore sent InvokeRestApi, and as whom."""

    base: str  # scheme://host[:port] of the request, host prefix included
    region: str  # the signing region
    signing_name: str  # the SigV4 service name ("airflow")
    ca_file: str  # the CA bundle the server is verified with
    method: str  # botocore's name for where the credentials came from
    expires_at: float
    web_ca: str = ""  # the CA file the web server is verified with ("" = the default roots)
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    token: str = field(default="", repr=False)

    def credentials(self, environ: Mapping[str, str]) -> Credentials | None:
        if self.method == "env":
            key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
            if not key or not secret:
                return None
            return Credentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None)
        return Credentials(self.access_key, self.secret_key, self.token or None)

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires_at


def route_key(
    settings: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Everything that decides a route: ``settings`` (region, profile, endpoint…), every
    ``AWS_*`` variable (hashed: the key names a file) and the AWS files' size and time."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    for name in sorted(n for n in environ if n.startswith("AWS_")):
        digest.update(f"{name}={environ[name]}\0".encode())
    from ..settings import aws_file_stamps

    return ("route", *settings, digest.hexdigest(), *aws_file_stamps(environ))


class RouteCache(FileCache):
    """Routes on disk, one 0600 file per key."""

    suffix = ".route"

    def get(self, key: tuple[str, ...]) -> Route | None:
        text = self.read(key)
        if text is None:
            return None
        try:
            route = Route(**json.loads(text))
        except (ValueError, TypeError):
            self.drop(key)
            return None
        if not route.fresh():
            self.drop(key)
            return None
        return route

    def put(self, key: tuple[str, ...], route: Route) -> None:
        self.write(key, json.dumps(asdict(route)))


def default_cache() -> RouteCache:
    return RouteCache(paths.state_dir() / "routes")


def usable(environ: Mapping[str, str] | None = None) -> bool:
    """False when boto3 must carry the call: a proxy is configured (botocore's proxy
    handling is not repeated here)."""
    environ = os.environ if environ is None else environ
    return not any(environ.get(name) for name in PROXY_VARS)


def route_from(
    request: Any,
    signing_name: str,
    region: str,
    ca_file: str,
    credentials: Any,
    *,
    web_ca: str = "",
) -> Route | None:
    """The route of an InvokeRestApi request botocore is about to sign, or None when its
    credentials should not be kept (an unknown provider, or no expiry to go by)."""
    method = getattr(credentials, "method", "") or ""
    now = time.time()
    if method == "env":
        expires, secret = now + STATIC_TTL, None
    elif method in STATIC_METHODS:
        expires, secret = now + STATIC_TTL, credentials.get_frozen_credentials()
    elif method in TEMPORARY_METHODS:
        expiry = getattr(credentials, "_expiry_time", None)
        if expiry is None:
            return None
        expires = min(expiry.timestamp() - REFRESH_MARGIN, now + 3600)
        if expires <= now:
            return None
        secret = credentials.get_frozen_credentials()
    else:
        return None
    parts = urlsplit(request.url)
    return Route(
        base=f"{parts.scheme}://{parts.netloc}",
        region=region,
        signing_name=signing_name,
        ca_file=ca_file,
        method=method,
        expires_at=expires,
        web_ca=web_ca,
        access_key=secret.access_key if secret else "",
        secret_key=secret.secret_key if secret else "",
        token=(secret.token or "") if secret else "",
    )


class Sent(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class NotSent(Exception):
    """The request never reached the server: boto3 may carry it instead."""


def send(
    route: Route, prefix: str, name: str, body: bytes | None, environ: Mapping[str, str]
) -> Sent:
    """POST ``body`` (JSON; None: no body) to ``prefix`` + the environment ``name`` along
    ``route``, signed with botocore's SigV4. Raises :class:`NotSent` when nothing was sent."""
    credentials = route.credentials(environ)
    if credentials is None:
        raise NotSent("no credentials")
    import http.client
    import ssl

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = f"{route.base}{prefix}{quote(name, safe='')}"
    headers = {"User-Agent": _user_agent()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = AWSRequest("POST", url, data=body or b"", headers=headers)
    SigV4Auth(credentials, route.signing_name, route.region).add_auth(request)
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=route.ca_file or None)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=10.0, context=context
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=10.0)
        conn.connect()
    except (OSError, ssl.SSLError) as exc:
        raise NotSent(str(exc)) from exc
    try:
        assert conn.sock is not None
        conn.sock.settimeout(READ_TIMEOUT)
        conn.request("POST", parts.path, body=request.body, headers=dict(request.headers))
        reply = conn.getresponse()
        return Sent(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    except TimeoutError as exc:
        raise RequestTimeout(f"the MWAA API timed out: no reply within {READ_TIMEOUT:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectError(
            f"the connection to the MWAA API was lost before a reply ({exc}); the call may or "
            "may not have reached Airflow"
        ) from exc
    finally:
        conn.close()


def error_code(sent: Sent) -> tuple[str, dict]:
    """The error's code (restJson1: the ``x-amzn-ErrorType`` header, else the body's
    ``__type``/``code``) and its body."""
    try:
        doc = json.loads(sent.body or b"{}")
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    code = sent.headers.get("x-amzn-errortype") or doc.get("__type") or doc.get("code") or ""
    code = str(code).split(":")[0]
    return code.rsplit("#", 1)[-1], doc


def server_error(code: str, doc: dict) -> ServerError:
    message = doc.get("message") or doc.get("Message") or ""
    return ServerError(f"invoke_rest_api failed ({code or 'error'}): {message}")


def _user_agent() -> str:
    return "mwaa-cli (botocore SigV4)"  # the version would cost importlib.metadata
