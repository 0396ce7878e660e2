"""InvokeRestApi (``POST /restapi/{Name}``, SigV4): the environment's Airflow REST API through
MWAA's control plane, with MWAA's reply and error shapes.

- Airflow 2xx (and 3xx) -> ``200 {RestApiStatusCode, RestApiResponse}``
- Airflow 4xx -> ``400 RestApiClientException``, 5xx -> ``400 RestApiServerException``,
  both carrying ``RestApiStatusCode`` and Airflow's JSON body (botocore raises its modelled
  exceptions from them, as from MWAA)
- no answer within 10 s, or a reply over 6 MB -> ``RestApiServerException`` with 504 / 502
- what botocore does not validate (Method, Body/QueryParameters objects, Name, a Path that
  would leave ``/api/vN``) -> ``400 ValidationException``

The Airflow role the call runs as is the caller's key's (``--rest-role``, Admin by default);
``none`` answers MWAA's AccessDeniedException naming the role, which is what sends Amazon's
provider to its web-login fallback.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..airflow_rest import CallFailed, InvalidRequest, parse_call
from .control_plane import validate_name, verify_sigv4
from .errors import AwsError

if TYPE_CHECKING:
    from . import LocalApp

log = logging.getLogger("mwaa_cli.local")

FIRST_VERSION = (2, 4, 3)  # MWAA: InvokeRestApi "for environments running v2.4.3 and later"


def routes(app: LocalApp) -> list[Route]:
    async def invoke_rest_api(request: Request) -> Response:
        body = await verify_sigv4(request, app, app.verifier)
        app.authorize(request, "InvokeRestApi")
        name = validate_name(request.path_params["name"])
        if name != app.env.name:
            raise AwsError(404, "ResourceNotFoundException", f"Environment {name} not found")
        if _version(app.env.airflow_version) < FIRST_VERSION:
            raise AwsError(
                400, "ValidationException", "Update your environment to use InvokeRestApi"
            )
        try:
            call = parse_call(json.loads(body or b"{}"))
        except (ValueError, RecursionError) as exc:  # InvalidRequest, or JSON that won't parse
            message = str(exc) if isinstance(exc, InvalidRequest) else "the body is not JSON"
            raise AwsError(400, "ValidationException", message) from None
        role = app.rest_role_of(getattr(request.state, "access_key_id", None))
        if role is None:
            raise AwsError(
                403,
                "AccessDeniedException",
                f"User: local is not authorized to perform: airflow:InvokeRestApi on resource: "
                f"{app.env.role_arn('Admin')} (no Airflow role is allowed to this caller; "
                "start the environment with --rest-role ROLE)",
            )
        if app.rest is None:
            failed = CallFailed(
                503,
                "Service Unavailable",
                "this environment runs without Airflow's components (--no-scheduler): "
                "there is no REST API to call",
            )
            raise _rest_error(failed.status, failed.body())
        try:
            status, reply = await app.rest.call(role, call)
        except CallFailed as exc:
            log.warning("InvokeRestApi %s %s: %s", call.method, call.path, exc.detail)
            raise _rest_error(exc.status, exc.body()) from None
        log.info("InvokeRestApi %s %s as %s -> %d", call.method, call.path, role, status)
        if status >= 400:
            raise _rest_error(status, reply)
        return JSONResponse({"RestApiStatusCode": status, "RestApiResponse": reply})

    return [Route("/restapi/{name:path}", invoke_rest_api, methods=["POST"])]


def _rest_error(status: int, reply: object) -> AwsError:
    code = "RestApiClientException" if status < 500 else "RestApiServerException"
    return AwsError(400, code, "", RestApiStatusCode=status, RestApiResponse=reply)


def _version(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
