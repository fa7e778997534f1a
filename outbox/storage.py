"""Where stored files live: a folder under DATA_DIR (the default) or an S3-compatible bucket.

Two areas hold files: `media` (uploads, their previews, avatars, headers, emoji; DATA_DIR/media,
served at /media and /emoji) and `remote` (this node's copies of other hosts' files;
DATA_DIR/remote, served only after a check). A file's key is its path relative to its area,
exactly what the database keeps (`file_path`, `avatar_path`, `remote_files.path`, …), so
switching the backend changes no row. In a bucket the object is `<area>/<key>`: the bucket
mirrors DATA_DIR, and copying `DATA_DIR/media` and `DATA_DIR/remote` into it moves a node.

Every operation blocks (a file, or one request to the bucket): callers run them in a worker
thread, as they did with file I/O. The S3 backend talks to FLURFUNK_MEDIA_S3_ENDPOINT only
(path-style addressing, explicit credentials, no proxy from the environment, so botocore
never looks up a bucket's own host name, an instance metadata service or a proxy).
"""

from __future__ import annotations

import shutil
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from models.remote_file import FOLDER as REMOTE_FOLDER
from models.settings import Settings
from outbox.filetypes import served_type

MEDIA = "media"
CHUNK = 1 << 20


class InvalidKey(ValueError):
    """A key that could name something outside its area (`..`, an absolute path, …)."""


def valid_key(key: str) -> bool:
    parts = key.split("/")
    return (
        bool(key)
        and "\\" not in key
        and "\x00" not in key
        and all(part not in ("", ".", "..") for part in parts)
    )


def _checked(key: str) -> str:
    if not valid_key(key):
        raise InvalidKey(f"not a storage key: {key!r}")
    return key


@dataclass(frozen=True)
class Stat:
    size: int
    etag: str  # quoted, as in an ETag header
    modified: float  # seconds since the epoch


