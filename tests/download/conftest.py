"""Fixtures for the transfer engine: a local origin, settings that may reach it, a session."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.net.session import HttpSession
from tests.download.media import make_media
from tests.support.origin import Origin


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_random(path: Path, size: int, seed: int = 0) -> str:
    """A file of ``size`` pseudo-random bytes; returns its sha256."""
    rng = __import__("random").Random(seed)
    data = rng.randbytes(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def origin_root(tmp_path: Path) -> Path:
    root = tmp_path / "origin"
    root.mkdir()
    return root


@pytest.fixture
def origin(origin_root: Path) -> Iterator[Origin]:
    with Origin(origin_root) as server:
        yield server


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HLS/DASH renditions of a 12 s clip, generated once per test session."""
    root = tmp_path_factory.mktemp("media")
    make_media(root)
    return root


@pytest.fixture
def media_origin(media_root: Path) -> Iterator[Origin]:
    with Origin(media_root) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        allow_private_networks=True,
        allowed_hosts=os.environ.get("MEDIAVAULT_ALLOWED_HOSTS", "127.0.0.1,localhost,::1"),
        stall_timeout=1.0,
        read_timeout=5.0,
        connect_timeout=5.0,
        max_retries=6,
    )


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[HttpSession]:
    async with HttpSession(settings) as http:
        yield http


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out
