"""Content hashing helpers shared by the backends, dedupe and the pipeline."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

__all__ = ["file_sha256", "same_content", "sha256_file"]

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (blocking; see ``sha256_file`` for async callers)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, computed in a worker thread."""
    return await asyncio.to_thread(file_sha256, Path(path))


def same_content(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes (size first, then sha256)."""
    if a.stat().st_size != b.stat().st_size:
        return False
    return file_sha256(a) == file_sha256(b)
