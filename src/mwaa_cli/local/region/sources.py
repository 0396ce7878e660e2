"""An environment's sources in its bucket: DAGs, requirements, plugins, startup script.

``SourceBucketArn`` resolves to a local directory when the region maps that bucket to one
(``--bucket NAME=DIR``, or ``--buckets DIR`` whose subfolders are buckets: the zero-setup
case), otherwise to S3 through boto3's normal chain - so ``AWS_ENDPOINT_URL_S3`` points it at
moto's server, MinIO, LocalStack, or AWS itself.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class SourceError(Exception):
    """A source cannot be read: the message is what GetEnvironment's LastUpdate says."""


def bucket_name(arn: str) -> str:
    return arn.split(":::", 1)[1]


def _relative(key: str, prefix: str) -> PurePosixPath | None:
    """``key`` below ``prefix`` as a safe relative path (None: a folder marker, or a key that
    would leave the folder: ``..``, absolute, empty segments)."""
    rest = key[len(prefix) :].lstrip("/") if prefix else key
    if not rest or rest.endswith("/"):
        return None
    path = PurePosixPath(rest)
    if path.is_absolute() or any(part in ("", ".", "..") for part in rest.split("/")):
        return None
    return path


def _prefix(path: str) -> str:
    path = path.strip("/")
    return f"{path}/" if path else ""


@dataclass
class SyncResult:
    changed: int = 0
    removed: int = 0


class Bucket:
    """One bucket; subclasses read it from S3 or from a folder."""

    name: str

    def fetch(self, key: str, dest: Path, version: str | None = None) -> None:
        raise NotImplementedError

    def listing(self, prefix: str) -> dict[str, str]:
        """key -> a fingerprint that changes when the object does."""
        raise NotImplementedError

    def sync(self, path: str, dest: Path, seen: dict[str, str]) -> SyncResult:
        """Mirror the objects under ``path`` into ``dest`` (``seen``: what the last sync
        copied, key -> fingerprint; updated in place). Files no longer in the bucket go."""
        prefix = _prefix(path)
        listing = self.listing(prefix)
        result = SyncResult()
        wanted: dict[PurePosixPath, str] = {}
        for key, fingerprint in listing.items():
            rel = _relative(key, prefix)
            if rel is None:
                continue
            wanted[rel] = key
            target = dest.joinpath(*rel.parts)
            if seen.get(key) == fingerprint and target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fetch(key, target)
            seen[key] = fingerprint
            result.changed += 1
        for file in [p for p in dest.rglob("*") if p.is_file() or p.is_symlink()]:
            rel = PurePosixPath(file.relative_to(dest).as_posix())
            if rel not in wanted and "__pycache__" not in rel.parts:
                file.unlink()
                seen.pop(prefix + rel.as_posix(), None)
                result.removed += 1
        for folder in sorted((p for p in dest.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        return result


class FolderBucket(Bucket):
    def __init__(self, name: str, root: Path) -> None:
        self.name, self.root = name, root

    def _path(self, key: str) -> Path:
        rel = _relative(key, "")
        path = self.root.joinpath(*rel.parts) if rel is not None else None
        if path is None or not path.resolve().is_relative_to(self.root.resolve()):
            raise SourceError(f"s3://{self.name}/{key[:200]}: not a valid object key")
        return path

    def fetch(self, key: str, dest: Path, version: str | None = None) -> None:
        # object versions are an S3 feature: a folder holds one version of each file
        source = self._path(key)
        if not source.is_file():
            raise SourceError(f"s3://{self.name}/{key}: no such object (in {self.root})")
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)

    def listing(self, prefix: str) -> dict[str, str]:
        """The bucket's objects under ``prefix``: files inside the folder only - a prefix
        with ``.``/``..`` segments (an S3 key, not a path) or a symlink that leads out of
        the folder lists nothing there, so nothing outside is ever read or named."""
        out: dict[str, str] = {}
        if any(part in (".", "..") for part in prefix.split("/")):
            return out
        root = self.root.resolve()
        base = (self.root / prefix).resolve() if prefix else root
        if not base.is_relative_to(root) or not base.is_dir():
            return out
        for file in base.rglob("*"):
            if not file.is_file() or "__pycache__" in file.parts:
                continue
            if not file.resolve().is_relative_to(root):
                continue
            stat = file.stat()
            out[file.relative_to(root).as_posix()] = f"{stat.st_size}:{stat.st_mtime_ns}"
        return out


class S3Bucket(Bucket):
    def __init__(self, name: str, client) -> None:
        self.name, self.client = name, client

    def fetch(self, key: str, dest: Path, version: str | None = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"VersionId": version} if version else {}
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            reply = self.client.get_object(Bucket=self.name, Key=key, **extra)
            with open(tmp, "wb") as out:
                shutil.copyfileobj(reply["Body"], out)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            where = f"s3://{self.name}/{key}" + (f" (version {version})" if version else "")
            raise SourceError(f"{where}: {error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise SourceError(f"s3://{self.name}/{key}: {exc}") from None
        os.replace(tmp, dest)

    def listing(self, prefix: str) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    out[item["Key"]] = f"{item.get('ETag')}:{item.get('Size')}"
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SourceError(
                f"s3://{self.name}/{prefix}: {error.get('Code')}: {error.get('Message')}"
            ) from None
        except BotoCoreError as exc:
            raise SourceError(f"s3://{self.name}/{prefix}: {exc}") from None
        return out


class Buckets:
    """Which bucket an ARN names: a mapped folder, else S3."""

    def __init__(
        self,
        folders: dict[str, Path] | None = None,
        root: Path | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.folders = dict(folders or {})
        self.root = root
        self.region = region
        self._client = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        parts = [f"{name}={path}" for name, path in self.folders.items()]
        if self.root is not None:
            parts.append(f"{self.root}/BUCKET")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        parts.append(f"S3 ({endpoint or 'AWS'})")
        return ", ".join(parts)

    def get(self, arn: str) -> Bucket:
        name = bucket_name(arn)
        if name in self.folders:
            return FolderBucket(name, self.folders[name])
        if self.root is not None and (self.root / name).is_dir():
            return FolderBucket(name, self.root / name)
        return S3Bucket(name, self.client())

    def client(self):
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                session = boto3.session.Session()
                self._client = session.client(
                    "s3",
                    region_name=session.region_name or self.region,
                    # a bucket that does not answer must not hold its sync for long
                    config=Config(
                        retries={"max_attempts": 3, "mode": "standard"},
                        connect_timeout=5,
                        read_timeout=30,
                    ),
                )
            return self._client
