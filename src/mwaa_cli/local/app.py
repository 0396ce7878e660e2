"""The local environment's HTTP endpoint: MWAA's control plane and its CLI data plane.

Routing, validation and error -> HTTP status only; commands run in the executor.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..commands import Allowlist
from ..errors import CommandNotAllowed
from ..wire import (
    CLI_PATH,
    CLI_PATH_V3,
    CliReply,
    WireError,
    decode_command,
    encode_reply,
    is_valid_env_name,
)
from .auth import AuthFailure, SigV4Verifier
from .executor import Busy, Execution, ExecutorError
from .metadata_db import MetadataUnavailable
from .tokens import TokenRejected, TokenSigner

log = logging.getLogger("mwaa_cli.local")
audit = logging.getLogger("mwaa_cli.local.audit")

MAX_BODY = 256 * 1024  # bytes of command line accepted by the CLI endpoint


@dataclass
class EnvironmentInfo:
    """What GetEnvironment says about the one environment this server emulates."""

    name: str
    airflow_version: str
    webserver_hostname: str  # bare host:port, like MWAA's
    created_at: float
    region: str = "us-east-1"
    account: str = "000000000000"
    airflow_ui_url: str | None = None
    status: str = "AVAILABLE"
    access_mode: str = "PUBLIC_ONLY"  # what it reports; it is reachable either way

    @property
    def arn(self) -> str:
        return f"arn:aws:airflow:{self.region}:{self.account}:environment/{self.name}"

    def describe(self) -> dict:
        return {
            "Name": self.name,
            "Arn": self.arn,
            "Status": self.status,
            "AirflowVersion": self.airflow_version,
            "WebserverUrl": self.webserver_hostname,
            "WebserverAccessMode": self.access_mode,
            "CreatedAt": self.created_at,
            "EnvironmentClass": "mw1.local",
            "ExecutionRoleArn": f"arn:aws:iam::{self.account}:role/mwaa-local",
            "DagS3Path": "dags",
            "MinWorkers": 1,
            "MaxWorkers": 1,
            "MinWebservers": 1,
            "MaxWebservers": 1,
            "Schedulers": 1,
            "EndpointManagement": "SERVICE",
            "AirflowConfigurationOptions": {},
            "Tags": {"mwaa-cli:local": "true"},
            "LastUpdate": {"Status": "SUCCESS", "CreatedAt": self.created_at},
        }


@dataclass
class LocalApp:
    """Builds the Starlette app for one environment."""

    env: EnvironmentInfo
    signer: TokenSigner
    run_command: Callable[[list[str]], Execution]
    allowlist: Allowlist = field(default=None)  # type: ignore[assignment]
    verifier: SigV4Verifier | None = None  # None: control plane unauthenticated (tests only)
    preflight: Callable[[], None] | None = None  # raises MetadataUnavailable
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.allowlist is None:
            self.allowlist = Allowlist.for_version(self.env.airflow_version)
        if self.verifier is not None:  # the same key pair signs STS calls (service "sts")
            self._sts_verifier = SigV4Verifier(
                list(self.verifier.keys), self.verifier.region, "sts"
            )

    # -- control plane (rest-json, as botocore sends it) -------------------------------

    def _aws_error(self, status: int, code: str, message: str) -> JSONResponse:
        key = "Message" if code == "AccessDeniedException" else "message"
        return JSONResponse({key: message}, status_code=status, headers={"x-amzn-ErrorType": code})

    async def _verify(self, request: Request, verifier: SigV4Verifier) -> AuthFailure | None:
        """None when the request carries a valid SigV4 signature for ``verifier``."""
        body = await request.body()
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = f"{request.url.scheme}://{request.headers.get('host', '')}{raw_path.decode()}"
        if query:
            url += "?" + query.decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            request.state.access_key_id = verifier.verify(request.method, url, headers, body)
        except AuthFailure as exc:
            log.warning("refused %s %s: %s", request.method, request.url.path, exc.code)
            return exc
        return None

    async def _authenticate(self, request: Request) -> JSONResponse | None:
        """None when the request carries a valid SigV4 signature, else the AWS error."""
        if self.verifier is None:
            return None
        failure = await self._verify(request, self.verifier)
        if failure is None:
            return None
        return self._aws_error(failure.status, failure.code, failure.message)

    async def _lookup(self, request: Request) -> JSONResponse | None:
        """Authenticate, then check the {name} path parameter names this environment."""
        if (error := await self._authenticate(request)) is not None:
            return error
        name = request.path_params["name"]
        if not is_valid_env_name(name):
            return self._aws_error(
                400,
                "ValidationException",
                f"1 validation error detected: Value '{name[:100]}' at 'name' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "^[a-zA-Z][0-9a-zA-Z-_]*$ and have length between 1 and 80",
            )
        if name != self.env.name:
            return self._aws_error(
                404, "ResourceNotFoundException", f"Environment {name} not found"
            )
        return None

    async def create_cli_token(self, request: Request) -> Response:
        name = request.path_params["name"]
        if (error := await self._lookup(request)) is not None:
            return error
        return JSONResponse(
            {"CliToken": self.signer.issue(name), "WebServerHostname": self.env.webserver_hostname}
        )

    async def create_web_login_token(self, request: Request) -> Response:
        name = request.path_params["name"]
        if (error := await self._lookup(request)) is not None:
            return error
        return JSONResponse(
            {
                "WebToken": self.signer.issue(name),
                "WebServerHostname": self.env.airflow_ui_url or self.env.webserver_hostname,
                "IamIdentity": "local",
                "AirflowIdentity": "admin",
            }
        )

    async def get_environment(self, request: Request) -> Response:
        if (error := await self._lookup(request)) is not None:
            return error
        return JSONResponse({"Environment": self.env.describe()})

    async def list_environments(self, request: Request) -> Response:
        if (error := await self._authenticate(request)) is not None:
            return error
        raw = request.query_params.get("MaxResults")
        if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= 25):
            return self._aws_error(
                400, "ValidationException", "MaxResults must be an integer between 1 and 25"
            )
        if request.query_params.get("NextToken"):
            return self._aws_error(400, "ValidationException", "invalid NextToken")
        return JSONResponse({"Environments": [self.env.name]})

    async def sts(self, request: Request) -> Response:
        """STS GetCallerIdentity (query protocol), so that identity checks work locally."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        action = (form.get("Action") or [""])[0]
        if action != "GetCallerIdentity":
            return _sts_error(400, "InvalidAction", f"{action[:50]!r} is not supported here")
        if self.verifier is not None:
            failure = await self._verify(request, self._sts_verifier)
            if failure is not None:  # STS spells some of the codes differently
                code = failure.code.removesuffix("Exception")
                code = _STS_CODES.get(code, code)
                return _sts_error(failure.status, code, failure.message)
        key_id = getattr(request.state, "access_key_id", "AKIAUNSIGNED")
        account = self.env.account
        body = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<GetCallerIdentityResult>"
            f"<Arn>arn:aws:iam::{account}:user/mwaa-local-{escape(self.env.name)}</Arn>"
            f"<UserId>{escape(key_id)}</UserId><Account>{account}</Account>"
            "</GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        )
        return Response(body, media_type="text/xml")

    # -- data plane ----------------------------------------------------------------------

    async def cli(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _cli_error(403, "Forbidden", "missing 'Authorization: Bearer <CLI token>'")
        try:
            claims = self.signer.verify(token.strip(), self.env.name)
        except TokenRejected as exc:
            return _cli_error(403, "Forbidden", str(exc))
        body = await _read_capped(request, MAX_BODY)
        if body is None:
            return _cli_error(413, "PayloadTooLarge", f"the command exceeds {MAX_BODY} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _cli_error(400, "BadRequest", "the command is not valid UTF-8")
        if "\x00" in text:
            return _cli_error(400, "BadRequest", "the command contains a NUL byte")
        try:
            argv = decode_command(text)
            self.allowlist.command_of(argv)
        except (WireError, CommandNotAllowed) as exc:
            code = "CommandNotAllowed" if isinstance(exc, CommandNotAllowed) else "BadRequest"
            return _cli_error(400, code, str(exc))
        try:
            if self.preflight is not None:
                await run_in_threadpool(self.preflight)
            result = await run_in_threadpool(self.run_command, argv)
        except MetadataUnavailable as exc:
            log.error("not running %s: %s", json.dumps(argv), exc)
            return _cli_error(503, "MetadataDatabaseUnavailable", str(exc))
        except Busy as exc:
            return _cli_error(
                503, "ServiceUnavailable", f"too many CLI commands at once ({exc}); retry later"
            )
        except ExecutorError as exc:
            log.error("executor failure for %s: %s", json.dumps(argv), exc)
            return _cli_error(500, "ExecutorError", f"the command could not complete: {exc}")
        audit.info(
            "env=%s token_id=%s argv=%s exit_code=%s duration_ms=%d",
            self.env.name,
            claims.token_id,
            json.dumps(argv),
            result.exit_code,
            result.duration * 1000,
        )
        reply = CliReply(result.stdout, result.stderr, result.exit_code)
        if self.stopping.is_set() and result.exit_code < 0:
            return _reply_with_error(
                reply,
                503,
                "ServerStopping",
                "the local environment is stopping: the command was killed before it "
                "finished (commands before it are unaffected)",
            )
        if result.timed_out:
            return _reply_with_error(
                reply,
                504,
                "Timeout",
                f"the command ran past {result.duration:.0f} s and was stopped",
            )
        return Response(encode_reply(reply), media_type="application/json")

    # -- assembly ------------------------------------------------------------------------

    def build(self) -> Starlette:
        routes = [
            Route("/clitoken/{name:path}", self.create_cli_token, methods=["POST"]),
            Route("/webtoken/{name:path}", self.create_web_login_token, methods=["POST"]),
            Route("/environments/{name:path}", self.get_environment, methods=["GET"]),
            Route("/environments", self.list_environments, methods=["GET"]),
            Route("/", self.sts, methods=["POST"]),
            Route(CLI_PATH, self.cli, methods=["POST"]),
            Route(CLI_PATH_V3, self.cli, methods=["POST"]),
        ]
        return Starlette(
            routes=routes,
            exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        )


_STS_CODES = {
    "UnrecognizedClient": "InvalidClientTokenId",
    "InvalidSignature": "SignatureDoesNotMatch",
}


def _sts_error(status: int, code: str, message: str) -> Response:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(body, status_code=status, media_type="text/xml")


def _reply_with_error(reply: CliReply, status: int, code: str, message: str) -> JSONResponse:
    """The command's streams (it did run, partly) with an error status and reason."""
    doc = json.loads(encode_reply(reply))
    doc.update(error=code, message=message)
    return JSONResponse(doc, status_code=status)


def _cli_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "UnknownOperationException", 405: "MethodNotAllowed"}.get(
        exc.status_code, "BadRequest"
    )
    return JSONResponse(
        {"message": f"{request.method} {request.url.path}: {exc.detail}"},
        status_code=exc.status_code,
        headers={"x-amzn-ErrorType": code},
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"message": "internal error; see the server log"},
        status_code=500,
        headers={"x-amzn-ErrorType": "InternalServerException"},
    )
