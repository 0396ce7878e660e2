"""Errors of the local endpoint: raised anywhere in a handler, rendered here, once per protocol.

- :class:`AwsError`: the control plane (rest-json): status, ``x-amzn-ErrorType`` and a JSON
  body with ``message`` (``Message`` for AccessDeniedException), plus modelled members
  (``RestApiStatusCode``...), as botocore parses them.
- :class:`StsError`: STS's query protocol, an XML ``ErrorResponse``.
- :class:`CliError`: the CLI data plane, ``{"error", "message"}`` (with the command's streams
  when it ran, partly).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from xml.sax.saxutils import escape

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("mwaa_cli.local")


class ApiError(Exception):
    """An error reply: ``status``, a machine-readable ``code`` and a human ``message``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers: dict[str, str] = {}

    def response(self) -> Response:  # pragma: no cover - every subclass renders itself
        raise NotImplementedError


class AwsError(ApiError):
    def response(self) -> Response:
        key = "Message" if self.code == "AccessDeniedException" else "message"
        return JSONResponse(
            {key: self.message, **self.extra},
            status_code=self.status,
            headers={"x-amzn-ErrorType": self.code, **self.headers},
        )


class StsError(ApiError):
    def response(self) -> Response:
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>Sender</Type><Code>{escape(self.code)}</Code>"
            f"<Message>{escape(self.message)}</Message>"
            f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        return Response(body, status_code=self.status, media_type="text/xml")


class CliError(ApiError):
    """``extra`` may carry ``reply``: the encoded streams of a command that did run."""

    def response(self) -> Response:
        reply = self.extra.get("reply")
        doc = json.loads(reply) if reply is not None else {}
        doc.update(error=self.code, message=self.message)
        return JSONResponse(doc, status_code=self.status, headers=self.headers)


class Disconnected(Exception):
    """The client went away before sending its whole request."""


async def render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def render_disconnect(request: Request, exc: Exception) -> Response:
    client = request.client.host if request.client else "?"
    log.warning(
        "%s %s: the client (%s) disconnected before sending its whole request",
        request.method,
        request.url.path,
        client,
    )
    return Response(status_code=400)  # nobody is listening; keeps the server's books tidy


async def render_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "UnknownOperationException", 405: "MethodNotAllowed"}.get(
        exc.status_code, "BadRequest"
    )
    return AwsError(
        exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}"
    ).response()


async def render_internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return AwsError(500, "InternalServerException", "internal error; see the server log").response()


def exception_handlers() -> dict:
    return {
        ApiError: render_api_error,
        Disconnected: render_disconnect,
        HTTPException: render_http_error,
        Exception: render_internal_error,
    }
