"""Calls into the environment's own Airflow REST API, as one of its Airflow roles.

InvokeRestApi (:mod:`.api.rest_api`) validates what the caller sent and hands it here:
this module turns ``{Path, Method, QueryParameters, Body}`` into one HTTP request to
``http://127.0.0.1:PORT/api/v2{Path}`` (Airflow 3) or ``/api/v1{Path}`` (Airflow 2), logged
in as the user of the chosen role - never with an "everyone is admin" bypass - and returns
Airflow's status and JSON reply, within MWAA's limits (10 s, 6 MB).

Airflow 3 (SimpleAuthManager): a JWT from ``POST /auth/token`` with the role's user and
password, cached and renewed on a 401. Airflow 2 (FAB): HTTP basic auth, which the local
environment's webserver enables beside sessions. ``Public`` is the anonymous role: no
credentials at all, as an unauthenticated caller.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx

# MWAA's Airflow roles (the last part of the IAM resource arn:…:role/ENV/ROLE) -> the local
# environment's UI user of that role (local/airflow/flavour.py UI_USERS); Public: anonymous
ROLES = {"Admin": "admin", "Op": "op", "User": "user", "Viewer": "viewer", "Public": None}
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
_WITH_BODY = ("PUT", "POST", "PATCH")
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"
MAX_QUERY = 16 * 1024  # bytes of encoded query: what Airflow's API server takes in a line
# Airflow 3 answers any SQLAlchemy error with 500 {"reason": "Database error"} after rolling the
# transaction back. On SQLite that is mostly a write that met another writer ("database is
# locked": in WAL mode a read-then-write transaction gets it at once, whatever the busy
# timeout), so such a call is sent again after these pauses (seconds) while they fit in 70 %
# of the call's time limit, then answered as is
DB_ERROR_RETRIES = (0.2, 0.5, 1.0, 2.0)


class InvalidRequest(ValueError):
    """What botocore lets through but MWAA refuses (400 ValidationException)."""


class CallFailed(Exception):
    """Airflow could not give an answer: ``status`` and ``detail`` describe why, in the
    shape of an Airflow error (RestApiServerException on the wire)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def body(self) -> dict:
        return {"status": self.status, "title": self.title, "detail": self.detail}


@dataclass(frozen=True)
class _Starting(Exception):
    """The API server / webserver answered that it is not serving yet (502/503/504)."""


@dataclass(frozen=True)
class RestCall:
    """One validated InvokeRestApi request."""

    method: str
    path: str  # percent-encoded, below the REST prefix, never leaving it
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None  # sent as JSON for PUT/POST/PATCH


@dataclass
class RestLimits:
    timeout: float = 10.0  # MWAA: "automatically terminated" after 10 s
    max_reply: int = 6 * 1024 * 1024  # MWAA: "cannot exceed 6 MB"


def parse_call(doc: Any) -> RestCall:
    """The InvokeRestApi body botocore sends -> a :class:`RestCall`; raises
    :class:`InvalidRequest` naming the member."""
    if not isinstance(doc, dict):
        raise InvalidRequest("the request body must be a JSON object")
    method = doc.get("Method")
    if method not in METHODS:
        raise InvalidRequest(
            f"1 validation error detected: Value '{str(method)[:20]}' at 'method' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(METHODS)}]"
        )
    path = doc.get("Path")
    if not isinstance(path, str) or not path:
        raise InvalidRequest("Path: a string such as /dags is required")
    query = doc.get("QueryParameters")
    if query is not None and not isinstance(query, dict):
        raise InvalidRequest("QueryParameters must be a JSON object")
    body = doc.get("Body")
    if body is not None and not isinstance(body, dict):
        raise InvalidRequest("Body must be a JSON object")
    pairs = encode_query(query or {})
    size = len(urlencode(pairs))
    if size > MAX_QUERY:
        raise InvalidRequest(
            f"QueryParameters encode to {size} bytes; at most {MAX_QUERY} fit in a request "
            "line: ask for less (limit/offset), or send a Body with POST"
        )
    return RestCall(
        method=method,
        path=confine_path(path),
        query=pairs,
        body=(body if body is not None else {}) if method in _WITH_BODY else None,
    )


