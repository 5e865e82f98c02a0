"""S3-compatible storage (AWS, MinIO, SeaweedFS...) via boto3, run in worker threads.

Uploads are atomic for readers (an object appears only when complete). Before writing a
key the backend checks it: identical content is not uploaded again, different content
gets a numbered name (``name (2).ext``) — nothing is overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mediavault.errors import NotFoundError, PathNotWritableError, StorageError
from mediavault.storage.base import (
    CHUNK_SIZE,
    StorageBackend,
    StoredObject,
    check_key,
    numbered_key,
)
from mediavault.storage.hashing import file_sha256

__all__ = ["S3Storage"]

_MISSING = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_DENIED = {"403", "AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage(StorageBackend):
    """Objects under ``s3://bucket/prefix``."""

    multipart_threshold = 64 * 1024 * 1024
    part_size = 64 * 1024 * 1024

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        region: str | None = None,
        scratch: str | Path | None = None,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise StorageError("S3 storage needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self._scratch = Path(scratch) if scratch else Path(tempfile.gettempdir()) / "mediavault"
        # a session of our own: the default one caches credentials process-wide
        self.client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )

    def __repr__(self) -> str:
        return f"S3Storage({self.uri('')!r})"

    def _object(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        base = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{base}/{key}" if key else base

    def local_path(self, key: str) -> Path | None:
        return None

    def scratch_dir(self) -> Path:
        try:
            self._scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PathNotWritableError(f"cannot create {self._scratch}: {exc.strerror}") from exc
        return self._scratch

    def _fail(self, exc: Exception, key: str) -> Exception:
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in _MISSING:
                return NotFoundError(f"no stored object {key!r}")
            if code in _DENIED:
                return PathNotWritableError(f"S3 refused {self.uri(key)}: {code}")
        return StorageError(f"S3 error for {self.uri(key)}: {exc}")

    async def _call(self, key: str, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, method), **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key) from exc

    # writing -------------------------------------------------------------------------

    async def check_writable(self) -> None:
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise PathNotWritableError(
                f"S3 bucket {self.bucket!r} is not usable: {exc}", detail={"uri": self.uri("")}
            ) from exc

    async def put(self, local_path: Path, key: str) -> StoredObject:
        source = Path(local_path)
        size = await asyncio.to_thread(_file_size, source)
        local_hash: str | None = None
        candidate = key
        number = 1
        while True:
            remote_size = await self._size_or_none(candidate)
            if remote_size is None:
                if await self._upload_new(source, candidate, size):
                    break
                continue  # somebody stored this key meanwhile: look at it again
            if remote_size == size:
                local_hash = local_hash or await asyncio.to_thread(file_sha256, source)
                if await self.sha256(candidate) == local_hash:
                    break
            number += 1
            if number > self.max_numbered + 1:
                raise StorageError(f"no free name for {key} after {self.max_numbered} tries")
            candidate = numbered_key(key, number)
        await asyncio.to_thread(source.unlink, True)
        return StoredObject(key=candidate, size=size, uri=self.uri(candidate))

    async def _upload_new(self, source: Path, key: str, size: int) -> bool:
        """Upload only if ``key`` does not exist (``If-None-Match: *``); False if it does."""
        upload = _put_small if size <= self.multipart_threshold else _put_multipart
        try:
            await asyncio.to_thread(
                upload, self.client, self.bucket, self._object(key), source, self.part_size
            )
        except ClientError as exc:
            if _code(exc) in _EXISTS:
                return False
            raise self._fail(exc, key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key) from exc
        return True

    async def delete(self, key: str) -> None:
        await self._call(key, "delete_object", Bucket=self.bucket, Key=self._object(key))

    async def prune_empty_dirs(self) -> None:
        """S3 has no directories; nothing to prune."""

    # reading -------------------------------------------------------------------------

    async def _size_or_none(self, key: str) -> int | None:
        try:
            head = await self._call(key, "head_object", Bucket=self.bucket, Key=self._object(key))
        except NotFoundError:
            return None
        return int(head["ContentLength"])

    async def exists(self, key: str) -> bool:
        return await self._size_or_none(key) is not None

    async def size(self, key: str) -> int:
        size = await self._size_or_none(key)
        if size is None:
            raise NotFoundError(f"no stored object {key!r}")
        return size

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = await self._call(key, "get_object", **kwargs)
        body = response["Body"]
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(body.read, CHUNK_SIZE)
                except (BotoCoreError, OSError) as exc:
                    raise StorageError(f"reading {self.uri(key)} failed: {exc}") from exc
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        async for chunk in self.open_range(key):
            digest.update(chunk)
        return digest.hexdigest()

    async def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=root + prefix)
        iterator = iter(pages)
        while True:
            try:
                page = await asyncio.to_thread(next, iterator, None)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, prefix) from exc
            if page is None:
                break
            for entry in page.get("Contents", []):
                yield str(entry["Key"])[len(root) :]


def _file_size(path: Path) -> int:
    if not path.is_file():
        raise StorageError(f"nothing to store: {path} is not a file")
    return path.stat().st_size


def _put_small(client: Any, bucket: str, key: str, source: Path, part_size: int) -> None:
    with open(source, "rb") as body:
        client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")


def _put_multipart(client: Any, bucket: str, key: str, source: Path, part_size: int) -> None:
    """A multipart upload completed with ``If-None-Match: *`` (aborted on any failure)."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        parts = []
        with open(source, "rb") as handle:
            number = 1
            while chunk := handle.read(part_size):
                answer = client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                number += 1
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    except BaseException:
        with contextlib.suppress(ClientError, BotoCoreError):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
