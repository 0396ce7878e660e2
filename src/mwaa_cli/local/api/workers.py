"""``POST /mwaa-local/workers/{Name}`` (SigV4, the environment's own key pair): a Celery
worker on another machine joins (``mwaa local worker --join``) and says it is alive.

The body is ``{"worker": NAME, "fetch": true|false}``; with ``fetch`` the reply holds what
the worker needs to run as one of the environment's: the Airflow version, the worker's
Airflow settings (metadata DB and broker URLs on the environment's address, secrets), the
DAGs, plugins, requirements and startup script. It is not an MWAA operation: MWAA's workers
are its own. Only over HTTPS (or loopback), only for Celery environments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .control_plane import validate_name, verify_sigv4
from .errors import AwsError

if TYPE_CHECKING:
    from . import LocalApp

Join = Callable[[str, str, bool], dict]  # (worker name, its address, fetch) -> reply


def routes(app: LocalApp) -> list[Route]:
    async def join(request: Request) -> Response:
        body = await verify_sigv4(request, app, app.verifier)
        app.authorize(request, "UpdateEnvironment")  # capacity is an environment change
        name = validate_name(request.path_params["name"])
        if name != app.env.name:
            raise AwsError(404, "ResourceNotFoundException", f"Environment {name} not found")
        if app.join is None:
            raise AwsError(
                400,
                "ValidationException",
                f"{name} runs on SQLite + LocalExecutor: only a Celery environment "
                "(mwaa local serve --backend celery) takes workers",
            )
        try:
            doc = json.loads(body or b"{}")
            worker = str(doc["worker"])
        except (ValueError, KeyError, TypeError):
            raise AwsError(400, "ValidationException", 'give {"worker": NAME}') from None
        if not worker or len(worker) > 64 or not worker.replace("-", "").isalnum():
            raise AwsError(400, "ValidationException", "a worker name is 1-64 letters, digits, -")
        address = request.client.host if request.client else "?"
        return JSONResponse(app.join(worker, address, bool(doc.get("fetch"))))

    return [Route("/mwaa-local/workers/{name}", join, methods=["POST"])]
