"""MWAA's control plane as botocore sends it (rest-json, SigV4): tokens and environments."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...wire import is_valid_env_name
from ..airflow_rest import ROLES
from ..auth import AuthFailure, SigV4Verifier
from ..policies import web_login_role
from .bodies import read_body
from .errors import AwsError

if TYPE_CHECKING:
    from . import LocalApp

log = logging.getLogger("mwaa_cli.local")
_DIGITS = re.compile(r"[0-9]{1,9}")


async def verify_sigv4(
    request: Request, app: LocalApp, verifier: SigV4Verifier | None, error=AwsError
) -> bytes:
    """The request's body, once its SigV4 signature has been checked against ``verifier``
    (None: unauthenticated, in tests); raises ``error`` with AWS's code otherwise."""
    body = await read_body(
        request, limit=app.limits.control_body, timeout=app.limits.body_timeout, error=error
    )
    if verifier is None:
        return body
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    url = f"{request.url.scheme}://{request.headers.get('host', '')}{raw_path.decode()}"
    if query:
        url += "?" + query.decode()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        key = verifier.verify(request.method, url, headers, body)
    except AuthFailure as exc:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc.code)
        raise error(exc.status, exc.code, exc.message) from None
    request.state.signed_with = key  # AssumeRole's temporary key, or a long-term one
    # what the caller may do is what the long-term key it acts as may do
    request.state.access_key_id = effective_key(verifier, getattr(app, "key_names", {}), key)
    return body


def effective_key(verifier, key_names: dict[str, str], key: str) -> str:
    """The long-term key whose permissions ``key`` has: itself, or for AssumeRole's
    temporary credentials the role key they act as (else the key they were assumed with)."""
    sessions = getattr(verifier, "sessions", None)
    session = sessions.get(key) if sessions is not None else None
    if session is None:
        return key
    if session.key_name is not None:
        for long_term, name in key_names.items():
            if name == session.key_name:
                return long_term
    return session.parent


def validate_name(name: str) -> str:
    if not is_valid_env_name(name):
        raise AwsError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{name[:100]}' at 'name' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z][0-9a-zA-Z-_]*$ and have length between 1 and 80",
        )
    return name


def routes(app: LocalApp) -> list[Route]:
    async def lookup(request: Request, operation: str) -> str:
        """Authenticate and authorize, then check that the {name} path parameter names this
        environment."""
        await verify_sigv4(request, app, app.verifier)
        app.authorize(request, operation)
        name = validate_name(request.path_params["name"])
        if name != app.env.name:
            raise AwsError(404, "ResourceNotFoundException", f"Environment {name} not found")
        return name

    async def create_cli_token(request: Request) -> Response:
        name = await lookup(request, "CreateCliToken")
        return JSONResponse(
            {"CliToken": app.signer.issue(name), "WebServerHostname": app.env.webserver_hostname}
        )

    async def create_web_login_token(request: Request) -> Response:
        name = await lookup(request, "CreateWebLoginToken")
        key = getattr(request.state, "access_key_id", None)
        # a role key logs in as its role; the environment's own key and the "web-login" key
        # (web server access without airflow:InvokeRestApi: what Amazon's provider falls
        # back to) as Admin
        role = web_login_role(app.key_names.get(key or ""))
        if ROLES[role] is None:
            raise AwsError(
                403,
                "AccessDeniedException",
                f"User: {key or 'local'} is not authorized to perform: "
                f"airflow:CreateWebLoginToken on resource: {app.env.role_arn(role)} (the "
                "Public role cannot log in)",
            )
        return JSONResponse(
            {
                "WebToken": app.signer.issue(name, use="web", role=role),
                "WebServerHostname": app.env.webserver_hostname,
                "IamIdentity": f"arn:aws:iam::{app.env.account}:user/{key or 'local'}",
                "AirflowIdentity": f"assumed-role/{ROLES[role]}",
            }
        )

    async def get_environment(request: Request) -> Response:
        await lookup(request, "GetEnvironment")
        return JSONResponse({"Environment": app.env.describe()})

    async def list_environments(request: Request) -> Response:
        await verify_sigv4(request, app, app.verifier)
        app.authorize(
            request,
            "ListEnvironments",
            f"arn:aws:airflow:{app.env.region}:{app.env.account}:environment/*",
        )
        raw = request.query_params.get("MaxResults")
        if raw is not None and (not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 25):
            raise AwsError(
                400, "ValidationException", "MaxResults must be an integer between 1 and 25"
            )
        if request.query_params.get("NextToken"):
            raise AwsError(400, "ValidationException", "invalid NextToken")
        return JSONResponse({"Environments": [app.env.name]})

    return [
        Route("/clitoken/{name:path}", create_cli_token, methods=["POST"]),
        Route("/webtoken/{name:path}", create_web_login_token, methods=["POST"]),
        Route("/environments/{name:path}", get_environment, methods=["GET"]),
        Route("/environments", list_environments, methods=["GET"]),
    ]