class Reader:
    """An open stored file, from `start` for `length` bytes (the whole file by default)."""

    def __init__(self, stat: Stat, body: IO[bytes], start: int, length: int) -> None:
        self.stat, self.start, self.length = stat, start, length
        self._body, self._left = body, length

    def read(self, size: int = CHUNK) -> bytes:
        if self._left <= 0:
            return b""
        data = self._body.read(min(size, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Storage(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store `data` (bytes, or a stream read from its current position) under `key`."""

    @abstractmethod
    def stat(self, key: str) -> Stat | None:
        """Size and version of a stored file; None when there is none (or the key is invalid)."""

    @abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> Reader | None:
        """Read a stored file, or the bytes `start`..`end` (inclusive) of it; None if missing."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one file; a missing one is no error."""

    @abstractmethod
    def delete_folder(self, prefix: str) -> None:
        """Remove every file whose key starts with `prefix/`."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk, when the backend has one (served with sendfile)."""
        return None


class DirectoryStorage(Storage):
    """Files under a folder of DATA_DIR: the bytes and paths the node always had."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        root = self.root.resolve()
        path = (root / _checked(key)).resolve()
        if not path.is_relative_to(root) or path == root:
            raise InvalidKey(f"not a storage key: {key!r}")
        return path

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
            return
        with path.open("wb") as target:
            shutil.copyfileobj(data, target, CHUNK)

    def stat(self, key: str) -> Stat | None:
        try:
            path = self._path(key)
            found = path.stat()
        except (InvalidKey, OSError):
            return None
        if not path.is_file():
            return None
        etag = f'"{found.st_mtime_ns:x}-{found.st_size:x}"'
        return Stat(found.st_size, etag, found.st_mtime)

    def open(self, key: str, start: int = 0, end: int | None = None) -> Reader | None:
        stat = self.stat(key)
        if stat is None:
            return None
        body = self._path(key).open("rb")
        body.seek(start)
        last = stat.size - 1 if end is None else min(end, stat.size - 1)
        return Reader(stat, body, start, max(0, last - start + 1))

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except (InvalidKey, IsADirectoryError):
            return

    def delete_folder(self, prefix: str) -> None:
        try:
            folder = self._path(prefix)
        except InvalidKey:
            return
        shutil.rmtree(folder, ignore_errors=True)

    def local_path(self, key: str) -> Path | None:
        try:
            return self._path(key)
        except InvalidKey:
            return None


class S3Storage(Storage):
    """Objects `<area>/<key>` in one bucket of an S3-compatible service."""

    def __init__(self, client: Any, bucket: str, area: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, area + "/"

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        name = self._name(key)
        extra = {"ContentType": served_type(key)}
        if isinstance(data, bytes):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data, **extra)
        else:  # large uploads go in parts
            self.client.upload_fileobj(data, self.bucket, name, ExtraArgs=extra)

    def stat(self, key: str) -> Stat | None:
        if not valid_key(key):
            return None
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.ClientError as exc:
            if _status(exc) in (403, 404):  # no object (403 without list permission)
                return None
            raise
        return Stat(int(head["ContentLength"]), head["ETag"], head["LastModified"].timestamp())

    def open(self, key: str, start: int = 0, end: int | None = None) -> Reader | None:
        if not valid_key(key):
            return None
        ranged = (
            {}
            if start == 0 and end is None
            else {"Range": f"bytes={start}-{'' if end is None else end}"}
        )
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self._name(key), **ranged)
        except self.client.exceptions.ClientError as exc:
            if _status(exc) in (403, 404):
                return None
            raise
        length = int(got["ContentLength"])
        total = length
        if "ContentRange" in got:  # bytes a-b/total
            total = int(str(got["ContentRange"]).rpartition("/")[2])
        stat = Stat(total, got["ETag"], got["LastModified"].timestamp())
        return Reader(stat, got["Body"], start, length)

    def delete(self, key: str) -> None:
        if valid_key(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def delete_folder(self, prefix: str) -> None:
        if not valid_key(prefix):
            return
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._name(prefix) + "/"
        )
        for page in pages:
            names = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if names:  # a page holds at most 1000 keys, as many as one request may delete
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": names, "Quiet": True}
                )


def _status(exc: Exception) -> int:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def s3_enabled(settings: Settings) -> bool:
    return bool(settings.media_s3_endpoint and settings.media_s3_bucket)


_clients: dict[tuple[str, ...], Any] = {}
_clients_lock = threading.Lock()


def _client(settings: Settings) -> Any:
    """One thread-safe boto3 client per configuration and process, made on first use."""
    config = (
        settings.media_s3_endpoint,
        settings.media_s3_region,
        settings.media_s3_access_key,
        settings.media_s3_secret_key,
        settings.ca_bundle,
    )
    with _clients_lock:
        if config not in _clients:
            # Imported here: boto3 costs memory and start time that a node without S3 saves.
            import boto3
            from botocore.config import Config

            _clients[config] = boto3.session.Session().client(
                "s3",
                endpoint_url=settings.media_s3_endpoint,
                region_name=settings.media_s3_region or "us-east-1",
                aws_access_key_id=settings.media_s3_access_key,
                aws_secret_access_key=settings.media_s3_secret_key,
                verify=settings.ca_bundle or None,
                config=Config(
                    s3={"addressing_style": "path"},
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=20,
                    proxies={},  # never an HTTP(S)_PROXY from the environment either
                    # Checksums only where S3 demands them: MinIO and Ceph refuse some others.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        return _clients[config]


def _area(settings: Settings, area: str, root: Path) -> Storage:
    if s3_enabled(settings):
        return S3Storage(_client(settings), settings.media_s3_bucket, area)
    return DirectoryStorage(root)


def media(settings: Settings) -> Storage:
    """Uploads, previews, avatars, headers and emoji: keys relative to DATA_DIR/media."""
    return _area(settings, MEDIA, settings.media_dir)


def remote(settings: Settings) -> Storage:
    """Copies of other hosts' files: keys relative to DATA_DIR/remote."""
    return _area(settings, REMOTE_FOLDER, settings.data_dir / REMOTE_FOLDER)
