"""Side files of an item: subtitles and thumbnails, chosen and downloaded into a work dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mediavault.models import MediaItem, Subtitle, Thumbnail
from mediavault.net.session import HttpSession
from mediavault.storage.templates import sanitize_component

__all__ = ["choose_subtitles", "choose_thumbnail", "fetch_to"]

_EXT_PREFERENCE = ("vtt", "srt", "ass")
_MAX_SIDECAR_BYTES = 20 * 1024 * 1024


def _lang_matches(lang: str, wanted: str) -> bool:
    lang, wanted = lang.lower(), wanted.lower()
    return lang == wanted or lang.startswith(wanted + "-") or lang.startswith(wanted + "_")


def _rank(sub: Subtitle) -> tuple[int, int]:
    ext = sub.ext.lower()
    ext_rank = _EXT_PREFERENCE.index(ext) if ext in _EXT_PREFERENCE else len(_EXT_PREFERENCE)
    return (1 if sub.automatic else 0, ext_rank)


def choose_subtitles(item: MediaItem, languages: Sequence[str]) -> list[Subtitle]:
    """One track per language asked for (``all`` = every language), manual before automatic."""
    wanted = [lang.strip() for lang in languages if lang.strip()]
    every = any(lang.lower() == "all" for lang in wanted)
    by_lang: dict[str, Subtitle] = {}
    for sub in sorted(item.subtitles, key=_rank):
        if sub.lang in by_lang:
            continue
        if every or any(_lang_matches(sub.lang, lang) for lang in wanted):
            by_lang[sub.lang] = sub
    return list(by_lang.values())


def choose_thumbnail(item: MediaItem) -> Thumbnail | None:
    """The largest thumbnail (the last listed when sizes are unknown)."""
    if not item.thumbnails:
        return None
    indexed = list(enumerate(item.thumbnails))
    return max(indexed, key=lambda pair: ((pair[1].width or 0) * (pair[1].height or 0), pair[0]))[1]


async def fetch_to(session: HttpSession, url: str, directory: Path, name: str) -> Path:
    """GET a small side file into ``directory/name`` (retries, guarded like everything)."""
    response = await session.request("GET", url)
    content = response.content[:_MAX_SIDECAR_BYTES]
    path = directory / sanitize_component(name)
    path.write_bytes(content)
    return path
