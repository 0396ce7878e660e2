"""The local environment's HTTP endpoint: one module per protocol, errors rendered in one place.

- :mod:`.control_plane`: MWAA's API as botocore sends it (SigV4-verified)
- :mod:`.sts`: STS GetCallerIdentity
- :mod:`.rest_api`: InvokeRestApi, into the environment's Airflow REST API
- :mod:`.cli_endpoint`: the CLI data plane
- :mod:`.web`: the web login, and Airflow's UI and REST API behind the same TLS
- :mod:`.errors`: the error types handlers raise and how each protocol renders them

Routing, validation and error -> HTTP status only; commands run in the executor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from ...commands import Allowlist
from ..airflow_rest import ROLES, AirflowRestApi
from ..auth import SigV4Verifier
from ..cli_tokens import TokenSigner
from ..executor import Execution
from . import cli_endpoint, control_plane, rest_api, sts, web, workers
from .cli_queue import CommandQueue
from .errors import exception_handlers
from .request_id import RequestId


@dataclass
class Limits:
    """What the endpoint accepts before it reads any further."""

    control_body: int = 1024 * 1024  # botocore sends bytes, not megabytes
    cli_body: int = 256 * 1024  # bytes of command line
    body_timeout: float = 30.0  # seconds for a whole request body to arrive


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
    airflow_config: dict[str, str] = field(default_factory=dict)  # section.key -> value
    last_error: str | None = None  # what failed of the user's parts (requirements, script)
    sources: dict[str, str] = field(default_factory=dict)  # e.g. RequirementsS3Path -> path

    @property
    def arn(self) -> str:
        return f"arn:aws:airflow:{self.region}:{self.account}:environment/{self.name}"

    def role_arn(self, role: str) -> str:
        """The IAM resource MWAA authorises InvokeRestApi on for Airflow role ``role``."""
        return f"arn:aws:airflow:{self.region}:{self.account}:role/{self.name}/{role}"

    def describe(self) -> dict:
        return {
            "Name": self.name,
            "Arn": self.arn,
            "Status": self.status,
            "AirflowVersion": self.airflow_version,
            "WebserverUrl": self.webserver_hostname,
            "WebserverAccessMode": self.access_mode,
            "CreatedAt": self.created_at,
            "EnvironmentClass": "mw1.small",
            "ExecutionRoleArn": f"arn:aws:iam::{self.account}:role/mwaa-local",
            "DagS3Path": "dags",
            "MinWorkers": 1,
            "MaxWorkers": 1,
            "MinWebservers": 1,
            "MaxWebservers": 1,
            "Schedulers": 1,
            "EndpointManagement": "SERVICE",
            "AirflowConfigurationOptions": dict(self.airflow_config),
            **self.sources,
            "Tags": {"mwaa-cli:local": "true"},
            "LastUpdate": self._last_update(),
        }

    def _last_update(self) -> dict:
        update: dict = {"Status": "SUCCESS", "CreatedAt": self.created_at}
        if self.last_error:
            update["Status"] = "FAILED"
            update["Error"] = {
                "ErrorCode": "UserEnvironmentFailure",
                "ErrorMessage": self.last_error[:1024],
            }
        return update


@dataclass
class LocalApp:
    """The collaborators of the endpoint for one environment; :meth:`build` makes the app."""

    env: EnvironmentInfo
    signer: TokenSigner
    run_command: Callable[[list[str]], Execution]
    allowlist: Allowlist = field(default=None)  # type: ignore[assignment]
    verifier: SigV4Verifier | None = None  # None: control plane unauthenticated (tests only)
    preflight: Callable[[str], None] | None = None  # (command) raises MetadataUnavailable
    check_paths: Callable[[str, Sequence[str]], None] = lambda command, argv: None
    limits: Limits = field(default_factory=Limits)
    queue: CommandQueue = field(default_factory=CommandQueue)
    rest: AirflowRestApi | None = None  # None: no Airflow API server (--no-scheduler)
    rest_role: str | None = "Admin"  # the Airflow role of InvokeRestApi calls; None: denied
    rest_roles: dict[str, str | None] = field(default_factory=dict)  # access key -> role
    key_names: dict[str, str] = field(default_factory=dict)  # role keys: access key -> name
    stopping: threading.Event = field(default_factory=threading.Event)
    web_tokens: SpentTokens = field(default_factory=lambda: SpentTokens())
    join: Callable[[str, str, bool], dict] | None = None  # Celery: workers joining (workers.py)

    def __post_init__(self) -> None:
        if self.allowlist is None:
            self.allowlist = Allowlist.for_version(self.env.airflow_version)
        self.sts_verifier = (
            SigV4Verifier(
                list(self.verifier.keys), self.verifier.region, "sts", self.verifier.sessions
            )
            if self.verifier is not None
            else None
        )

    def authorize(self, request, operation: str, resource: str | None = None) -> None:
        """AccessDeniedException unless the caller's key may call ``operation``
        (:mod:`..policies`: role keys get what their IAM policy would allow)."""
        from ..policies import authorize

        authorize(
            self.key_names,
            getattr(request.state, "access_key_id", None),
            operation,
            resource or self.env.arn,
            self.env.account,
        )

    def rest_role_of(self, access_key_id: str | None) -> str | None:
        """The Airflow role InvokeRestApi runs as for this caller (None: none allowed)."""
        role = self.rest_roles.get(access_key_id or "", self.rest_role)
        assert role is None or role in ROLES, role
        return role

    def build(self) -> Starlette:
        routes = [
            *workers.routes(self),
            *control_plane.routes(self),
            *rest_api.routes(self),
            *sts.routes(self),
            *cli_endpoint.routes(self),
            *web.routes(self),
        ]
        app = Starlette(routes=routes, exception_handlers=exception_handlers())
        # paths that are not the endpoint's own go on to Airflow's web server (UI, REST API)
        app.add_middleware(web.AirflowProxy, local=self)
        app.add_middleware(RejectControlCharacters)
        app.add_middleware(RequestId)
        return app


class SpentTokens:
    """Web login tokens already exchanged (each works once), forgotten when they expire."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def spend(self, token_id: str, expires_at: float) -> bool:
        """True the first time ``token_id`` is presented."""
        now = time.time()
        with self._lock:
            for old in [t for t, exp in self._spent.items() if exp <= now]:
                del self._spent[old]
            if token_id in self._spent:
                return False
            self._spent[token_id] = expires_at
            return True


class RejectControlCharacters:
    """A path with control characters (``/environments/red%0A``) is never routed: Starlette's
    route patterns end with ``$``, which also matches before a trailing newline."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            ord(ch) < 0x20 or ord(ch) == 0x7F for ch in scope.get("path", "")
        ):
            from .errors import AwsError

            response = AwsError(
                400, "ValidationException", "the request path holds control characters"
            ).response()
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


__all__ = ["EnvironmentInfo", "Limits", "LocalApp"]
