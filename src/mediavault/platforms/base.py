"""The adapter protocol and the registry.

An adapter turns one URL into typed results. It declares itself with class attributes:

- ``name``: the platform key (``"youtube"``-style names come from yt-dlp's extractor key;
  native adapters use ``"onlyfans"``, ``"fansly"``, ``"loyalfans"``, ``"tiktok"``)
- ``pattern``: a regex matched against the URL
- ``example``: a URL the pattern must match (the registry test builds every adapter from it)

Constructing an adapter makes no request. ``extract()`` returns a ``MediaItem`` or a
``Collection``; ``iter_entries()`` pages through a collection newest-first, yielding
either resolved ``MediaItem``s (creator platforms carry media inline) or
``CollectionEntry`` references to extract later.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from mediavault.errors import UnsupportedURLError
from mediavault.models import Collection, CollectionEntry, MediaItem

if TYPE_CHECKING:
    from mediavault.config import Settings
    from mediavault.net.session import HttpSession

__all__ = ["Adapter", "AdapterContext", "Cursor", "adapter_for", "fetches_url", "register"]

Cursor = dict[str, Any]


@dataclass
class AdapterContext:
    """What an adapter may use: settings, the shared HTTP session, the user's credentials."""

    settings: Settings
    session: HttpSession
    credentials: dict[str, Any] = field(default_factory=dict)  # platform -> auth dict
    cookies_file: str | None = None


class Adapter(ABC):
    name: ClassVar[str]
    pattern: ClassVar[str]
    example: ClassVar[str]
    # False for native adapters that never request the URL itself, only their configured
    # API base (MEDIAVAULT_<PLATFORM>_API_BASE), which the HTTP session guards.
    fetches_url: ClassVar[bool] = True
    # True for adapters of creators' profiles (scraped into many items, not one download)
    profiles: ClassVar[bool] = False

    def __init__(self, url: str, ctx: AdapterContext) -> None:
        self.url = url
        self.ctx = ctx
        self.match = self.compiled().match(url)

    @classmethod
    def compiled(cls) -> re.Pattern[str]:
        return re.compile(cls.pattern)

    @classmethod
    def suitable(cls, url: str) -> bool:
        return cls.compiled().match(url) is not None

    @abstractmethod
    async def extract(self) -> MediaItem | Collection:
        """Metadata of the item, or of the collection with (a first page of) entries."""

    async def iter_entries(
        self, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        """Entries newest-first with a cursor to resume after each one (paged, lazy).

        The default walks ``extract()``'s entries; adapters with server-side paging
        override it so a 5,000-item channel is never held in memory at once.
        """
        result = await self.extract()
        if isinstance(result, MediaItem):
            yield result, None
            return
        start = int((cursor or {}).get("offset", 0))
        for offset, entry in enumerate(result.entries[start:], start=start + 1):
            yield entry, {"offset": offset}

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the adapter opened (browsers, sessions)."""


_REGISTRY: list[type[Adapter]] = []


def register(cls: type[Adapter]) -> type[Adapter]:
    """Add an adapter class; the generic (yt-dlp) adapter must be registered last."""
    _REGISTRY.append(cls)
    return cls


def registry() -> list[type[Adapter]]:
    from mediavault.platforms import load_adapters

    load_adapters()
    # catch-all adapters (``generic = True``) go last whatever the import order was
    return sorted(_REGISTRY, key=lambda cls: bool(getattr(cls, "generic", False)))


def fetches_url(url: str) -> bool:
    """Whether extracting ``url`` requests that URL (False for API-based native adapters)."""
    try:
        return adapter_for(url).fetches_url
    except UnsupportedURLError:
        return True


def adapter_for(url: str) -> type[Adapter]:
    for cls in registry():
        if cls.suitable(url):
            return cls
    raise UnsupportedURLError(f"no adapter supports {url!r}")
