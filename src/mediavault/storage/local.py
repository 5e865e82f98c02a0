"""Local-filesystem storage: files under a root directory, moved into place atomically."""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from mediavault.errors import NotFoundError, PathNotWritableError, StorageError
from mediavault.storage.base import (
    CHUNK_SIZE,
    INTERNAL_PREFIX,
    StorageBackend,
    StoredObject,
    check_key,
    numbered_key,
)
from mediavault.storage.hashing import same_content

__all__ = ["LocalStorage"]

STATE_DIR = ".mediavault"
TEMP_PREFIX = ".mv-tmp-"


class LocalStorage(StorageBackend):
    """Files under ``root``; internal state lives in ``root/.mediavault``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # paths ---------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        check_key(key)
        path = self.root.joinpath(*key.split("/"))
        resolved_root = self.root.resolve()
        if not path.resolve().is_relative_to(resolved_root):
            raise StorageError(f"storage key {key!r} leaves the storage root")
        return path

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def scratch_dir(self) -> Path:
        path = self.root / STATE_DIR / "tmp"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PathNotWritableError(f"cannot write to {self.root}: {exc.strerror}") from exc
        return path

    # writing -------------------------------------------------------------------------

    async def check_writable(self) -> None:
        await asyncio.to_thread(self._check_writable)

    def _check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{TEMP_PREFIX}probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise PathNotWritableError(
                f"output directory {self.root} is not writable: {exc.strerror or exc}",
                detail={"path": str(self.root)},
            ) from exc

    async def put(self, local_path: Path, key: str) -> StoredObject:
        return await asyncio.to_thread(self._put, Path(local_path), key)

    def _put(self, source: Path, key: str) -> StoredObject:
        if not source.is_file():
            raise StorageError(f"nothing to store: {source} is not a file")
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = self._stage(source, target.parent)
        except OSError as exc:
            raise PathNotWritableError(
                f"cannot write to {target.parent}: {exc.strerror or exc}",
                detail={"path": str(target.parent)},
            ) from exc
        try:
            final_key = self._link_into_place(temp, key)
        finally:
            temp.unlink(missing_ok=True)
        source.unlink(missing_ok=True)
        path = self._path(final_key)
        return StoredObject(key=final_key, size=path.stat().st_size, uri=path.as_uri())

    @staticmethod
    def _stage(source: Path, directory: Path) -> Path:
        """A temp name in ``directory`` holding ``source``'s bytes (a hard link if possible)."""
        temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            os.link(source, temp)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            try:
                shutil.copyfile(source, temp)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        return temp

    def _link_into_place(self, temp: Path, key: str) -> str:
        """Give ``temp`` the name ``key`` without ever replacing another file."""
        candidate = key
        for number in range(2, self.max_numbered + 2):
            target = self._path(candidate)
            try:
                os.link(temp, target)  # atomic, fails if the name exists
                return candidate
            except FileExistsError:
                if target.is_file() and same_content(temp, target):
                    return candidate
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                    raise StorageError(f"cannot store {key}: {exc.strerror}") from exc
                if not target.exists():  # no hard links here: best-effort no-clobber
                    os.replace(temp, target)
                    return candidate
                if same_content(temp, target):
                    return candidate
            candidate = numbered_key(key, number)
        raise StorageError(f"no free name for {key} after {self.max_numbered} tries")

    # reading -------------------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def size(self, key: str) -> int:
        path = self._path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError as exc:
            raise NotFoundError(f"no stored file {key!r}") from exc

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, True)

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFoundError(f"no stored file {key!r}") from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else max(0, end - start + 1)
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def iter_keys(self, prefix: str = "") -> AsyncIterator[str]:
        keys = await asyncio.to_thread(self._list, prefix)
        for key in keys:
            yield key

    def _list(self, prefix: str) -> list[str]:
        out: list[str] = []
        if not self.root.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(INTERNAL_PREFIX))
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                if name.startswith(INTERNAL_PREFIX):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    out.append(key)
        return out

    async def prune_empty_dirs(self) -> None:
        await asyncio.to_thread(self._prune)

    def _prune(self) -> None:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=False):
            path = Path(dirpath)
            if path == self.root or any(
                part.startswith(INTERNAL_PREFIX) for part in path.relative_to(self.root).parts
            ):
                continue
            if not filenames and not any((path / d).exists() for d in dirnames):
                try:
                    path.rmdir()
                except OSError:
                    continue
