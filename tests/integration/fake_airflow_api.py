"""A stand-in for Airflow's REST API in InvokeRestApi transport tests (real Airflow answers in
tests/e2e/test_rest_api.py): it echoes what reached it, and misbehaves on request.

- ``POST /auth/token`` (Airflow 3's SimpleAuthManager login): a token per user, when the
  password matches ``PASSWORDS``
- ``/api/v2/...`` and ``/api/v1/...``: ``{"method", "path", "query", "auth", "body"}``;
  paths ending in ``/slow`` (sleeps 3 s), ``/huge`` (2 MiB), ``/missing`` (404), ``/boom`` (500), ``/empty`` (204),
  ``/text`` (not JSON), ``/expire`` (401 for a token seen before: a restarted API server),
  ``/lockedN`` (Airflow 3's 500 "Database error" for the first N calls: SQLite's lock)
"""

from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PASSWORDS = {"admin": "pw-admin", "op": "pw-op", "user": "pw-user", "viewer": "pw-viewer"}
LOGINS: list[str] = []
_SEEN_BY_EXPIRE: set[str] = set()
LOCKED_CALLS: dict[str, int] = {}  # /lockedN path -> calls so far


async def token(request: Request) -> Response:
    doc = await request.json()
    if PASSWORDS.get(doc.get("username")) != doc.get("password"):
        return JSONResponse({"detail": "Invalid credentials"}, status_code=401)
    LOGINS.append(doc["username"])
    return JSONResponse({"access_token": f"jwt-{doc['username']}-{len(LOGINS)}"}, status_code=201)


async def api(request: Request) -> Response:
    path = request.scope["raw_path"].decode()
    auth = request.headers.get("authorization", "")
    if path.endswith("/slow"):
        await asyncio.sleep(3)
    if path.endswith("/slow7"):  # past httpx's default 5 s, within MWAA's 10 s
        await asyncio.sleep(7)
    if path.endswith("/huge"):
        return JSONResponse({"blob": "x" * (2 * 1024 * 1024)})
    if path.endswith("/missing"):
        return JSONResponse({"detail": "DAG not found", "status": 404}, status_code=404)
    if path.endswith("/boom"):
        return JSONResponse({"detail": "boom", "status": 500}, status_code=500)
    if path.endswith("/empty"):
        return Response(status_code=204)
    if "/locked" in path:
        LOCKED_CALLS[path] = LOCKED_CALLS.get(path, 0) + 1
        if LOCKED_CALLS[path] <= int(path.rsplit("/locked", 1)[1]):
            return JSONResponse(  # what Airflow 3's SQLAlchemyErrorHandler answers
                {"reason": "Database error", "statement": "hidden", "orig_error": "hidden",
                 "message": "Serious error when handling your request."},
                status_code=500,
            )  # fmt: skip
    if path.endswith("/text"):
        return PlainTextResponse("plain words")
    if path.endswith("/expire"):
        if auth in _SEEN_BY_EXPIRE:
            return JSONResponse({"detail": "Invalid JWT"}, status_code=401)
        _SEEN_BY_EXPIRE.add(auth)
    if not auth:
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)
    raw = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": path,
            "query": [list(pair) for pair in request.query_params.multi_items()],
            "auth": auth,
            "body": json.loads(raw) if raw else None,
        }
    )


EXECUTION_HITS: list[str] = []
RUN_READS: dict[str, int] = {}  # run id -> reads of its record (the flaky DAG below)


async def flaky_dag(request: Request) -> Response:
    """DAG ``flaky``: its runs succeed on the 6th read of their record, and the 2nd to 4th
    reads answer 504 (a busy API server), as on a loaded machine."""
    if request.method == "POST":
        run = f"r{len(RUN_READS) + 1}"
        RUN_READS[run] = 0
        return JSONResponse({"dag_run_id": run, "state": "queued"})
    run = request.path_params.get("run")
    if run is None:
        return JSONResponse({"dag_id": "flaky", "is_paused": False})
    if request.url.path.endswith("/taskInstances"):
        done = RUN_READS.get(run, 0) >= 6
        state = "success" if done else "running"
        return JSONResponse({"task_instances": [{"task_id": "t", "state": state, "try_number": 1}],
                             "total_entries": 1})  # fmt: skip
    RUN_READS[run] = RUN_READS.get(run, 0) + 1
    if 2 <= RUN_READS[run] <= 4:
        return JSONResponse({"detail": "Gateway Timeout", "status": 504}, status_code=504)
    return JSONResponse(
        {"dag_run_id": run, "state": "success" if RUN_READS[run] >= 6 else "running"}
    )


async def execution(request: Request) -> Response:
    """Airflow's task execution API: never to be reached through the endpoint."""
    EXECUTION_HITS.append(request.scope["raw_path"].decode())
    return JSONResponse({"status": "healthy"})


async def ui(request: Request) -> Response:
    """Airflow's UI: pages large enough to be gzipped for clients that accept it."""
    return PlainTextResponse(f"ui {request.scope['raw_path'].decode()}\n" + "-" * 2000)


app = Starlette(
    routes=[
        Route("/execution/{rest:path}", execution, methods=["GET", "POST", "PUT", "PATCH"]),
        Route("/auth/token", token, methods=["POST"]),
        Route("/api/v2/dags/flaky", flaky_dag, methods=["GET"]),
        Route("/api/v2/dags/flaky/dagRuns", flaky_dag, methods=["POST"]),
        Route("/api/v2/dags/flaky/dagRuns/{run}", flaky_dag, methods=["GET"]),
        Route("/api/v2/dags/flaky/dagRuns/{run}/taskInstances", flaky_dag, methods=["GET"]),
        Route("/api/{rest:path}", api, methods=["GET", "PUT", "POST", "PATCH", "DELETE"]),
        Route("/{rest:path}", ui, methods=["GET"]),
    ],
    middleware=[Middleware(GZipMiddleware, minimum_size=500)],  # as Airflow's UI compresses
)
