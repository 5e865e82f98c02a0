from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mediavault.storage import LocalStorage, StorageBackend
from mediavault.storage.s3 import S3Storage
from tests.storage.seaweed import CREDENTIALS, SeaweedS3, start_seaweed


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    saved = {key: os.environ.get(key) for key in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_storage(seaweed: SeaweedS3, tmp_path: Path) -> S3Storage:
    return S3Storage(
        seaweed.bucket,
        f"t-{uuid.uuid4().hex[:12]}/media",
        seaweed.endpoint,
        scratch=tmp_path / "scratch",
        client=seaweed.client(),
    )


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageBackend]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "store")
    else:
        yield request.getfixturevalue("s3_storage")


def make_file(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return path
