"""Airflow's REST API through MWAA's InvokeRestApi (the same boto3 call against real MWAA
and a local environment): one status-carrying reply, typed errors, offset/limit paging."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ExitStatus, MwaaError, ProtocolError
from ..in_flight import mark_sent

if TYPE_CHECKING:
    from .control_plane import ControlPlane

METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
PAGE_SIZE = 100  # Airflow's default maximum page


@dataclass(frozen=True)
class RestReply:
    """A 2xx answer of Airflow's REST API: its status code and JSON body."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400


class RestApiError(MwaaError):
    """Airflow answered with an error (``status`` 4xx or 5xx, ``body`` its JSON).

    MWAA raises RestApiClientException for Airflow's 4xx and RestApiServerException for
    5xx; ``mwaa api`` exits 1 for the first (the call was refused: fix the call) and 70
    for the second."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        super().__init__(f"{method} {path}: {status} {describe(body)}")

    @property
    def exit_status(self) -> int:  # type: ignore[override]
        return ExitStatus.COMMAND_FAILED if self.status < 500 else ExitStatus.SERVER_ERROR


class RestClientError(RestApiError):
    """Airflow 4xx (MWAA's RestApiClientException): not found, forbidden to the role,
    invalid input."""


class RestServerError(RestApiError):
    """Airflow 5xx (MWAA's RestApiServerException), or no answer within MWAA's limits."""


def describe(body: Any) -> str:
    """Airflow's error body in one line: its title and detail (or the text it sent)."""
    if isinstance(body, dict):
        detail = body.get("detail", body.get("error", body.get("message", "")))
        if isinstance(detail, (list, dict)):
            detail = json.dumps(detail, separators=(",", ":"))[:400]
        title = body.get("title")
        return ": ".join(str(part) for part in (title, detail) if part) or json.dumps(body)[:400]
    return str(body)[:400]


def invoke(
    control_plane: ControlPlane,
    env: str,
    method: str,
    path: str,
    query: Mapping[str, Any] | None = None,
    body: Any = None,
) -> RestReply:
    """One InvokeRestApi call; raises :class:`RestClientError`/:class:`RestServerError` for
    Airflow's errors and :mod:`mwaa_cli.errors` types for MWAA's own."""
    method = method.upper()
    if method not in METHODS:
        raise ConfigError(f"method {method!r}: use one of {', '.join(METHODS)}")
    if not path.startswith("/"):
        path = "/" + path
    params: dict[str, Any] = {"Name": env, "Path": path, "Method": method}
    if query:
        params["QueryParameters"] = dict(query)
    if body is not None:
        if not isinstance(body, dict):
            raise ConfigError(
                "the body must be a JSON object (MWAA's InvokeRestApi takes no other)"
            )
        params["Body"] = body
    if method != "GET":
        mark_sent(f"{method} {path}")
    try:
        reply = control_plane.call("invoke_rest_api", **params)
    except _RestException as exc:
        cls = RestClientError if exc.status < 500 else RestServerError
        raise cls(method, path, exc.status, exc.body) from None
    if "RestApiStatusCode" not in reply:
        raise ProtocolError("InvokeRestApi reply lacks RestApiStatusCode")
    return RestReply(int(reply["RestApiStatusCode"]), reply.get("RestApiResponse"))


class _RestException(MwaaError):
    """Raised by :meth:`ControlPlane.call` for MWAA's RestApiClient/ServerException."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}")
        self.status, self.body = status, body


def list_key(body: Any) -> str | None:
    """The member of a list endpoint's reply that holds the items (``dags``, ``dag_runs``…)."""
    if not isinstance(body, dict) or "total_entries" not in body:
        return None
    keys = [key for key, value in body.items() if isinstance(value, list)]
    return keys[0] if len(keys) == 1 else None


def pages(
    control_plane: ControlPlane, env: str, path: str, query: Mapping[str, Any] | None = None
) -> Iterator[RestReply]:
    """Every page of a GET list endpoint, by Airflow's ``offset``/``limit``."""
    query = dict(query or {})
    offset = int(query.pop("offset", 0) or 0)
    limit = int(query.pop("limit", PAGE_SIZE) or PAGE_SIZE)
    while True:
        reply = invoke(control_plane, env, "GET", path, {**query, "offset": offset, "limit": limit})
        yield reply
        key = list_key(reply.body)
        if key is None:
            return
        count = len(reply.body[key])
        offset += count
        if count == 0 or offset >= int(reply.body["total_entries"]):
            return


def merged(replies: Iterator[RestReply]) -> RestReply:
    """The pages of a list endpoint as one reply holding every item."""
    first: RestReply | None = None
    items: list = []
    key = None
    for reply in replies:
        if first is None:
            first, key = reply, list_key(reply.body)
            if key is None:
                return reply  # not a list endpoint: the one reply
        items += reply.body[key]
    assert first is not None and key is not None
    return RestReply(first.status, {**first.body, key: items})
