from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.errors import ConfigError, PathNotWritableError, StorageError
from mediavault.storage import LocalStorage, open_storage
from mediavault.storage.s3 import S3Storage
from tests.storage.conftest import make_file


async def test_put_from_scratch_is_a_rename_not_a_copy(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    work = make_file(storage.scratch_dir() / "job", "big.mp4", os.urandom(100_000))
    inode = work.stat().st_ino
    stored = await storage.put(work, "a/big.mp4")
    path = storage.local_path(stored.key)
    assert path is not None and path.stat().st_ino == inode
    assert path.stat().st_nlink == 1
    assert [p.name for p in path.parent.iterdir()] == ["big.mp4"]  # no temp files left


async def test_failed_put_keeps_the_source_and_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    make_file(tmp_path / "media", "blocker", b"a file where a directory should be")
    source = make_file(tmp_path / "work", "x.mp4", b"payload")
    with pytest.raises(PathNotWritableError):
        await storage.put(source, "blocker/x.mp4")
    assert source.read_bytes() == b"payload"
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == ["blocker"]


async def test_unwritable_root_is_reported_early(tmp_path: Path) -> None:
    make_file(tmp_path, "file", b"")
    storage = LocalStorage(tmp_path / "file" / "media")
    with pytest.raises(PathNotWritableError, match="not writable"):
        await storage.check_writable()
    with pytest.raises(PathNotWritableError):
        storage.scratch_dir()


async def test_symlinks_cannot_lead_outside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "media"
    root.mkdir()
    (root / "escape").symlink_to(outside)
    storage = LocalStorage(root)
    source = make_file(tmp_path / "work", "x.mp4", b"payload")
    with pytest.raises(StorageError, match="leaves the storage root"):
        await storage.put(source, "escape/x.mp4")
    assert list(outside.iterdir()) == []


async def test_listing_skips_internal_files_and_prune_keeps_state(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    await storage.put(make_file(tmp_path / "w", "a.mp4", b"a"), "x/y/a.mp4")
    (tmp_path / "media" / "empty" / "deeper").mkdir(parents=True)
    make_file(tmp_path / "media" / ".mediavault", "archive.sqlite3", b"state")
    make_file(tmp_path / "media" / "x", ".mv-tmp-123", b"partial")
    assert [k async for k in storage.iter_keys()] == ["x/y/a.mp4"]
    await storage.delete("x/y/a.mp4")
    await storage.prune_empty_dirs()
    assert not (tmp_path / "media" / "empty").exists()
    assert not (tmp_path / "media" / "x" / "y").exists()
    assert (tmp_path / "media" / "x" / ".mv-tmp-123").exists()  # not ours to judge
    assert (tmp_path / "media" / ".mediavault" / "archive.sqlite3").exists()
    assert (tmp_path / "media").is_dir()


async def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not a file"):
        await LocalStorage(tmp_path).put(tmp_path / "nope", "a.mp4")


def test_open_storage_urls(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, s3_endpoint_url="http://127.0.0.1:9")
    local = open_storage((tmp_path / "my media").as_uri(), settings)
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "my media"
    plain = open_storage(str(tmp_path / "plain"), settings)
    assert isinstance(plain, LocalStorage) and plain.root == tmp_path / "plain"
    default = open_storage(settings.effective_storage_url, settings)
    assert isinstance(default, LocalStorage) and default.root == (tmp_path / "media").resolve()
    for bad in ("ftp://host/x", "file://remote-host/x", "http://127.0.0.1/x"):
        with pytest.raises(ConfigError):
            open_storage(bad, settings)


def test_open_storage_s3_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings(data_dir=tmp_path, s3_endpoint_url="http://127.0.0.1:9")
    s3 = open_storage("s3://archive/team/media/", settings)
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == ("archive", "team/media", "http://127.0.0.1:9")
    assert s3.scratch_dir() == tmp_path / "tmp"
