"""File plumbing for the engines: the ``.part`` file, writes off the event loop, checks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path
from typing import Protocol

from mediavault.errors import IntegrityError, PathNotWritableError
from mediavault.models import Format

__all__ = ["Hasher", "PartFile", "file_digest", "verify_checksum"]

_HASH_BLOCK = 1 << 20


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _pwrite_all(fd: int, data: bytes, offset: int, hasher: Hasher | None) -> None:
    if hasher is not None:
        hasher.update(data)
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class PartFile:
    """The ``.part`` file an engine writes into; writes and syncs run in threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise PathNotWritableError(f"cannot write {path}: {exc.strerror}") from exc

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    async def write_at(self, data: bytes, offset: int, hasher: Hasher | None = None) -> None:
        """Write ``data`` at ``offset`` in a thread (and feed ``hasher`` there, in order)."""
        try:
            await asyncio.to_thread(_pwrite_all, self.fd, data, offset, hasher)
        except OSError as exc:
            raise PathNotWritableError(f"cannot write {self.path}: {exc.strerror}") from exc

    async def sync(self) -> None:
        await asyncio.to_thread(os.fdatasync, self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


async def file_digest(path: Path, algorithm: str = "sha256") -> str:
    return await asyncio.to_thread(_digest, path, algorithm)


async def verify_checksum(path: Path, fmt: Format, sha256: str | None = None) -> str | None:
    """Check the checksum the source announced; returns the sha256 when one was computed.

    ``sha256`` is the file's digest when the engine computed it already."""
    if fmt.sha256:
        actual = sha256 or await file_digest(path, "sha256")
        if actual.lower() != fmt.sha256.lower():
            raise IntegrityError(f"sha256 mismatch for {fmt.url}: got {actual}")
        return actual
    if fmt.md5:
        actual = await file_digest(path, "md5")
        if actual.lower() != fmt.md5.lower():
            raise IntegrityError(f"md5 mismatch for {fmt.url}: got {actual}")
    return None
