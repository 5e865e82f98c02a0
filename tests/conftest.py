"""Session-wide fixtures shared by every test package.

- ``media`` / ``media_root``: the ffmpeg-generated media set (``tests.support.media``),
  built once and cached across sessions.
- ``origin``: a fresh local HTTP origin (``tests.support.origin.Origin``) serving
  ``media_root`` plus the dynamic pages (``/page.html``, ``/html5.html``,
  ``/nomedia.html``, ``/feed.rss``); faults/throttles set by one test never leak.
- ``make_settings(**overrides)``: a ``Settings`` factory with a per-test data dir and
  ``allow_private_networks=True`` (the origin is loopback); ``settings`` is its default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediavault.config import Settings
from tests.support.media import MediaSet, ensure_media, install_routes
from tests.support.origin import Origin

# Nothing a test starts may reach beyond loopback, even when run without the Makefile.
os.environ.setdefault("MEDIAVAULT_ALLOWED_HOSTS", "127.0.0.1,localhost,::1")


@pytest.fixture(scope="session")
def media() -> MediaSet:
    return ensure_media()


@pytest.fixture(scope="session")
def media_root(media: MediaSet) -> Path:
    return media.root


def quiet_disconnects(server: Origin) -> Origin:
    """Clients that hang up early (yt-dlp sniffs 512 bytes) are not server errors."""
    inner = server._server
    default = inner.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        default(request, client_address)

    inner.handle_error = handle_error  # type: ignore[method-assign]
    return server


@pytest.fixture
def origin(media_root: Path) -> Iterator[Origin]:
    server = quiet_disconnects(Origin(media_root))
    install_routes(server)
    with server:
        yield server


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "allow_private_networks": True,
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
            "stall_timeout": 10.0,
            "max_retries": 3,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()