def confine_path(path: str) -> str:
    """``path`` as a percent-encoded path that stays below the REST prefix: no scheme or
    host, query, fragment, backslash, control character or dot segment, even
    percent-encoded (``%2e%2e``, ``%2f``, ``%0d%0a``)."""
    if not path.startswith("/"):
        raise InvalidRequest(f"Path must start with '/' (as in /dags), not {path[:40]!r}")
    decoded = unquote(path)
    bad = next((ch for ch in decoded if ch in "?#\\" or ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        raise InvalidRequest(
            f"Path holds {bad!r}: give query parameters in QueryParameters, and no control "
            "characters"
        )
    segments = decoded.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        raise InvalidRequest("Path must not hold '.' or '..' segments")
    if decoded.startswith("//"):
        raise InvalidRequest("Path must be a path below the REST API, not a URL")
    return "/" + "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in segments)


def encode_query(query: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """QueryParameters as Airflow reads them: lists as repeated keys, booleans as
    ``true``/``false``, nulls left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        for one in value if isinstance(value, list) else [value]:
            if one is None:
                continue
            if isinstance(one, bool):
                pairs.append((key, "true" if one else "false"))
            elif isinstance(one, (int, float, str)):
                pairs.append((key, str(one)))
            else:
                raise InvalidRequest(
                    f"QueryParameters.{key}: give a string, number, boolean or a list of them"
                )
    return tuple(pairs)


class AirflowRestApi:
    """The environment's Airflow REST API at ``base_url`` (loopback), called as a role."""

    def __init__(
        self,
        base_url: str,
        prefix: str,
        major: int,
        passwords: Callable[[], dict[str, str]],
        limits: RestLimits | None = None,
    ) -> None:
        self.base_url, self.prefix, self.major = base_url.rstrip("/"), prefix, major
        self.passwords = passwords
        self.limits = limits or RestLimits()
        self._http: httpx.AsyncClient | None = None
        self._jwts: dict[str, tuple[str, float]] = {}  # user -> (token, fetched at)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # loopback only: no proxies from the environment, no redirects followed
            # the call's own limit applies (call()), not httpx's default 5 s
            self._http = httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=self.limits.timeout + 1
            )
        return self._http

    async def call(self, role: str, call: RestCall) -> tuple[int, Any]:
        """Airflow's (status, JSON reply); raises :class:`CallFailed` when there is none."""
        try:
            return await asyncio.wait_for(self._call(role, call), self.limits.timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise CallFailed(
                504,
                "Gateway Timeout",
                f"Airflow's REST API did not answer within {self.limits.timeout:g} s "
                "(MWAA ends an InvokeRestApi call after 10 s; a starting environment's API "
                "server takes a little longer)",
            ) from None
        except httpx.TransportError as exc:
            raise CallFailed(
                502,
                "Bad Gateway",
                f"Airflow's API server broke off the call ({type(exc).__name__}); see the "
                "environment's logs",
            ) from None

    async def _call(self, role: str, call: RestCall) -> tuple[int, Any]:
        user = ROLES[role]
        retry_until = time.monotonic() + 0.7 * self.limits.timeout
        while True:
            try:
                status, raw = await self._send(user, call)
                break
            except httpx.ConnectError:
                # nothing was sent: the API server is starting (or restarting) - wait for it
                # within the call's time limit rather than fail at once
                await asyncio.sleep(0.25)
        if status == 401 and user is not None and self.major >= 3:
            self._jwts.pop(user, None)  # expired or the API server restarted: log in again
            status, raw = await self._send(user, call)
        for pause in DB_ERROR_RETRIES:
            if not _rolled_back(status, raw) or time.monotonic() + pause > retry_until:
                break
            await asyncio.sleep(pause)
            status, raw = await self._send(user, call)
        return status, _json_or_text(raw)

    async def _send(self, user: str | None, call: RestCall) -> tuple[int, bytes]:
        headers = {"accept": "application/json"}
        if user is not None:
            if self.major >= 3:
                headers["authorization"] = f"Bearer {await self.jwt(user)}"
            else:
                pair = f"{user}:{self.passwords()[user]}".encode()
                headers["authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        self.http.cookies.clear()  # never carry one caller's session into another's call
        request = self.http.build_request(
            call.method,
            f"{self.base_url}{self.prefix}{call.path}",
            params=list(call.query),
            json=call.body if call.body is not None else None,
            headers=headers,
        )
        response = await self.http.send(request, stream=True)
        try:
            return response.status_code, await self._read_capped(response)
        finally:
            await response.aclose()

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.limits.max_reply:
                raise CallFailed(
                    502,
                    "Bad Gateway",
                    f"Airflow's reply exceeds {self.limits.max_reply} bytes (MWAA's limit is "
                    "6 MB): ask for less, e.g. with limit/offset",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def login_cookie(self, role: str) -> tuple[str, str]:
        """A logged-in web session of ``role``'s user: the cookie Airflow's UI and REST API
        accept - ``_token`` (a JWT, Airflow 3) or Flask's ``session`` (Airflow 2). While the
        API server / webserver (re)starts, waits for it within the time limit instead of
        failing at once."""
        user = ROLES[role]
        if user is None:
            raise CallFailed(403, "Forbidden", "the Public role cannot log in")
        deadline = time.monotonic() + self.limits.timeout
        while True:
            try:
                if self.major >= 3:
                    return "_token", await self.jwt(user, fresh=True)
                return "session", await self._form_login(user)
            except (httpx.ConnectError, _Starting) as exc:
                if time.monotonic() >= deadline:
                    raise CallFailed(
                        503,
                        "Service Unavailable",
                        f"Airflow's {'API server' if self.major >= 3 else 'webserver'} is not "
                        f"answering ({type(exc).__name__}); it may be restarting: try again",
                    ) from None
                await asyncio.sleep(0.25)

    async def _form_login(self, user: str) -> str:
        """Airflow 2: log in through its own login form, as a browser would."""
        async with httpx.AsyncClient(trust_env=False, timeout=self.limits.timeout) as web:
            page = await web.get(f"{self.base_url}/login/")
            if page.status_code in (502, 503, 504):  # gunicorn's workers are starting
                raise _Starting(str(page.status_code))
            match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
            if match is None:
                raise CallFailed(502, "Bad Gateway", "Airflow's login page has no CSRF token")
            done = await web.post(
                f"{self.base_url}/login/",
                data={
                    "username": user,
                    "password": self.passwords()[user],
                    "csrf_token": match.group(1),
                },
            )
            session = web.cookies.get("session")
            if (
                done.status_code >= 400
                or session is None
                or "/login" in done.headers.get("location", "/login")
            ):
                raise CallFailed(502, "Bad Gateway", f"logging in to Airflow as {user} failed")
            return session

    async def jwt(self, user: str, fresh: bool = False) -> str:
        """A JWT of ``user`` from Airflow 3's ``POST /auth/token`` (cached 10 minutes)."""
        cached = None if fresh else self._jwts.get(user)
        if cached and time.monotonic() - cached[1] < 600:
            return cached[0]
        self.http.cookies.clear()
        response = await self.http.post(
            f"{self.base_url}/auth/token",
            json={"username": user, "password": self.passwords()[user]},
        )
        if response.status_code in (502, 503, 504):
            raise _Starting(str(response.status_code))
        if response.status_code >= 300:
            raise CallFailed(
                502,
                "Bad Gateway",
                f"logging in to Airflow as {user} failed ({response.status_code})",
            )
        token = response.json()["access_token"]
        self._jwts[user] = (token, time.monotonic())
        return token

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _rolled_back(status: int, raw: bytes) -> bool:
    """Airflow 3's answer to a database error: nothing of the call was committed."""
    if status != 500 or b"Database error" not in raw:
        return False
    try:
        return json.loads(raw).get("reason") == "Database error"
    except (ValueError, AttributeError):
        return False


def _json_or_text(raw: bytes) -> Any:
    """Airflow's reply as JSON; an empty reply (204) as ``{}``, anything else as text."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
