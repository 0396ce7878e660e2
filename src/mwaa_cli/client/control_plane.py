"""MWAA's control plane through boto3: the session, which certificates to trust, and one
mapping of botocore's errors to :mod:`mwaa_cli.errors`.

boto3 is imported on first use only: when the token and the Airflow version are cached,
``mwaa run`` never needs it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    ConfigError,
    ConnectError,
    EnvironmentNotFound,
    MwaaError,
    ProtocolError,
    RequestTimeout,
    ServerError,
)
from .trust import Trust, trust_for

AUTH_CODES = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}


def _loopback(url: str) -> bool:
    from .transport import is_loopback

    return is_loopback(urlsplit(url).hostname or "")


def _default_ca() -> str:
    """The CA bundle botocore verifies with when none is configured."""
    from botocore.httpsession import get_cert_path

    return str(get_cert_path(True))


def is_aws_host(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


class ControlPlane:
    """A boto3 ``mwaa`` client for one region/profile/endpoint, created on first use."""

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        ignore_env_profile: bool = False,
        env_name: str | None = None,
    ) -> None:
        self.env_name = env_name  # for hints: a local environment of that name here
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.ignore_env_profile = ignore_env_profile  # AWS_PROFILE is a local environment's
        self._client: Any = None
        self._session: Any = None
        self._route: Any = None  # the route of a call, noted while boto3 sends it
        self.resolved = False  # trust and custom_endpoint known without boto3 (a route)
        self.trust = Trust(None, "")
        self.custom_endpoint: str | None = None  # set when not an AWS endpoint

    @property
    def client(self) -> Any:
        """The boto3 ``mwaa`` client."""
        if self._client is None:
            self._client = self._make()
        return self._client

    @property
    def session(self) -> Any:
        _ = self.client
        return self._session

    @property
    def region_name(self) -> str:
        return self.client.meta.region_name

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    def _make(self) -> Any:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        try:
            core = None
            if self.ignore_env_profile and self.profile is None:
                import botocore.session

                # the default credential chain, as if AWS_PROFILE were not set
                core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            session = boto3.session.Session(
                profile_name=self.profile, region_name=self.region, botocore_session=core
            )
            config = Config(retries={"max_attempts": 3, "mode": "standard"})
            client = session.client("mwaa", endpoint_url=self.endpoint_url, config=config)
            user_bundle = session._session.get_config_variable("ca_bundle")
            self.trust = trust_for(client.meta.endpoint_url, user_bundle)
            loopback = _loopback(client.meta.endpoint_url)
            if loopback or self.trust.verify is not None:
                # one more client, not one per change: each costs ~70 ms
                if loopback:  # a local environment answers at once or not at all
                    config = Config(retries={"max_attempts": 1, "mode": "standard"})
                client = session.client(
                    "mwaa",
                    endpoint_url=self.endpoint_url,
                    config=config,
                    verify=self.trust.verify or None,
                )
        except botocore.exceptions.ProfileNotFound as exc:
            raise ConfigError(f"{exc}; list profiles with 'aws configure list-profiles'") from exc
        except botocore.exceptions.NoRegionError as exc:
            from ..local_envs import hint

            local = hint(self.env_name)
            raise ConfigError(
                "no AWS region: "
                + (local or "pass --region, set AWS_REGION or add region to your profile")
            ) from exc
        self._session = session
        endpoint = client.meta.endpoint_url
        if not is_aws_host(urlsplit(endpoint).hostname or ""):
            # a custom endpoint (a local environment): botocore would prepend env./api.
            self.custom_endpoint = endpoint
            client.meta.config.inject_host_prefix = False
        for operation in ("InvokeRestApi", "CreateCliToken"):
            client.meta.events.register(f"before-sign.mwaa.{operation}", self._note_route)
        return client

    # -- without boto3 (see .signed) ------------------------------------------------------

    def _route_key(self) -> tuple[str, ...]:
        from .signed import route_key

        settings = (self.region or "", self.profile or "", self.endpoint_url or "")
        return route_key((*settings, "no-env-profile" if self.ignore_env_profile else ""))

    def _note_route(self, request: Any, signing_name: str, region_name: str, **_: Any) -> None:
        """before-sign: how botocore sends the call, kept once it succeeds."""
        from .signed import route_from

        signing = getattr(request, "context", {}).get("signing", {})
        if self.trust.verify is not None and self.trust.web_ca:
            ca_file = self.trust.web_ca  # a local environment: its own CA signed its endpoint
        else:
            ca_file = self.trust.verify or self.trust.web_ca or _default_ca()
        self._route = route_from(
            request,
            signing.get("signing_name") or signing_name,
            signing.get("region") or region_name,
            ca_file,
            self._session.get_credentials() if self._session is not None else None,
            web_ca=self.trust.web_ca,
        )

    def _signed_call(self, operation: str, params: dict[str, Any]) -> dict | None:
        """``operation`` along the recorded route (no boto3); None when there is none or it
        cannot answer alike (then boto3 makes the call, and a new route)."""
        import json
        import os

        from . import signed

        if not signed.usable():
            return None
        cache, key = signed.default_cache(), self._route_key()
        route = cache.get(key)
        if route is None:
            return None
        if operation == "invoke_rest_api":
            body = {k: v for k, v in params.items() if k != "Name"}
            data: bytes | None = json.dumps(body, separators=(",", ":")).encode()
        else:
            data = None  # CreateCliToken: no body, as botocore sends it
        try:
            sent = signed.send(
                route, signed.OPERATIONS[operation], params["Name"], data, os.environ
            )
        except signed.NotSent:
            sent = None
        reply = self._answer(operation, route, sent) if sent is not None else None
        if reply is None:
            cache.drop(key)
            return None
        self.trust = Trust(None, route.web_ca)
        host = urlsplit(route.base).hostname or ""
        self.custom_endpoint = None if is_aws_host(host) else route.base
        self.resolved = True
        return reply

    def _answer(self, operation: str, route: Any, sent: Any) -> dict | None:
        """The reply to a call sent along ``route``; None when boto3 should make it again
        (MWAA refused it before Airflow saw it, or a token could simply be asked again)."""
        import json

        from . import signed
        from .rest import _RestException

        if sent.status == 200:
            try:
                reply = json.loads(sent.body)
            except ValueError:
                reply = None
            if isinstance(reply, dict):
                return reply
            if operation == "create_cli_token":
                return None
            # InvokeRestApi: Airflow may have acted, so it is never sent twice
            raise ProtocolError(f"InvokeRestApi answered with no JSON object: {sent.body[:200]!r}")
        if operation != "invoke_rest_api":
            return None
        code, doc = signed.error_code(sent)
        if code in ("RestApiClientException", "RestApiServerException"):
            raise _RestException(int(doc.get("RestApiStatusCode") or 0), doc.get("RestApiResponse"))
        if sent.status >= 500 and _loopback(route.base):
            # a local environment: boto3 would not have retried either
            raise signed.server_error(code, doc)
        return None

    def _keep_route(self) -> None:
        from . import signed

        if self._route is not None and signed.usable():
            signed.default_cache().put(self._route_key(), self._route)
        self._route = None

    def sts(self) -> Any:
        """An STS client on the same session and trust."""
        return self.session.client(
            "sts", region_name=self.region_name, verify=self.trust.verify or None
        )

    def call(self, operation: str, **params: Any) -> dict:
        """``operation`` (a boto3 method name) with botocore's errors mapped. CreateCliToken
        and InvokeRestApi go along a recorded route, without boto3, when there is one."""
        from . import signed
        from .rest import _RestException

        if operation in signed.OPERATIONS:
            if self._client is None:
                reply = self._signed_call(operation, params)
                if reply is not None:
                    return reply
            self._route = None
            try:
                reply = self._call(operation, **params)
            except _RestException:
                self._keep_route()  # Airflow answered: the route works
                raise
            self._keep_route()
            return reply
        return self._call(operation, **params)

    def _call(self, operation: str, **params: Any) -> dict:
        import botocore.exceptions as bx

        try:
            return getattr(self.client, operation)(**params)
        except bx.NoCredentialsError as exc:
            raise AuthError(
                "no AWS credentials found: set AWS_PROFILE, run 'aws sso login', or export "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (for a local environment: source its "
                "env.sh)"
            ) from exc
        except (bx.TokenRetrievalError, bx.SSOError, bx.UnauthorizedSSOTokenError) as exc:
            raise AuthError(f"{exc}; run 'aws sso login'") from exc
        except bx.ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = err.get("Code", ""), err.get("Message", str(exc))
            if code in ("RestApiClientException", "RestApiServerException"):
                from .rest import _RestException

                raise _RestException(
                    int(exc.response.get("RestApiStatusCode") or 0),
                    exc.response.get("RestApiResponse"),
                ) from exc
            if code == "ResourceNotFoundException":
                raise EnvironmentNotFound(
                    f"environment not found: {message} (list them with 'mwaa envs')"
                ) from exc
            if code in AUTH_CODES:
                raise AuthError(f"{operation} refused ({code}): {message}") from exc
            if code == "ValidationException":
                raise ConfigError(f"{operation}: {message}") from exc
            raise ServerError(f"{operation} failed ({code or 'error'}): {message}") from exc
        except bx.SSLError as exc:
            raise ConnectError(
                f"TLS to the MWAA API failed: {exc}; for a local environment, set "
                "AWS_CA_BUNDLE to its tls/ca-bundle.pem (source its env.sh)"
            ) from exc
        except bx.EndpointConnectionError as exc:
            raise ConnectError(self._unreachable(exc)) from exc
        except (bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
            raise RequestTimeout(f"the MWAA API timed out: {exc}") from exc
        except bx.ParamValidationError as exc:
            raise ConfigError(str(exc).replace("\n", " ")) from exc
        except bx.BotoCoreError as exc:
            raise ServerError(f"{operation}: {exc}") from exc

    def _unreachable(self, exc: Exception) -> str:
        from .transport import is_loopback

        endpoint = self.custom_endpoint or ""
        host = urlsplit(endpoint).hostname or ""
        if endpoint and is_loopback(host):
            return (
                f"no local environment answers at {endpoint}: it is not running (start it with "
                "'mwaa local serve', or check the endpoint you sourced)"
            )
        return f"cannot reach the MWAA API: {exc}"

    def list_environment_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self.call("list_environments", **({"NextToken": token} if token else {}))
            names += page.get("Environments", [])
            token = page.get("NextToken")
            if not token:
                return names

    def not_found(self, name: str, exc: EnvironmentNotFound) -> EnvironmentNotFound:
        """``exc`` with the environments that do exist, and the likeliest one meant."""
        import difflib

        try:
            names = self.list_environment_names()
        except MwaaError:
            return exc
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(names) if names else "none"
        return EnvironmentNotFound(
            f"environment '{name}' not found in this region (environments here: {listed}){hint}"
        )
