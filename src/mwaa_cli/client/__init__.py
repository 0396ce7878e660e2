"""The library's client: CreateCliToken through boto3, then the command over HTTP.

- :mod:`.control_plane`: boto3, trust, botocore's errors
- :mod:`.tokens`: CLI tokens and their caches
- :mod:`.transport`: the HTTP POST, redirects, status -> error
- :mod:`.results`: Result, Prepared, Preview
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import paths
from ..commands import Allowlist
from ..errors import (
    AuthError,
    CommandNotAllowed,
    ConfigError,
    ConnectError,
    EnvironmentNotFound,
    ProtocolError,
    ServerBusy,
)
from ..settings import DEFAULT_BUSY_TIMEOUT, DEFAULT_TIMEOUT
from ..wire import CLI_PATH, encode_command, is_valid_env_name, ui_host
from .control_plane import ControlPlane
from .rest import RestApiError, RestClientError, RestReply, RestServerError
from .results import Prepared, Preview, Result
from .tokens import CliToken, TokenCache, TokenProvider, VersionCache

if TYPE_CHECKING:
    from ..settings import EnvSettings
    from .transport import Transport


__all__ = [
    "DEFAULT_TIMEOUT",
    "CliToken",
    "Client",
    "Prepared",
    "Preview",
    "RestApiError",
    "RestClientError",
    "RestReply",
    "RestServerError",
    "Result",
]


class Client:
    """Runs Airflow CLI commands on one MWAA environment (or a local one).

    >>> Client(env="local").run(["dags", "list"]).stdout_text  # doctest: +SKIP

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
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        cache_tokens: bool = True,
        airflow_version: str | None = None,
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        proxy: str | None = None,
        ignore_env_profile: bool = False,
    ) -> None:
        from ..settings import default_env

        self._env = env or default_env()
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
        self.region, self.profile, self.endpoint_url = region, profile, endpoint_url
        self.timeout = timeout
        self.busy_timeout = busy_timeout
        self.control_plane = ControlPlane(
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            ignore_env_profile=ignore_env_profile,
            env_name=env,
        )
        self._transport: Transport | None = None
        self._allowlist: tuple[str, Allowlist] | None = None
        cache = TokenCache(paths.state_dir() / "tokens") if cache_tokens else None
        self.tokens = TokenProvider(self.create_cli_token, self._cache_key, cache)

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
            ignore_env_profile=settings.ignore_env_profile,
            **kwargs,
        )

    # -- the environment ---------------------------------------------------------------

    @property
    def mwaa(self) -> Any:
        """The boto3 ``mwaa`` client (created on first use: boto3 is slow to import)."""
        return self.control_plane.client

    @property
    def ca_bundle(self) -> str:
        """The CA file the web server is verified with ("" = the default roots)."""
        if not self.control_plane.resolved:
            _ = self.mwaa
        return self.control_plane.trust.web_ca

    @property
    def env(self) -> str:
        """The environment name: given, ``MWAA_ENV``, or the only one in the region."""
        if self._env is None:
            names = self.list_environment_names()
            if len(names) != 1:
                listed = ", ".join(names) if names else "none"
                raise EnvironmentNotFound(
                    "no environment chosen: pass --env or set MWAA_ENV "
                    f"(environments here: {listed})"
                )
            self._env = names[0]
        return self._env

    def list_environment_names(self) -> list[str]:
        return self.control_plane.list_environment_names()

    def _env_call(self, operation: str, *required: str, name: str | None = None) -> dict:
        """``operation`` on environment ``name`` (default: this client's): not found names
        the environments that exist; a reply without a ``required`` member is a
        ProtocolError."""
        name = name or self.env
        try:
            reply = self.control_plane.call(operation, Name=name)
        except EnvironmentNotFound as exc:
            raise self.control_plane.not_found(name, exc) from exc
        missing = [key for key in required if key not in reply]
        if missing:
            title = "".join(word.title() for word in operation.split("_"))
            raise ProtocolError(f"{title} reply lacks {', '.join(missing)}")
        return reply

    def get_environment(self, name: str | None = None) -> dict:
        return self._env_call("get_environment", "Environment", name=name)["Environment"]

    def api(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        paginate: bool = False,
    ) -> RestReply:
        """Airflow's REST API through InvokeRestApi: ``path`` below ``/api/v2`` (Airflow 3) or
        ``/api/v1`` (2), e.g. ``client.api("GET", "/dags").body["dags"]``. ``paginate``: a
        GET of a list endpoint walks every offset/limit page and returns one merged reply.
        Raises :class:`~mwaa_cli.client.rest.RestClientError` (Airflow 4xx) or
        :class:`~mwaa_cli.client.rest.RestServerError` (5xx)."""
        from . import rest

        try:
            if paginate:
                if method.upper() != "GET":
                    raise ConfigError("paginate: only a GET of a list endpoint has pages")
                return rest.merged(rest.pages(self.control_plane, self.env, path, query))
            return rest.invoke(self.control_plane, self.env, method, path, query, body)
        except EnvironmentNotFound as exc:
            raise self.control_plane.not_found(self.env, exc) from exc

    def web_login_url(self) -> str:
        """The URL that opens the environment's Airflow UI logged in: CreateWebLoginToken's
        token in MWAA's console sign-in page (one use, 60 s)."""
        reply = self._env_call("create_web_login_token", "WebServerHostname", "WebToken")
        host, token = reply["WebServerHostname"], reply["WebToken"]
        base = self.cli_url(host)[: -len(CLI_PATH)]  # the web server, with its scheme
        from .transport import is_loopback

        parts = urlsplit(base)
        if parts.port and is_loopback(parts.hostname or "") and parts.scheme == "https":
            # a local environment: a host name of its own for the browser, so that its login
            # cookies are never sent to another environment on this machine
            base = f"https://{ui_host(self.env or 'local', parts.port)}:{parts.port}"
        return f"{base}/aws_mwaa/aws-console-sso?login=true#{token}"

    def environments(self) -> list[dict]:
        """GetEnvironment for every environment in the region."""
        return [self.get_environment(n) for n in self.list_environment_names()]

    def airflow_version(self) -> str:
        """The environment's Airflow version: configured, else GetEnvironment (cached 5 min)."""
        if self._airflow_version:
            return self._airflow_version
        key = self._cache_key()
        cache = VersionCache(paths.state_dir() / "cache") if key else None
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
        version = self.airflow_version()
        if self._allowlist is None or self._allowlist[0] != version:
            allowed = Allowlist.for_version(version).with_overrides(self.allow, self.deny)
            self._allowlist = (version, allowed)
        return self._allowlist[1]

    # -- commands ----------------------------------------------------------------------

    def prepare(
        self, args: Sequence[str], *, translate: bool = True, force: bool = False
    ) -> Prepared:
        """``args`` as they should be sent to this environment: old syntax translated and
        checked against the allowlist (unless ``force``). A command Airflow would confirm
        interactively comes back with ``confirm`` set (see :meth:`Prepared.confirmed`)."""
        from ..confirmations import needs_confirmation, question
        from ..translate import translate as rewrite

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
        confirm = None
        if needs_confirmation(argv, command, allowlist.major):
            confirm = question(argv, command, self.env)
        return Prepared(tuple(argv), tuple(notes), confirm)

    def request_preview(self, args: Sequence[str]) -> Preview:
        """The exact CLI request :meth:`run` would send, token masked (for ``--dry-run``)."""
        token = self.token()
        return Preview(
            "POST",
            token.cli_url or self.cli_url(token.webserver_hostname),
            {"Authorization": "Bearer ***", "Content-Type": "text/plain"},
            encode_command(tuple(str(a) for a in args)),
        )

    def run(
        self,
        args: Sequence[str],
        *,
        infer: str = "default",
        on_busy: Callable[[float, ServerBusy], None] | None = None,
    ) -> Result:
        """Run one Airflow command (argv without the leading ``airflow``).

        ``infer``: how a reply without an exit code (real MWAA) is judged - ``default``,
        ``strict`` or ``lenient`` (see :func:`mwaa_cli.exit_codes.infer_exit_code`).
        A "busy" answer for a command that never started is retried with jittered
        exponential back-off (honouring ``Retry-After``) for up to ``busy_timeout`` seconds;
        ``on_busy(delay, error)`` hears about each wait. A command that may have started is
        never sent twice.
        """
        argv = tuple(str(a) for a in args)
        if not argv:
            raise CommandNotAllowed("no Airflow command given, e.g. 'dags list'")
        body = encode_command(argv).encode("utf-8")
        deadline = time.monotonic() + self.busy_timeout
        retries = 0
        while True:
            started = time.monotonic()
            try:
                reply = self._post_with_token(body)
                break
            except ServerBusy as exc:
                left = deadline - time.monotonic()
                if not exc.not_started or left <= 0:
                    if exc.not_started and self.busy_timeout > 0:
                        raise ServerBusy(
                            f"{exc}; still busy after {self.busy_timeout:g} s of retries "
                            "(--busy-timeout)"
                        ) from exc
                    raise
                delay = min(_backoff(retries, exc.retry_after), left)
                if on_busy is not None:
                    on_busy(delay, exc)
                time.sleep(delay)
                retries += 1
        duration = time.monotonic() - started
        reported = reply.exit_code is not None
        code = reply.exit_code
        if code is None:  # real MWAA: judged from what the command wrote
            from ..exit_codes import infer_exit_code

            code = infer_exit_code(reply.stderr, infer, reply.stdout)
        return Result(self.env, argv, reply.stdout, reply.stderr, code, reported, duration, retries)

    def run_many(
        self, commands: Iterable[Sequence[str]], *, keep_going: bool = False, **run: Any
    ) -> Iterator[Result]:
        """Run commands in order over one connection, reusing tokens while they are fresh;
        stop after the first failing command unless ``keep_going``."""
        for argv in commands:
            result = self.run(argv, **run)
            yield result
            if not result.ok and not keep_going:
                return

    # -- tokens ------------------------------------------------------------------------

    def create_cli_token(self) -> CliToken:
        """A new token from CreateCliToken (with the CLI endpoint URL it is good for)."""
        reply = self._env_call("create_cli_token", "CliToken", "WebServerHostname")
        value, hostname = reply["CliToken"], reply["WebServerHostname"]
        return CliToken(value, hostname, cli_url=self.cli_url(hostname), ca_bundle=self.ca_bundle)

    def token(self, *, refresh: bool = False) -> CliToken:
        """A CLI token with life left: this client's, the on-disk cache's, or a new one."""
        return self.tokens.get(refresh=refresh)

    def _cache_key(self) -> tuple[str, ...] | None:
        if self._env is None:
            return None
        from ..settings import token_cache_key_hints

        region, profile, endpoint, key_id = token_cache_key_hints()
        if self.control_plane.ignore_env_profile:
            profile = ""
        return (
            self._env,
            self.region or region,
            self.profile or profile,
            self.endpoint_url or endpoint,
            key_id,
        )

    # -- the data plane ----------------------------------------------------------------

    def cli_url(self, hostname: str) -> str:
        """The CLI endpoint for a WebServerHostname (bare host, or a URL)."""
        if "://" in hostname:
            base = hostname.rstrip("/")
        else:
            if not self.control_plane.resolved:
                _ = self.mwaa  # resolves whether the endpoint is custom
            custom = self.control_plane.custom_endpoint
            scheme = urlsplit(custom).scheme if custom else "https"
            base = f"{scheme}://{hostname}"
        return base + CLI_PATH

    def transport(self, ca_file: str) -> Transport:
        from .transport import Transport

        if self._transport is None:
            self._transport = Transport(timeout=self.timeout, proxy=self.proxy, ca_file=ca_file)
        return self._transport

    def _post_with_token(self, body: bytes):
        token = self.token()
        try:
            return self._post(token, body)
        except ConnectError as exc:
            if not exc.not_sent or token.obtained_at > time.time() - 2:
                raise
            # a cached token names a web server that does not answer (a local environment
            # restarted on another port): nothing was sent, so ask for a new token once
            self.tokens.forget()
            return self._post(self.token(refresh=True), body)
        except AuthError:
            if token.obtained_at > time.time() - 2:
                self.tokens.forget()  # a brand-new token was refused: don't keep it
                raise
            # a reused token was refused (revoked, or a shorter server TTL): the command
            # did not run, so one retry with a new token is safe
            self.tokens.forget()
            try:
                return self._post(self.token(refresh=True), body)
            except AuthError:
                self.tokens.forget()  # refused again: never reuse it
                raise

    def _post(self, token: CliToken, body: bytes):
        from .transport import reply_or_raise

        url = token.cli_url or self.cli_url(token.webserver_hostname)
        headers = {"Authorization": f"Bearer {token.value}", "Content-Type": "text/plain"}
        response = self.transport(token.ca_bundle).post(url, body, headers)
        return reply_or_raise(response)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before sending a busy command again: ``Retry-After`` when the server
    gave one, else 0.25 s doubling up to 8 s; jittered so that waiting clients spread out."""
    import random

    if retry_after is not None:
        return retry_after + random.uniform(0, min(1.0, retry_after / 2 + 0.1))
    return min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.5)
