"""mediavault: a self-hosted media archiving engine.

::

    import mediavault

    async with mediavault.Client(output_dir="media") as mv:
        results = await mv.download("https://example.com/video")

The names below are loaded on first use (PEP 562), so ``import mediavault`` (and every
``mediavault ...`` command, whose modules live in this package) pays only for what it
uses: the HTTP stack, pydantic models and the pipeline come in with ``Client``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediavault import errors
    from mediavault.client import Client, PlaylistItems
    from mediavault.config import Settings, get_settings
    from mediavault.errors import MediavaultError
    from mediavault.models import (
        AudioFormat,
        Collection,
        CollectionEntry,
        Creator,
        DownloadOptions,
        DownloadResult,
        Format,
        ItemStatus,
        MediaItem,
        Post,
        Progress,
        Protocol,
        Subtitle,
        Thumbnail,
    )

__version__ = "0.1.0"

_HOMES = {
    "Client": "mediavault.client",
    "PlaylistItems": "mediavault.client",
    "Settings": "mediavault.config",
    "get_settings": "mediavault.config",
    "MediavaultError": "mediavault.errors",
    **dict.fromkeys(
        (
            "AudioFormat", "Collection", "CollectionEntry", "Creator", "DownloadOptions",
            "DownloadResult", "Format", "ItemStatus", "MediaItem", "Post", "Progress",
            "Protocol", "Subtitle", "Thumbnail",
        ),
        "mediavault.models",
    ),
}

__all__ = [
    "AudioFormat",
    "Client",
    "Collection",
    "CollectionEntry",
    "Creator",
    "DownloadOptions",
    "DownloadResult",
    "Format",
    "ItemStatus",
    "MediaItem",
    "MediavaultError",
    "PlaylistItems",
    "Post",
    "Progress",
    "Protocol",
    "Settings",
    "Subtitle",
    "Thumbnail",
    "__version__",
    "errors",
    "get_settings",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None and not name.startswith("__"):  # a submodule (mediavault.client...)?
        try:
            return importlib.import_module(f"mediavault.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mediavault.{name}":
                raise
    if home is None:
        raise AttributeError(f"module 'mediavault' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
