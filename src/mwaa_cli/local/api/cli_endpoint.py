"""The CLI data plane: ``POST /aws_mwaa/cli`` (and Airflow 3's ``/pluginsv2/aws_mwaa/cli``)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import CommandNotAllowed
from ...masking import mask_argv
from ...wire import CLI_PATH, CLI_PATH_V3, CliReply, WireError, decode_command, encode_reply
from ..cli_tokens import TokenRejected
from ..executor import Busy, ExecutorError
from ..metadata_db import MetadataUnavailable
from .bodies import read_body
from .cli_queue import QueueRefused
from .errors import CliError

if TYPE_CHECKING:
    from . import LocalApp

log = logging.getLogger("mwaa_cli.local")
audit = logging.getLogger("mwaa_cli.local.audit")


def _error(status: int, code: str, message: str) -> CliError:
    return CliError(status, code, message)


def _checked_run(app: LocalApp, command: str, argv: list[str]):
    """The pre-command check, then the command (one trip to a worker thread for both)."""
    if app.preflight is not None:
        app.preflight(command)
    return app.run_command(argv)


def routes(app: LocalApp) -> list[Route]:
    async def cli(request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or b""
        if raw_path not in (CLI_PATH.encode(), CLI_PATH_V3.encode()):  # e.g. /aws_mwaa%2fcli
            raise CliError(404, "NotFound", "not an MWAA CLI endpoint")
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CliError(403, "Forbidden", "missing 'Authorization: Bearer <CLI token>'")
        try:
            claims = app.signer.verify(token.strip(), app.env.name)
        except TokenRejected as exc:
            raise CliError(403, "Forbidden", str(exc)) from None
        body = await read_body(
            request, limit=app.limits.cli_body, timeout=app.limits.body_timeout, error=_error
        )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError(400, "BadRequest", "the command is not valid UTF-8") from None
        if "\x00" in text:
            raise CliError(400, "BadRequest", "the command contains a NUL byte")
        try:
            argv = decode_command(text)
            command = app.allowlist.command_of(argv)
            app.check_paths(command, argv)
        except (WireError, CommandNotAllowed) as exc:
            code = "CommandNotAllowed" if isinstance(exc, CommandNotAllowed) else "BadRequest"
            raise CliError(400, code, str(exc)) from None
        shown = json.dumps(mask_argv(argv))
        try:
            async with app.queue.slot() as waited:
                result = await run_in_threadpool(_checked_run, app, command, argv)
        except QueueRefused as exc:
            log.warning("not running %s: %s", shown, exc)
            error = CliError(503, "ServiceUnavailable", f"too many CLI commands at once: {exc}")
            error.headers["retry-after"] = str(exc.retry_after)
            raise error from None
        except MetadataUnavailable as exc:
            log.error("not running %s: %s", shown, exc)
            raise CliError(503, "MetadataDatabaseUnavailable", str(exc)) from None
        except Busy as exc:
            error = CliError(
                503, "ServiceUnavailable", f"too many CLI commands at once ({exc}); retry later"
            )
            error.headers["retry-after"] = "1"
            raise error from None
        except ExecutorError as exc:
            log.error("executor failure for %s: %s", shown, exc)
            raise CliError(500, "ExecutorError", f"the command could not complete: {exc}") from None
        audit.info(
            "request_id=%s env=%s token_id=%s argv=%s exit_code=%s duration_ms=%d queued_ms=%d "
            "queue_depth=%d" + (" output_cut=1" if result.output_cut else ""),
            request.scope.get("state", {}).get("request_id", "-"),
            app.env.name,
            claims.token_id,
            shown,
            result.exit_code,
            result.duration * 1000,
            waited * 1000,
            app.queue.stats.waiting,
        )
        reply = encode_reply(CliReply(result.stdout, result.stderr, result.exit_code))
        if app.stopping.is_set() and result.exit_code < 0:
            raise CliError(
                503,
                "ServerStopping",
                "the local environment is stopping: the command was killed before it "
                "finished (commands before it are unaffected)",
                reply=reply,
            )
        if result.timed_out:
            raise CliError(
                504,
                "Timeout",
                f"the command ran past {result.duration:.0f} s and was stopped",
                reply=reply,
            )
        return Response(reply, media_type="application/json")

    async def health(request: Request) -> Response:
        """Unauthenticated and free of secrets: what ``mwaa doctor`` shows about the queue."""
        return JSONResponse(
            {
                "status": "stopping" if app.stopping.is_set() else "ok",
                "environment": app.env.name,
                "airflow_version": app.env.airflow_version,
                "cli": app.queue.status(),
            }
        )

    return [
        Route(CLI_PATH, cli, methods=["POST"]),
        Route(CLI_PATH_V3, cli, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
