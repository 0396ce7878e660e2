"""CLI tokens from CreateCliToken: masked in reprs and logs, cached on disk for their life.

A token is good for 60 s and for several commands. The cache lets consecutive ``mwaa run``
invocations skip CreateCliToken - and importing boto3 - while the token has more than a
safety margin left. Files are 0600, one per environment/region/profile/endpoint/identity;
expired ones are deleted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._files import make_private_dir, write_private

TOKEN_LIFETIME = 60.0  # seconds, as MWAA documents
SAFETY_MARGIN = 15.0  # never start a command with less than this left


@dataclass(frozen=True)
class CliToken:
    """A CLI token and the CLI endpoint URL it is good for."""

    value: str = field(repr=False)
    webserver_hostname: str
    obtained_at: float = field(default_factory=time.time)
    cli_url: str = ""
    ca_bundle: str = ""  # CA file to verify the web server with ("" = the default roots)

    def __repr__(self) -> str:
        return f"CliToken(value='***', webserver_hostname={self.webserver_hostname!r})"

    @property
    def expires_at(self) -> float:
        return self.obtained_at + TOKEN_LIFETIME

    def fresh(self, now: float | None = None) -> bool:
        """True while the token has more than the safety margin left."""
        now = time.time() if now is None else now
        return self.obtained_at <= now < self.expires_at - SAFETY_MARGIN


class FileCache:
    """One small 0600 file per key under ``directory``, written atomically; a cache, so
    every I/O failure just means "not cached"."""

    suffix = ".json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: tuple[str, ...]) -> Path:
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
        return self.directory / f"{digest}{self.suffix}"

    def read(self, key: tuple[str, ...], max_age: float | None = None) -> str | None:
        path = self.path(key)
        try:
            stat = path.stat()
            if stat.st_mode & 0o077:  # someone else could read or plant it
                return None
            if max_age is not None and time.time() - stat.st_mtime > max_age:
                return None
            return path.read_text()
        except OSError:
            return None

    def write(self, key: tuple[str, ...], text: str) -> None:
        try:
            make_private_dir(self.directory)
            write_private(self.path(key), text.encode())
        except OSError:
            pass

    def drop(self, key: tuple[str, ...]) -> None:
        try:
            self.path(key).unlink()
        except OSError:
            pass

    def sweep(self, older_than: float) -> None:
        """Delete this cache's files last written more than ``older_than`` seconds ago."""
        cutoff = time.time() - older_than
        try:
            for path in self.directory.glob(f"*{self.suffix}"):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
        except OSError:
            pass


class TokenCache(FileCache):
    """CLI tokens on disk under ``directory``, keyed by where and as whom they were made."""

    def get(self, key: tuple[str, ...]) -> CliToken | None:
        text = self.read(key)
        if text is None:
            return None
        try:
            doc = json.loads(text)
            token = CliToken(
                doc["token"],
                doc["hostname"],
                float(doc["obtained_at"]),
                doc["cli_url"],
                doc.get("ca_bundle", ""),
            )
        except (ValueError, KeyError, TypeError):
            self.drop(key)
            return None
        if not token.fresh():
            self.drop(key)  # an expired token is of no use to anyone: don't keep it
            return None
        return token

    def put(self, key: tuple[str, ...], token: CliToken) -> None:
        doc = {
            "token": token.value,
            "hostname": token.webserver_hostname,
            "obtained_at": token.obtained_at,
            "cli_url": token.cli_url,
            "ca_bundle": token.ca_bundle,
        }
        self.write(key, json.dumps(doc))
        self.sweep(older_than=TOKEN_LIFETIME)  # other environments' expired tokens


class VersionCache(FileCache):
    """Environments' Airflow versions on disk for a few minutes (a version changes only
    with an environment update, which takes MWAA far longer than that)."""

    TTL = 300.0
    suffix = ".version"

    def get(self, key: tuple[str, ...]) -> str | None:
        text = self.read(key, max_age=self.TTL)
        return (text or "").strip() or None

    def put(self, key: tuple[str, ...], version: str) -> None:
        self.write(key, version)


class TokenProvider:
    """A CLI token with life left: this process's, the disk cache's, or a new one.

    ``create`` makes a new token (CreateCliToken); ``key`` says where and as whom (None:
    not cacheable, e.g. no environment chosen yet).
    """

    def __init__(
        self,
        create: Callable[[], CliToken],
        key: Callable[[], tuple[str, ...] | None],
        cache: TokenCache | None,
    ) -> None:
        self._create = create
        self._key = key
        self.cache = cache
        self.current: CliToken | None = None

    def get(self, *, refresh: bool = False) -> CliToken:
        if not refresh:
            if self.current is not None and self.current.fresh():
                return self.current
            key = self._key()
            cached = self.cache.get(key) if self.cache is not None and key else None
            if cached is not None:
                self.current = cached
                return cached
        self.current = self._create()
        key = self._key()
        if self.cache is not None and key is not None:
            self.cache.put(key, self.current)
        return self.current

    def forget(self) -> None:
        """Drop the current token here and on disk (it was refused)."""
        key = self._key()
        if self.cache is not None and key is not None:
            self.cache.drop(key)
        self.current = None
