from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.errors import PathNotWritableError
from mediavault.storage import open_storage
from mediavault.storage.s3 import S3Storage
from tests.storage.conftest import make_file
from tests.storage.seaweed import SeaweedS3


async def test_multipart_upload_and_conflict(s3_storage: S3Storage, tmp_path: Path) -> None:
    s3_storage.multipart_threshold = 1024 * 1024
    s3_storage.part_size = 5 * 1024 * 1024  # the S3 minimum
    data = os.urandom(11 * 1024 * 1024)
    stored = await s3_storage.put(make_file(tmp_path / "a", "big.bin", data), "big.bin")
    assert stored.size == len(data)
    assert await s3_storage.get_bytes("big.bin") == data
    other = bytearray(data)
    other[-1] ^= 0xFF  # same size, different content
    second = await s3_storage.put(make_file(tmp_path / "b", "big.bin", bytes(other)), "big.bin")
    assert second.key == "big (2).bin"
    same = await s3_storage.put(make_file(tmp_path / "c", "big.bin", data), "big.bin")
    assert same.key == "big.bin"
    client = s3_storage.client
    uploads = client.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])
    assert [u for u in uploads if u["Key"].startswith(s3_storage.prefix)] == []


async def test_keys_live_under_the_prefix(s3_storage: S3Storage, seaweed: SeaweedS3, tmp_path: Path) -> None:
    await s3_storage.put(make_file(tmp_path, "a.txt", b"a"), "d/a.txt")
    listed = seaweed.client().list_objects_v2(Bucket=seaweed.bucket, Prefix=s3_storage.prefix)
    assert [o["Key"] for o in listed["Contents"]] == [f"{s3_storage.prefix}/d/a.txt"]


async def test_open_storage_against_seaweed(seaweed: SeaweedS3, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, s3_endpoint_url=seaweed.endpoint)
    storage = open_storage(f"s3://{seaweed.bucket}/via-url", settings)
    await storage.check_writable()
    stored = await storage.put(make_file(tmp_path / "w", "v.mp4", b"video"), "u/v.mp4")
    assert stored.uri == f"s3://{seaweed.bucket}/via-url/u/v.mp4"
    assert [k async for k in storage.iter_keys()] == ["u/v.mp4"]


async def test_missing_bucket_is_not_writable(seaweed: SeaweedS3) -> None:
    storage = S3Storage("no-such-bucket-here", "", seaweed.endpoint, client=seaweed.client())
    with pytest.raises(PathNotWritableError):
        await storage.check_writable()
