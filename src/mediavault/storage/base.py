"""The storage backend interface: where finished media lives (local disk or S3).

Keys are relative, ``/``-separated paths (as rendered by ``storage.templates``); every
backend validates them again and refuses anything that could leave its root.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mediavault.errors import InputError

__all__ = ["CHUNK_SIZE", "StorageBackend", "StoredObject", "check_key", "numbered_key"]

CHUNK_SIZE = 1024 * 1024
INTERNAL_PREFIX = "."  # keys never start a component with a dot: temp files and state do


@dataclass(frozen=True, kw_only=True)
class StoredObject:
    key: str
    size: int
    uri: str


def check_key(key: str) -> str:
    """Validate a storage key: relative, ``/``-separated, no empty/``.``/``..`` parts."""
    if not key or "\x00" in key or "\\" in key:
        raise InputError(f"invalid storage key {key!r}")
    if key.startswith("/") or PurePosixPath(key).is_absolute():
        raise InputError(f"storage key must be relative: {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InputError(f"invalid storage key {key!r}")
    if any(len(part.encode()) > 255 for part in parts):
        raise InputError(f"storage key component too long: {key!r}")
    return key


def numbered_key(key: str, number: int) -> str:
    """``a/b/name.ext`` -> ``a/b/name (2).ext``: the next free name on a conflict."""
    head, _, name = key.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext, dot = name, "", ""
    suffix = f" ({number})"
    budget = 255 - len((suffix + dot + ext).encode())
    stem = stem.encode()[:budget].decode(errors="ignore")
    new = f"{stem}{suffix}{dot}{ext}"
    return f"{head}/{new}" if head else new


class StorageBackend(ABC):
    """Async interface over a key/value file store.

    ``put`` is atomic (temp name then rename, or a single upload) and never replaces a
    different existing file: when ``key`` holds other content, the file is stored as
    ``name (2).ext`` etc. and the returned ``StoredObject.key`` says where. Identical
    content at ``key`` is not stored twice. ``put`` consumes the source file on success.
    """

    #: suffix attempts before giving up on a free name
    max_numbered: int = 1000

    @abstractmethod
    async def put(self, local_path: Path, key: str) -> StoredObject: ...

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abstractmethod
    async def size(self, key: str) -> int:
        """Size in bytes; ``NotFoundError`` when missing."""

    @abstractmethod
    def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes ``start..end`` (``end`` inclusive, None = to the end) in chunks."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """A filesystem path for ``key`` when the backend is local, else None."""

    @abstractmethod
    def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key under ``prefix`` (internal temp/state files excluded)."""

    @abstractmethod
    async def prune_empty_dirs(self) -> None:
        """Remove directories left empty (a no-op where there are none)."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    async def check_writable(self) -> None:
        """Raise ``PathNotWritableError`` early if nothing can be stored."""

    @abstractmethod
    def scratch_dir(self) -> Path:
        """A local directory for work files; on the same filesystem as the store when local."""

    async def get_bytes(self, key: str) -> bytes:
        """The whole object (small files only: metadata, thumbnails)."""
        return b"".join([chunk async for chunk in self.open_range(key)])

    async def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        async for chunk in self.open_range(key):
            digest.update(chunk)
        return digest.hexdigest()
