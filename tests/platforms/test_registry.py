"""STYLE point 2: every registered adapter is built from its ``example``, the registry picks
it for that URL, and constructing it makes no request."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mediavault.config import Settings
from mediavault.errors import UnsupportedURLError
from mediavault.net.session import HttpSession
from mediavault.platforms import ADAPTER_MODULES
from mediavault.platforms.base import AdapterContext, adapter_for, registry
from mediavault.platforms.ytdlp import YtdlpAdapter

ADAPTERS = registry()


def test_generic_adapter_is_registered_last() -> None:
    assert ADAPTERS[-1] is YtdlpAdapter
    assert ADAPTER_MODULES[-1] == "mediavault.platforms.ytdlp"
    assert len({cls.name for cls in ADAPTERS}) == len(ADAPTERS)


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda cls: cls.name)
async def test_example_is_matched_and_construction_is_silent(cls: type, settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(599)

    async with HttpSession(settings) as session:
        session.client = httpx.AsyncClient(transport=httpx.MockTransport(record))
        assert cls.suitable(cls.example)
        assert adapter_for(cls.example) is cls
        adapter = cls(cls.example, AdapterContext(settings=settings, session=session))
        await asyncio.sleep(0.05)  # anything it scheduled would have run by now
        assert adapter.url == cls.example
        await adapter.close()
        await session.client.aclose()
    assert seen == []


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp4", "file:///etc/passwd", "not a url", ""])
def test_urls_no_adapter_supports(url: str) -> None:
    with pytest.raises(UnsupportedURLError):
        adapter_for(url)
