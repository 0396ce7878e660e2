"""The region's endpoint: MWAA's control plane for many environments.

Lifecycle, tags and listing are answered here from the registry; CreateCliToken,
CreateWebLoginToken and InvokeRestApi go on, signature and all, to the environment's own
server (its web server host), which checks the signature again with the same keys and issues
tokens bound to that environment alone.
"""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api import Limits, RejectControlCharacters
from ..api import sts as sts_routes
from ..api.control_plane import validate_name, verify_sigv4
from ..api.errors import AwsError, exception_handlers
from ..api.request_id import RequestId
from ..auth import SigV4Verifier
from ..policies import authorize
from . import model
from .registry import Registry

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}
_PASSED_BACK = ("content-type", "x-amzn-errortype", "x-amzn-requestid", "retry-after")


@dataclass
class RegionApp:
    registry: Registry
    verifier: SigV4Verifier
    ca_file: str  # the region's CA: what its children's certificates are signed by
    limits: Limits = field(default_factory=Limits)
    key_names: dict[str, str] = field(default_factory=dict)  # role keys: access key -> name

    def __post_init__(self) -> None:
        self.sts_verifier = SigV4Verifier(
            list(self.verifier.keys), self.verifier.region, "sts", self.verifier.sessions
        )
        self.env = SimpleNamespace(account=self.registry.account, name="region")
        self._client: httpx.AsyncClient | None = None

    def authorize(self, request: Request, operation: str, resource: str | None = None) -> None:
        """AccessDeniedException unless the caller's key may call ``operation``."""
        authorize(
            self.key_names,
            getattr(request.state, "access_key_id", None),
            operation,
            resource or f"arn:aws:airflow:{self.registry.region}:{self.registry.account}:*",
            self.registry.account,
        )

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            context = ssl.create_default_context(cafile=self.ca_file)
            self._client = httpx.AsyncClient(verify=context, timeout=httpx.Timeout(90.0))
        return self._client

    def build(self) -> Starlette:
        routes = [*_routes(self), *sts_routes.routes(self)]  # type: ignore[arg-type]
        app = Starlette(routes=routes, exception_handlers=exception_handlers())
        app.add_middleware(RejectControlCharacters)
        app.add_middleware(RequestId)
        return app


