"""The StorageBackend contract, run against local disk and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from mediavault.errors import InputError, NotFoundError
from mediavault.storage import LocalStorage, StorageBackend
from mediavault.storage.s3 import S3Storage
from tests.storage.conftest import make_file


async def keys(backend: StorageBackend, prefix: str = "") -> list[str]:
    return [key async for key in backend.iter_keys(prefix)]


async def read(backend: StorageBackend, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in backend.open_range(key, start, end)])


async def test_put_read_list_delete(backend: StorageBackend, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    source = make_file(tmp_path / "work", "clip.mp4", data)
    stored = await backend.put(source, "Uploader/2024 - Clip [id1].mp4")
    assert stored.key == "Uploader/2024 - Clip [id1].mp4"
    assert stored.size == len(data)
    assert stored.uri == backend.uri(stored.key)
    assert not source.exists()  # put consumes its source
    assert await backend.exists(stored.key)
    assert await backend.size(stored.key) == len(data)
    assert await read(backend, stored.key) == data
    assert await read(backend, stored.key, 10, 19) == data[10:20]
    assert await read(backend, stored.key, len(data) - 5) == data[-5:]
    assert await backend.sha256(stored.key) == hashlib.sha256(data).hexdigest()
    assert await keys(backend) == [stored.key]
    assert await keys(backend, "Uploader/") == [stored.key]
    assert await keys(backend, "Other/") == []
    await backend.delete(stored.key)
    assert not await backend.exists(stored.key)
    await backend.delete(stored.key)  # deleting twice is fine
    await backend.prune_empty_dirs()
    assert await keys(backend) == []


async def test_identical_content_is_not_stored_twice(
    backend: StorageBackend, tmp_path: Path
) -> None:
    first = await backend.put(make_file(tmp_path / "a", "x.mp4", b"same bytes"), "dir/x.mp4")
    again = await backend.put(make_file(tmp_path / "b", "x.mp4", b"same bytes"), "dir/x.mp4")
    assert again.key == first.key
    assert await keys(backend) == ["dir/x.mp4"]


async def test_different_content_is_never_overwritten(
    backend: StorageBackend, tmp_path: Path
) -> None:
    await backend.put(make_file(tmp_path / "a", "x.mp4", b"first"), "dir/x.mp4")
    second = await backend.put(make_file(tmp_path / "b", "x.mp4", b"second!"), "dir/x.mp4")
    third = await backend.put(make_file(tmp_path / "c", "x.mp4", b"third"), "dir/x.mp4")
    assert (second.key, third.key) == ("dir/x (2).mp4", "dir/x (3).mp4")
    assert await read(backend, "dir/x.mp4") == b"first"
    assert await read(backend, "dir/x (2).mp4") == b"second!"
    assert sorted(await keys(backend)) == ["dir/x (2).mp4", "dir/x (3).mp4", "dir/x.mp4"]


async def test_concurrent_puts_to_one_key(backend: StorageBackend, tmp_path: Path) -> None:
    sources = [make_file(tmp_path / f"w{i}", "f.bin", f"payload {i}".encode()) for i in range(6)]
    stored = await asyncio.gather(*(backend.put(src, "same/f.bin") for src in sources))
    assert len({s.key for s in stored}) == 6
    contents = {await read(backend, s.key) for s in stored}
    assert contents == {f"payload {i}".encode() for i in range(6)}


async def test_missing_keys(backend: StorageBackend) -> None:
    assert not await backend.exists("nope/x.mp4")
    with pytest.raises(NotFoundError):
        await backend.size("nope/x.mp4")
    with pytest.raises(NotFoundError):
        await read(backend, "nope/x.mp4")


@pytest.mark.parametrize("key", ["../x", "/abs/x", "a//b", "a/./b", "a/../b", "a\x00b", "a\\b", ""])
async def test_invalid_keys_are_refused(backend: StorageBackend, tmp_path: Path, key: str) -> None:
    source = make_file(tmp_path, "f.bin", b"data")
    with pytest.raises(InputError):
        await backend.put(source, key)
    assert source.exists()
    with pytest.raises(InputError):
        await backend.exists(key)


async def test_scratch_dir_and_writability(backend: StorageBackend) -> None:
    await backend.check_writable()
    scratch = backend.scratch_dir()
    assert scratch.is_dir()
    work = make_file(scratch / "job1", "out.mp4", b"work file")
    stored = await backend.put(work, "out.mp4")
    assert await read(backend, stored.key) == b"work file"
    assert await keys(backend) == ["out.mp4"]  # scratch files are never listed


async def test_empty_file(backend: StorageBackend, tmp_path: Path) -> None:
    stored = await backend.put(make_file(tmp_path, "empty.txt", b""), "empty.txt")
    assert stored.size == 0
    assert await read(backend, "empty.txt") == b""


def test_local_and_s3_uris(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path / "m")
    assert local.uri("a b/c.mp4") == (tmp_path / "m" / "a b" / "c.mp4").as_uri()
    assert local.local_path("a/c.mp4") == tmp_path / "m" / "a" / "c.mp4"
    s3 = S3Storage("bucket", "/pre/fix/", "http://127.0.0.1:1", client=object())
    assert s3.uri("a/c.mp4") == "s3://bucket/pre/fix/a/c.mp4"
    assert s3.local_path("a/c.mp4") is None
