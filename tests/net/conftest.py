from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediavault.config import Settings
from mediavault.net import RetryPolicy
from tests.support.origin import Origin

FAST_RETRY = RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.05, jitter=0.0)


def local_settings(**overrides: Any) -> Settings:
    """Settings that may reach the loopback origin (and nothing else)."""
    values: dict[str, Any] = {
        "allow_private_networks": True,
        "allowed_hosts": ["127.0.0.1", "localhost", "::1"],
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[Origin]:
    root = tmp_path / "origin"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello world")
    (root / "blob.bin").write_bytes(os.urandom(300_000))
    with Origin(root) as server:
        yield server
