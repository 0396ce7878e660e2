"""The CLI data plane over HTTP: one POST per command, on a kept-alive connection.

The standard library's ``http.client`` and ``ssl`` carry the request when no proxy is
configured (importing httpx costs more than a short command takes on the server); httpx
carries it through HTTP CONNECT and SOCKS proxies. Either way:

- only same-origin 307/308 redirects are followed (the body is sent again); a redirect to
  another host, port or scheme is an error, so the command and its token never go there;
- a CLI token travels over plain HTTP to loopback only;
- every failure becomes one :class:`~mwaa_cli.errors.MwaaError` with what to do about it.
"""

from __future__ import annotations

import http.client
import ipaddress
import select
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..errors import (
    AuthError,
    CommandNotAllowed,
    ConfigError,
    ConnectError,
    MwaaError,
    ProtocolError,
    RequestTimeout,
    ServerBusy,
    ServerError,
)
from ..in_flight import mark_sent
from ..wire import CliReply, WireError, decode_reply

CONNECT_TIMEOUT = 10.0
MAX_REDIRECTS = 3


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str
    redirects: list[str] = field(default_factory=list)  # URLs followed to get here

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class Transport:
    """POSTs to web servers, keeping one connection per origin."""

    def __init__(self, *, timeout: float, proxy: str | None = None, ca_file: str = "") -> None:
        self.timeout = timeout
        self.proxy = proxy
        self.ca_file = ca_file  # "" = the default roots
        self._conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        self._context: ssl.SSLContext | None = None
        self._httpx: Any = None

    # -- public ------------------------------------------------------------------------

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        """POST ``body`` to ``url``, following same-origin 307/308 redirects."""
        followed: list[str] = []
        while True:
            scheme, host, _ = _origin(url)
            token = "authorization" in {h.lower() for h in headers}
            if scheme == "http" and token and not is_loopback(host):
                raise ConfigError(
                    f"refusing to send a CLI token over plain HTTP to {host} (not loopback): "
                    "use the environment's https:// endpoint"
                )
            response = self._send(url, body, headers)
            response.redirects = followed
            location = response.headers.get("location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            target = urljoin(url, location)
            if response.status not in (307, 308):
                raise ProtocolError(
                    f"{url} redirected ({response.status}) to {target}: a redirect that turns the "
                    "command's POST into a GET is not MWAA's CLI endpoint (check the web server "
                    "hostname)"
                )
            if _origin(target) != _origin(url):
                raise ProtocolError(
                    f"{url} redirected to another origin ({target}); the command and its token "
                    "are only sent to the web server CreateCliToken named"
                )
            if len(followed) >= MAX_REDIRECTS:
                raise ProtocolError(f"too many redirects from {followed[0]}")
            followed.append(url)
            url = target

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        if self._httpx is not None:
            self._httpx.close()
            self._httpx = None

    # -- the standard library ----------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.ca_file or None)
        return self._context

    def _connection(self, url: str) -> http.client.HTTPConnection:
        key = _origin(url)
        conn = self._conns.get(key)
        if conn is not None and conn.sock is not None:
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if not readable:
                return conn  # idle and open: reuse it
            conn.close()  # the server closed it (keep-alive timeout): a new one
        scheme, host, port = key
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=CONNECT_TIMEOUT, context=self._ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            raise _untrusted(url, exc) from exc
        except TimeoutError as exc:
            raise _not_sent(
                f"cannot reach the web server {url}: no connection within {CONNECT_TIMEOUT:g} s"
            ) from exc
        except OSError as exc:
            raise _not_sent(f"cannot reach the web server {url}: {_reason(exc)}") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        # no Nagle: a request sent right after the previous reply (a batch) would otherwise
        # wait for the server's delayed ACK, ~40 ms (urllib3 and httpx set this too)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conns[key] = conn
        return conn

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        if self.proxy or _proxy_in_environment(url):
            return self._send_httpx(url, body, headers)  # it also honours NO_PROXY
        conn = self._connection(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            mark_sent(_command_of(body))
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
        except TimeoutError as exc:
            self._drop(url)
            raise RequestTimeout(
                f"no reply from {url} within {self.timeout:g} s; the command may still be "
                "running on the server"
            ) from exc
        except (http.client.RemoteDisconnected, ConnectionError, http.client.IncompleteRead) as exc:
            self._drop(url)
            raise ConnectError(
                f"the connection to {url} was lost before a reply ({_reason(exc)}); the "
                "command may or may not have run"
            ) from exc
        except http.client.HTTPException as exc:
            self._drop(url)
            raise ProtocolError(f"{url} did not answer with HTTP: {exc!r}") from exc
        except OSError as exc:
            self._drop(url)
            raise ConnectError(
                f"request to {url} failed ({_reason(exc)}); the command may or may not have run"
            ) from exc
        if reply.will_close:
            self._drop(url)
        return Response(
            reply.status,
            reply.reason,
            {k.lower(): v for k, v in reply.getheaders()},
            data,
            url,
        )

    def _drop(self, url: str) -> None:
        conn = self._conns.pop(_origin(url), None)
        if conn is not None:
            conn.close()

    # -- httpx, for proxies ------------------------------------------------------------

    def _send_httpx(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        import httpx

        if self._httpx is None:
            self._httpx = httpx.Client(
                verify=self._ssl_context(),
                proxy=self.proxy or None,  # None: HTTPS_PROXY/ALL_PROXY/NO_PROXY from the env
                timeout=httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT),
                follow_redirects=False,
            )
        try:
            mark_sent(_command_of(body))
            reply = self._httpx.post(url, content=body, headers=headers)
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise _untrusted(url, exc) from exc
            via = f" through the proxy {self.proxy}" if self.proxy else ""
            raise ConnectError(f"cannot reach the web server {url}{via}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise RequestTimeout(
                f"no reply from {url} within {self.timeout:g} s; the command may still be "
                "running on the server"
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ConnectError(
                f"the connection to {url} was lost before a reply ({exc}); the command may or "
                "may not have run"
            ) from exc
        except httpx.ProxyError as exc:
            raise ConnectError(f"the proxy refused {url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ConnectError(f"request to {url} failed: {exc}") from exc
        return Response(
            reply.status_code,
            reply.reason_phrase,
            {k.lower(): v for k, v in reply.headers.items()},
            reply.content,
            url,
        )


def _command_of(body: bytes) -> str:
    """The command's name (its arguments may hold secrets: never repeated)."""
    return " ".join(body.decode("utf-8", "replace").split()[:2])[:60]


def _proxy_in_environment(url: str) -> bool:
    import os

    names = ["ALL_PROXY", "all_proxy"]
    names += (
        ["HTTPS_PROXY", "https_proxy"] if url.startswith("https:") else ["HTTP_PROXY", "http_proxy"]
    )
    return any(os.environ.get(name) for name in names)


def _not_sent(message: str) -> ConnectError:
    error = ConnectError(message)
    error.not_sent = True
    return error


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _untrusted(url: str, exc: BaseException) -> ConnectError:
    return ConnectError(
        f"the TLS certificate of {url} is not trusted ({exc}); for a local environment, set "
        "AWS_CA_BUNDLE to its tls/ca-bundle.pem (source its env.sh)"
    )


# -- replies ---------------------------------------------------------------------------


def _html_title(body: bytes) -> str:
    import re

    match = re.search(rb"<title>\s*(.*?)\s*</title>", body[:4096], re.I | re.S)
    if match:
        return " ".join(match.group(1).decode("utf-8", "replace").split())[:120]
    match = re.search(rb"<h1>\s*(.*?)\s*</h1>", body[:4096], re.I | re.S)
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:120] if match else ""


def _is_html(response: Response) -> bool:
    return "html" in response.headers.get("content-type", "") or response.body.lstrip()[:1] == b"<"


def message_of(response: Response) -> str:
    """One line saying what the server said."""
    if _is_html(response):
        title = _html_title(response.body) or f"{response.status} {response.reason}"
        return f"{title} (an HTML page, e.g. from a load balancer or a login page)"
    try:
        doc = response.json()
        if isinstance(doc, dict):
            text = doc.get("message") or doc.get("Message") or doc.get("error")
            if text:
                return " ".join(str(text).split())
    except ValueError:
        pass
    text = " ".join(response.body.decode("utf-8", "replace").split())
    return text[:200] or response.reason or str(response.status)


# codes our server uses on 503 for a command that did start (so it must not be sent again)
STARTED_503 = frozenset({"ServerStopping"})
# codes on 503 for a command that never started but will not succeed by retrying soon
HOPELESS_503 = frozenset({"MetadataDatabaseUnavailable"})


def reply_or_raise(response: Response) -> CliReply:
    """The CLI reply in ``response``, or the error its status means."""
    status = response.status
    redirected = f" (after a redirect from {response.redirects[0]})" if response.redirects else ""
    if status == 200:
        if _is_html(response):
            raise ProtocolError(
                f"{response.url} answered with an HTML page, not a CLI reply: "
                f"{message_of(response)}; check the web server hostname"
            )
        try:
            return decode_reply(response.body)
        except WireError as exc:
            raise ProtocolError(f"malformed reply from {response.url}: {exc}") from exc
    message = message_of(response)
    error: MwaaError
    if status in (401, 403):
        error = AuthError(f"the web server rejected the CLI token{redirected}: {message}")
    elif status in (400, 413, 422):
        error = CommandNotAllowed(f"the web server refused the command: {message}")
    elif status == 503:
        code = _error_code(response)
        started = code in STARTED_503 or _has_streams(response)
        error = ServerBusy(f"the web server is unavailable (503): {message}")
        error.not_started = not started and code not in HOPELESS_503
        error.retry_after = _retry_after(response)
    elif status == 504:
        error = RequestTimeout(f"the command timed out on the web server (504): {message}")
    elif status == 404:
        error = ProtocolError(f"{response.url} is not an MWAA CLI endpoint (404): {message}")
    else:
        text = f"the web server failed ({status}): {message}"
        if status == 500:
            text += " (MWAA also answers 500 to commands it does not support)"
        error = ServerError(text)
    raise error


def _error_code(response: Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return ""
    return str(doc.get("error", "")) if isinstance(doc, dict) else ""


def _has_streams(response: Response) -> bool:
    try:
        doc = response.json()
    except ValueError:
        return False
    return isinstance(doc, dict) and ("stdout" in doc or "stderr" in doc)


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
