"""The library's client: CreateCliToken through boto3, then the command over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import config
from .commands import Allowlist
from .errors import (
    AuthError,
    CommandNotAllowed,
    ConfigError,
    ConnectError,
    EnvironmentNotFound,
    MwaaError,
    ProtocolError,
    RequestTimeout,
    ServerBusy,
    ServerError,
)
from .outcome import infer_exit_code
from .tokens import CliToken, TokenCache, VersionCache
from .wire import CLI_PATH, WireError, decode_reply, encode_command, is_valid_env_name

if TYPE_CHECKING:
    import httpx

    from .settings import EnvSettings

DEFAULT_TIMEOUT = 300.0
_AUTH_CODES = {
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


@dataclass(frozen=True)
class Result:
    """One remote command's outcome: its streams and exit code, kept apart."""

    environment: str
    command: tuple[str, ...]
    stdout: bytes
    stderr: bytes
    exit_code: int
    exit_code_reported: bool  # False: inferred from stderr (real MWAA sends none)
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8."""
        return self.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Prepared:
    """A command ready to send, and what was changed on the way (for stderr)."""

    argv: tuple[str, ...]
    notes: tuple[str, ...] = ()


class Client:
    """Runs Airflow CLI commands on one MWAA environment (or a local one).

    >>> Client(env="local").run(["dags", "list"]).text  # doctest: +SKIP

    Credentials and region come through boto3's normal chain (``profile``, environment,
    SSO, instance roles); ``endpoint_url`` (or ``AWS_ENDPOINT_URL_MWAA``) points it at a
    local environment, in which case host-prefix injection is turned off.
    """

    def __init__(
        self,
        env: str | None = None,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cache_tokens: bool = True,
        airflow_version: str | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        proxy: str | None = None,
    ) -> None:
        self._env = env or config.default_env()
        if self._env is not None and not is_valid_env_name(self._env):
            raise ConfigError(
                f"invalid environment name {self._env!r}: MWAA names start with a letter and "
                "hold only letters, digits, '-' and '_' (at most 80)"
            )
        if airflow_version and not re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", airflow_version):
            raise ConfigError(
                f"Airflow version {airflow_version!r}: give one such as 2.10.3 or 3.0.6"
            )
        self._airflow_version = airflow_version
        self.allow, self.deny = tuple(allow), tuple(deny)
        self.proxy = proxy
        if proxy and urlsplit(proxy).scheme not in ("http", "https", "socks5", "socks5h"):
            raise ConfigError(
                f"proxy URL {proxy!r}: use http://HOST:PORT, https://… or socks5h://HOST:PORT"
            )
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self._mwaa: Any = None
        self._http: httpx.Client | None = None
        self._custom_endpoint: str | None = None
        self._token: CliToken | None = None
        self._ca_bundle = ""
        self.session: Any = None  # the boto3 session, once the mwaa client exists
        self._cache = TokenCache(config.state_dir() / "tokens") if cache_tokens else None

    @classmethod
    def from_settings(cls, settings: EnvSettings, **kwargs: Any) -> Client:
        """A client for resolved settings (see :func:`mwaa_cli.settings.resolve`)."""
        proxy_source = settings.sources.get("proxy", "")
        return cls(
            settings.name,
            region=settings.region,
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
            airflow_version=settings.airflow_version,
            allow=settings.allow,
            deny=settings.deny,
            # proxies from HTTPS_PROXY/ALL_PROXY are left to httpx, which also honours NO_PROXY
            proxy=settings.proxy if not proxy_source.startswith("env") else None,
            **kwargs,
        )

    # -- control plane -----------------------------------------------------------------

    @property
    def mwaa(self) -> Any:
        """The boto3 ``mwaa`` client (created on first use: boto3 is slow to import)."""
        if self._mwaa is None:
            self._mwaa = self._make_boto_client()
        return self._mwaa

    def _make_boto_client(self) -> Any:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            self.session = session
            boto_config = Config(retries={"max_attempts": 3, "mode": "standard"})
            client = session.client("mwaa", endpoint_url=self.endpoint_url, config=boto_config)
            # a local environment of ours on loopback: trust its CA (its bundle also holds
            # the public roots), even over a machine-wide AWS_CA_BUNDLE
            local_ca = config.local_ca_bundle(client.meta.endpoint_url, self._env)
            self._ca_bundle = local_ca or session._session.get_config_variable("ca_bundle") or ""
            if local_ca:
                client = session.client(
                    "mwaa", endpoint_url=self.endpoint_url, config=boto_config, verify=local_ca
                )
        except botocore.exceptions.ProfileNotFound as exc:
            raise ConfigError(f"{exc}; list profiles with 'aws configure list-profiles'") from exc
        except botocore.exceptions.NoRegionError as exc:
            raise ConfigError(
                "no AWS region: pass --region, set AWS_REGION or add region to your profile"
            ) from exc
        endpoint = client.meta.endpoint_url
        host = urlsplit(endpoint).hostname or ""
        if not (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")):
            # custom endpoint (a local environment): botocore would prepend env./api.
            self._custom_endpoint = endpoint
            client.meta.config.inject_host_prefix = False
        return client

    @property
    def ca_bundle(self) -> str:
        """The CA file the web server is verified with ("" = the default roots)."""
        _ = self.mwaa
        return self._ca_bundle

    def _call(self, operation: str, **params: Any) -> dict:
        import botocore.exceptions as bx

        try:
            return getattr(self.mwaa, operation)(**params)
        except bx.NoCredentialsError as exc:
            raise AuthError(
                "no AWS credentials found: set AWS_PROFILE, run 'aws sso login', "
                "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from exc
        except (bx.TokenRetrievalError, bx.SSOError, bx.UnauthorizedSSOTokenError) as exc:
            raise AuthError(f"{exc}; run 'aws sso login'") from exc
        except bx.ClientError as exc:
            err = exc.response.get("Error", {})
            code, message = err.get("Code", ""), err.get("Message", str(exc))
            if code == "ResourceNotFoundException":
                raise EnvironmentNotFound(
                    f"environment not found: {message} (list them with 'mwaa envs')"
                ) from exc
            if code in _AUTH_CODES:
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
            raise ConnectError(f"cannot reach the MWAA API: {exc}") from exc
        except (bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
            raise RequestTimeout(f"the MWAA API timed out: {exc}") from exc
        except bx.ParamValidationError as exc:
            raise ConfigError(str(exc).replace("\n", " ")) from exc
        except bx.BotoCoreError as exc:
            raise ServerError(f"{operation}: {exc}") from exc

    @property
    def env(self) -> str:
        """The environment name: given, ``MWAA_ENV``, or the only one in the region."""
        if self._env is None:
            names = self.list_environment_names()
            if len(names) != 1:
                listed = ", ".join(names) if names else "none"
                raise EnvironmentNotFound(
                    f"no environment chosen: pass --env or set {config.ENV_VAR} "
                    f"(environments here: {listed})"
                )
            self._env = names[0]
        return self._env

    def list_environment_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self._call("list_environments", **({"NextToken": token} if token else {}))
            names += page.get("Environments", [])
            token = page.get("NextToken")
            if not token:
                return names

    def get_environment(self, name: str | None = None) -> dict:
        name = name or self.env
        try:
            return self._call("get_environment", Name=name)["Environment"]
        except EnvironmentNotFound as exc:
            raise self._not_found(name, exc) from exc

    def _not_found(self, name: str, exc: EnvironmentNotFound) -> EnvironmentNotFound:
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

    def environments(self) -> list[dict]:
        """GetEnvironment for every environment in the region."""
        return [self.get_environment(n) for n in self.list_environment_names()]

    def airflow_version(self) -> str:
        """The environment's Airflow version: configured, else GetEnvironment (cached 5 min)."""
        if self._airflow_version:
            return self._airflow_version
        key = self._cache_key()
        cache = VersionCache(config.state_dir() / "cache") if key else None
        version = cache.get(key) if cache and key else None
        if version is None:
            version = str(self.get_environment().get("AirflowVersion") or "")
            if not version:
                raise ProtocolError("GetEnvironment did not say which Airflow version runs")
            if cache is not None and (key := self._cache_key()):
                cache.put(key, version)
        self._airflow_version = version
        return version

    def allowlist(self) -> Allowlist:
        """The commands this environment accepts (its version's list, plus config overrides)."""
        return Allowlist.for_version(self.airflow_version()).with_overrides(self.allow, self.deny)

    def prepare(
        self, args: Sequence[str], *, translate: bool = True, force: bool = False
    ) -> Prepared:
        """``args`` as they should be sent to this environment: old syntax translated, checked
        against the allowlist (unless ``force``), ``--yes`` added where Airflow would prompt."""
        from .translate import add_yes
        from .translate import translate as rewrite

        argv = [str(a) for a in args]
        notes: list[str] = []
        if not argv:
            raise CommandNotAllowed("no Airflow command given, e.g. 'dags list'")
        try:
            allowlist = self.allowlist()
        except AuthError as exc:
            # CreateCliToken may be allowed where GetEnvironment is not: send as typed
            return Prepared(
                tuple(argv),
                (
                    f"not checked or translated: the Airflow version is unknown ({exc}); "
                    "set airflow_version in the config file or pass --airflow-version",
                ),
            )
        if translate:
            argv, note = rewrite(argv, allowlist.major)
            notes += [note] if note else []
        try:
            command = allowlist.command_of(argv)
        except CommandNotAllowed as exc:
            if not force:
                raise CommandNotAllowed(
                    f"{exc} (Airflow {self.airflow_version()} on '{self.env}'; --force sends "
                    "it anyway)"
                ) from exc
            command = " ".join(argv[:2])
        argv, note = add_yes(argv, command, allowlist.major)
        notes += [note] if note else []
        return Prepared(tuple(argv), tuple(notes))

    def request_preview(self, args: Sequence[str]) -> dict[str, Any]:
        """The exact CLI request :meth:`run` would send, token masked (for ``--dry-run``)."""
        token = self.token()
        return {
            "method": "POST",
            "url": token.cli_url or self.cli_url(token.webserver_hostname),
            "headers": {"Authorization": "Bearer ***", "Content-Type": "text/plain"},
            "body": encode_command(tuple(str(a) for a in args)),
        }

    def create_cli_token(self) -> CliToken:
        """A new token from CreateCliToken (with the CLI endpoint URL it is good for)."""
        try:
            reply = self._call("create_cli_token", Name=self.env)
        except EnvironmentNotFound as exc:
            raise self._not_found(self.env, exc) from exc
        try:
            value, hostname = reply["CliToken"], reply["WebServerHostname"]
        except KeyError as exc:
            raise ProtocolError(f"CreateCliToken reply lacks {exc}") from exc
        return CliToken(value, hostname, cli_url=self.cli_url(hostname), ca_bundle=self._ca_bundle)

    def _cache_key(self) -> tuple[str, ...] | None:
        if self._cache is None or self._env is None:
            return None
        region, profile, endpoint, key_id = config.token_cache_key_hints()
        return (
            self._env,
            self.region or region,
            self.profile or profile,
            self.endpoint_url or endpoint,
            key_id,
        )

    def token(self, *, refresh: bool = False) -> CliToken:
        """A CLI token with life left: this client's, the on-disk cache's, or a new one."""
        key = self._cache_key()
        if not refresh:
            if self._token is not None and self._token.fresh():
                return self._token
            cached = self._cache.get(key) if self._cache and key else None
            if cached is not None:
                self._token = cached
                return cached
        self._token = self.create_cli_token()
        key = self._cache_key()
        if self._cache is not None and key is not None:
            self._cache.put(key, self._token)
        return self._token

    def _forget_token(self) -> None:
        key = self._cache_key()
        if self._cache is not None and key is not None:
            self._cache.drop(key)
        self._token = None

    # -- data plane ----------------------------------------------------------------------

    def cli_url(self, hostname: str) -> str:
        """The CLI endpoint for a WebServerHostname (bare host, or a URL)."""
        if "://" in hostname:
            base = hostname.rstrip("/")
        else:
            _ = self.mwaa  # resolves whether the endpoint is custom
            scheme = urlsplit(self._custom_endpoint).scheme if self._custom_endpoint else "https"
            base = f"{scheme}://{hostname}"
        return base + CLI_PATH

    def _http_client(self, ca_bundle: str) -> httpx.Client:
        if self._http is None:
            import ssl

            import httpx

            verify: ssl.SSLContext | bool = True
            if ca_bundle:
                # one of our local environments' bundles: its web server is signed by the CA
                # alone, which loads in well under a millisecond (the bundle takes ~18 ms)
                verify = ssl.create_default_context(cafile=config.local_ca_only(ca_bundle))
            self._http = httpx.Client(
                verify=verify,
                proxy=self.proxy or None,
                timeout=httpx.Timeout(self.timeout, connect=10.0),
                follow_redirects=True,  # 307/308 keep POST and body (Airflow 3 environments)
                max_redirects=3,
            )
        return self._http

    def run(self, args: Sequence[str]) -> Result:
        """Run one Airflow command (argv without the leading ``airflow``)."""
        argv = tuple(str(a) for a in args)
        if not argv:
            raise CommandNotAllowed("no Airflow command given, e.g. 'dags list'")
        body = encode_command(argv)
        token = self.token()
        started = time.monotonic()
        try:
            reply = self._post(token, body)
        except AuthError:
            if token.obtained_at > time.time() - 2:
                raise  # a brand-new token was refused: nothing to retry
            # a reused token was refused (revoked, or a shorter server TTL): the command
            # did not run, so one retry with a new token is safe
            self._forget_token()
            started = time.monotonic()
            reply = self._post(self.token(refresh=True), body)
        duration = time.monotonic() - started
        reported = reply.exit_code is not None
        code = reply.exit_code if reply.exit_code is not None else infer_exit_code(reply.stderr)
        return Result(self.env, argv, reply.stdout, reply.stderr, code, reported, duration)

    def run_many(
        self, commands: Iterable[Sequence[str]], *, keep_going: bool = False
    ) -> Iterator[Result]:
        """Run commands in order over one connection, reusing tokens while they are fresh;
        stop after the first failing command unless ``keep_going``."""
        for argv in commands:
            result = self.run(argv)
            yield result
            if not result.ok and not keep_going:
                return

    def _post(self, token: CliToken, body: str):
        import httpx

        url = token.cli_url or self.cli_url(token.webserver_hostname)
        headers = {"Authorization": f"Bearer {token.value}", "Content-Type": "text/plain"}
        try:
            http = self._http_client(token.ca_bundle)
            response = http.post(url, content=body.encode("utf-8"), headers=headers)
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise ConnectError(
                    f"the TLS certificate of {url} is not trusted ({exc}); for a local "
                    "environment, set AWS_CA_BUNDLE to its tls/ca-bundle.pem (source its env.sh)"
                ) from exc
            via = f" through the proxy {self.proxy}" if self.proxy else ""
            raise ConnectError(f"cannot reach the web server {url}{via}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise RequestTimeout(
                f"no reply from {url} within {self.timeout:g} s; the command may still be "
                "running on the server"
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ConnectError(
                f"the connection to {url} was lost before a reply ({exc}); the command may or "
                "may not have run"
            ) from exc
        except httpx.ProxyError as exc:
            raise ConnectError(f"the proxy refused {url}: {exc}") from exc
        except httpx.TooManyRedirects as exc:
            raise ProtocolError(f"too many redirects from {url}") from exc
        except httpx.HTTPError as exc:
            raise ConnectError(f"request to {url} failed: {exc}") from exc
        return _reply_or_raise(response)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _message(response: httpx.Response) -> str:
    try:
        doc = response.json()
        if isinstance(doc, dict):
            text = doc.get("message") or doc.get("Message") or doc.get("error")
            if text:
                return str(text)
    except ValueError:
        pass
    return response.text.strip()[:200] or response.reason_phrase


def _reply_or_raise(response: httpx.Response):
    status = response.status_code
    if status == 200:
        if "html" in response.headers.get("content-type", ""):
            raise ProtocolError(
                f"{response.url} answered with an HTML page, not a CLI reply "
                "(a login page? check the web server hostname)"
            )
        try:
            return decode_reply(response.content)
        except WireError as exc:
            raise ProtocolError(f"malformed reply from {response.url}: {exc}") from exc
    message = _message(response)
    error: type[MwaaError]
    if status in (401, 403):
        error = AuthError
        message = f"the web server rejected the CLI token: {message}"
    elif status in (400, 413, 422):
        error = CommandNotAllowed
        message = f"the web server refused the command: {message}"
    elif status == 503:
        error = ServerBusy
        message = f"the web server is unavailable (503): {message}"
    elif status == 504:
        error = RequestTimeout
        message = f"the command timed out on the web server (504): {message}"
    elif status == 404:
        error = ProtocolError
        message = f"{response.url} is not an MWAA CLI endpoint (404)"
    else:
        error = ServerError
        message = f"the web server failed ({status}): {message}"
        if status == 500:
            message += " (MWAA also answers 500 to commands it does not support)"
    raise error(message)