def _json_object(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        doc = None
    if not isinstance(doc, dict):
        raise AwsError(400, "SerializationException", "the request body is not a JSON object")
    return doc


def _signed_again(app, request: Request, raw_path: str, query: str, body: bytes, headers):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = request.state.access_key_id
    host = request.headers.get("host", "")
    url = f"https://{host}{raw_path}" + (f"?{query}" if query else "")
    dropped = {"authorization", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256"}
    kept = {k: v for k, v in headers if k.lower() not in dropped}
    signed = AWSRequest(request.method, url, data=body, headers=kept)
    secret = app.verifier.secret_of(key)
    SigV4Auth(Credentials(key, secret), "airflow", app.verifier.region).add_auth(signed)
    return list(signed.headers.items())


def _next_token(token: str) -> str:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        return str(doc["after"])
    except (ValueError, KeyError, TypeError):
        raise AwsError(400, "ValidationException", "invalid NextToken") from None


def _routes(app: RegionApp) -> list[Route]:
    registry = app.registry

    async def signed(request: Request, operation: str, resource: str | None = None) -> bytes:
        body = await verify_sigv4(request, app, app.verifier)  # type: ignore[arg-type]
        app.authorize(request, operation, resource)
        return body

    def env_arn(name: str) -> str:
        return f"arn:aws:airflow:{registry.region}:{registry.account}:environment/{name}"

    async def environment(request: Request) -> Response:
        operation = {
            "GET": "GetEnvironment",
            "PUT": "CreateEnvironment",
            "PATCH": "UpdateEnvironment",
        }.get(request.method, "DeleteEnvironment")
        body = await signed(request, operation, env_arn(request.path_params["name"][:100]))
        name = validate_name(request.path_params["name"])
        if request.method == "GET":
            return JSONResponse({"Environment": registry.describe(name)})
        if request.method == "DELETE":
            registry.delete(name)
            return JSONResponse({})
        params = _json_object(body)
        params.pop("Name", None)
        if request.method == "PUT":
            return JSONResponse({"Arn": registry.create(name, params)})
        return JSONResponse({"Arn": registry.update(name, params)})

    async def list_environments(request: Request) -> Response:
        await signed(request, "ListEnvironments")
        raw = request.query_params.get("MaxResults")
        if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= 25):
            raise AwsError(
                400, "ValidationException", "MaxResults must be an integer between 1 and 25"
            )
        size = int(raw) if raw else 25
        names = registry.names()
        token = request.query_params.get("NextToken")
        if token:
            after = _next_token(token)
            names = [n for n in names if n > after]
        page = names[:size]
        reply: dict = {"Environments": page}
        if len(names) > size:
            reply["NextToken"] = (
                base64.urlsafe_b64encode(json.dumps({"after": page[-1]}).encode())
                .decode()
                .rstrip("=")
            )
        return JSONResponse(reply)

    async def tags(request: Request) -> Response:
        operation = {"GET": "ListTagsForResource", "POST": "TagResource"}.get(
            request.method, "UntagResource"
        )
        arn = request.path_params["arn"]
        body = await signed(request, operation, arn[:300])
        # an ARN the model's pattern refuses is a 400 ValidationException, as AWS answers it;
        # a well-formed one of no environment here is a 404
        others = tuple(m for m in model.input_shape(operation).members if m != "ResourceArn")
        model.check(operation, {"ResourceArn": arn}, skip=others)
        if request.method == "GET":
            return JSONResponse({"Tags": dict(registry.record_for_arn(arn).tags)})
        if request.method == "POST":
            params = _json_object(body)
            model.check("TagResource", params, skip=("ResourceArn",))
            registry.tag(arn, params["Tags"])
            return JSONResponse({})
        keys = request.query_params.getlist("tagKeys")
        if len(keys) > 50:
            raise AwsError(400, "ValidationException", "at most 50 tagKeys")
        registry.untag(arn, keys)
        return JSONResponse({})

    async def forward(request: Request) -> Response:
        """Tokens and REST calls: on to the environment's own server, as they came (which
        checks the signature, and the key's policy, again)."""
        operation = {"clitoken": "CreateCliToken", "webtoken": "CreateWebLoginToken"}.get(
            request.url.path.split("/")[1], "InvokeRestApi"
        )
        body = await signed(request, operation, env_arn(request.path_params["name"][:100]))
        name = validate_name(request.path_params["name"])
        port = registry.serving_port(name)
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode()
        query = request.scope.get("query_string", b"").decode()
        url = f"https://127.0.0.1:{port}{raw_path}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        if request.state.signed_with != request.state.access_key_id:
            # AssumeRole's credentials live here only: signed again with the key they act
            # as, which the environment knows (its permissions are the same)
            headers = _signed_again(app, request, raw_path, query, body, headers)
        try:
            reply = await app.client().request(request.method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise AwsError(
                500,
                "InternalServerException",
                f"environment {name}'s web server did not answer: {type(exc).__name__}",
            ) from None
        passed = {k: v for k, v in reply.headers.items() if k.lower() in _PASSED_BACK}
        return Response(reply.content, status_code=reply.status_code, headers=passed)

    async def health(request: Request) -> Response:
        # unsigned: says it is up, nothing about the environments (ListEnvironments does)
        return JSONResponse({"status": "ok"})

    return [
        Route("/environments/{name:path}", environment, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/environments", list_environments, methods=["GET"]),
        Route("/tags/{arn:path}", tags, methods=["GET", "POST", "DELETE"]),
        Route("/clitoken/{name:path}", forward, methods=["POST"]),
        Route("/webtoken/{name:path}", forward, methods=["POST"]),
        Route("/restapi/{name:path}", forward, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
