"""The web server host: MWAA's web login and Airflow's own UI and REST API, over the same TLS
as the CLI endpoint.

- ``POST /aws_mwaa/login`` (Airflow 2) and ``POST /pluginsv2/aws_mwaa/login`` (Airflow 3):
  form field ``token`` = a CreateWebLoginToken token (60 s, one use, this environment) ->
  200 with the session cookie Airflow accepts: ``session`` (Airflow 2) or ``_token`` (a JWT,
  Airflow 3, also accepted as ``Authorization: Bearer`` by ``/api/v2``), and a page that
  moves a browser on to the UI
- ``GET /aws_mwaa/aws-console-sso?login=true#TOKEN``: the page the AWS console opens; it posts
  the token from the URL's fragment to the login above
- anything else the endpoint does not serve itself goes to Airflow's API server / webserver on
  loopback (the UI, ``/api/v2`` or ``/api/v1``, ``/auth``), which authenticates it as always;
  Airflow 3's task execution API is not reachable from here
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..airflow_rest import CallFailed
from ..cli_tokens import TokenRejected
from .bodies import read_body
from .errors import AwsError, CliError, Disconnected

if TYPE_CHECKING:
    from . import LocalApp

log = logging.getLogger("mwaa_cli.local")

LOGIN_V2 = "/aws_mwaa/login"
LOGIN_V3 = "/pluginsv2/aws_mwaa/login"
CONSOLE_SSO = "/aws_mwaa/aws-console-sso"
# the control plane's own paths: never Airflow's, so an unknown operation stays an AWS error
_OWN_HEADERS = {"date", "server"}  # the endpoint's server sets its own: never two of each
_CONTROL_PLANE = ("/environments", "/clitoken", "/webtoken", "/restapi", "/tags", "/metrics")
_NOT_PROXIED = ("/execution", "/aws_mwaa", "/pluginsv2/aws_mwaa", "/mwaa-local")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
WEB_BODY_LIMIT = 16 * 1024 * 1024  # what the UI may send in one request
RESTART_WAIT = 10.0  # seconds a request waits for a (re)starting Airflow web server


def _web_error(status: int, code: str, message: str) -> CliError:
    return CliError(status, code, message)


def routes(app: LocalApp) -> list[Route]:
    async def login(request: Request) -> Response:
        body = await read_body(
            request, limit=64 * 1024, timeout=app.limits.body_timeout, error=_web_error
        )
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0].strip()
        if not token:
            raise CliError(400, "BadRequest", "missing form field 'token' (a web login token)")
        try:
            claims = app.signer.verify(token, app.env.name, use="web")
        except TokenRejected as exc:
            raise CliError(403, "Forbidden", str(exc)) from None
        if not app.web_tokens.spend(claims.token_id, claims.expires_at):
            raise CliError(403, "Forbidden", "this web login token was already used")
        role = claims.role or "Admin"
        if app.rest is None:
            raise CliError(503, "Unavailable", "this environment runs without Airflow's UI")
        try:
            name, value = await app.rest.login_cookie(role)
        except CallFailed as exc:
            raise CliError(exc.status, exc.title.replace(" ", ""), exc.detail) from None
        log.info("web login as %s (token %s)", role, claims.token_id)
        response = HTMLResponse(_page("Logged in", "Opening the Airflow UI …", redirect="/"))
        response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="lax")
        return response

    async def console_sso(request: Request) -> Response:
        target = LOGIN_V3 if app.rest is not None and app.rest.major >= 3 else LOGIN_V2
        return HTMLResponse(_page("Signing in", "Signing in to Apache Airflow …", sso=target))

    return [
        Route(LOGIN_V2, login, methods=["POST"]),
        Route(LOGIN_V3, login, methods=["POST"]),
        Route(CONSOLE_SSO, console_sso, methods=["GET"]),
    ]


class AirflowProxy:
    """ASGI middleware: a request for a path the endpoint does not serve itself goes on to
    Airflow's web server; everything else to the endpoint's own routes (``inner``)."""

    def __init__(self, app, local: LocalApp) -> None:
        self.inner, self.app = app, local
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            timeout = httpx.Timeout(300.0, connect=10.0)
            self._http = httpx.AsyncClient(trust_env=False, timeout=timeout)
        return self._http

    @staticmethod
    def is_own(path: str, method: str) -> bool:
        """The endpoint's own: the control plane, STS (``POST /``), MWAA's CLI and login
        paths, its health check - and Airflow's execution API, which stays internal."""
        return (
            path.startswith(_CONTROL_PLANE + _NOT_PROXIED)
            or path == "/health"
            or (path == "/" and method == "POST")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = self.app.rest
        if (
            scope["type"] != "http"
            or rest is None
            or self.is_own(scope.get("path", ""), scope.get("method", ""))
        ):
            await self.inner(scope, receive, send)
            return
        if not is_plain_path(scope):
            # a path that would change on its way (dot segments, encoded or back slashes,
            # empty segments) could land anywhere - the execution API included: browsers
            # never send one, so it is refused rather than forwarded
            response = JSONResponse(
                {"detail": "a path with '.', '..' or empty segments, or encoded slashes, is "
                 "not forwarded to Airflow's web server"},
                status_code=400,
            )  # fmt: skip
            await response(scope, receive, send)
            return
        try:
            response = await self.forward(Request(scope, receive), rest.base_url)
        except AwsError as exc:  # a body over the limit, or too slow to arrive
            response = exc.response()
        except Disconnected:
            return
        await response(scope, receive, send)

    async def forward(self, request: Request, base_url: str) -> Response:
        body = await read_body(
            request, limit=WEB_BODY_LIMIT, timeout=self.app.limits.body_timeout, error=AwsError
        )
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode()
        query = request.scope.get("query_string", b"").decode()
        url = f"{base_url}{raw_path}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        if "accept-encoding" not in request.headers:
            # else httpx asks for gzip itself, and the compressed bytes - passed on as they
            # are - reach a client that never asked for them
            headers.append(("accept-encoding", "identity"))
        self.http.cookies.clear()  # the browser's cookies go along as its header, never stored
        deadline = time.monotonic() + RESTART_WAIT
        while True:
            outgoing = self.http.build_request(request.method, url, headers=headers, content=body)
            try:
                upstream = await self.http.send(outgoing, stream=True)
                break
            except httpx.ConnectError:  # nothing was sent: it may be restarting, wait a little
                if time.monotonic() < deadline:
                    await asyncio.sleep(0.25)
                    continue
                return JSONResponse(
                    {"detail": "Airflow's web server is not answering yet (starting?)"},
                    status_code=503,
                    headers={"retry-after": "2"},
                )
            except httpx.HTTPError as exc:
                return JSONResponse({"detail": f"Airflow's web server: {exc}"}, status_code=502)
        self.http.cookies.clear()
        reply_headers = [
            (k, _relative(v, base_url) if k.lower() == "location" else v)
            for k, v in upstream.headers.multi_items()
            if k.lower() not in (_HOP_BY_HOP - {"content-length"}) | _OWN_HEADERS
        ]
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in reply_headers
        ]
        return response

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def is_plain_path(scope: Scope) -> bool:
    """Whether the request's path reaches Airflow exactly as the endpoint decided on it: no
    dot or empty segments and no slash in any spelling, decoded once (what the endpoint
    and Airflow see) and twice (``%252e``), in the raw path too."""
    raw = (scope.get("raw_path") or scope.get("path", "").encode()).decode("latin-1")
    once = unquote(raw)
    for spelling in (raw, once, unquote(once)):
        if "\\" in spelling or "//" in spelling:
            return False
        if any(segment in (".", "..") for segment in spelling.split("/")[1:]):
            return False
    return raw.count("/") == once.count("/")  # an encoded slash: %2f


def _relative(location: str, base_url: str) -> str:
    """A redirect to Airflow's own loopback address, as a path on this host."""
    return location[len(base_url) :] or "/" if location.startswith(base_url) else location


def _page(title: str, message: str, redirect: str | None = None, sso: str | None = None) -> str:
    head = (
        f'<meta http-equiv="refresh" content="0; url={html.escape(redirect)}">' if redirect else ""
    )
    script = ""
    if sso:
        # the token is in the fragment, which browsers never send: post it from the page
        script = f"""<form id="login" method="post" action="{html.escape(sso)}">
<input type="hidden" name="token" id="token"></form>
<script>
const token = decodeURIComponent(window.location.hash.slice(1));
if (token) {{
  document.getElementById("token").value = token;
  history.replaceState(null, "", window.location.pathname);
  document.getElementById("login").submit();
}} else {{
  document.getElementById("message").textContent =
    "No web login token in this URL: get one with aws mwaa create-web-login-token.";
}}
</script>"""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{head}</head><body><p id='message'>{html.escape(message)}</p>{script}</body></html>"
    )
