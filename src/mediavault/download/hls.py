"""Fragment plans: what to fetch, in order, for an HLS playlist or a DASH fragment list.

HLS: master playlists resolve to one variant; media playlists give segments with
byte ranges (``EXT-X-BYTERANGE``, offsets continuing on the same resource), init
segments (``EXT-X-MAP``, emitted whenever it changes) and AES-128 keys (fetched once per
key URI; IV explicit or the media sequence number). SAMPLE-AES and key formats other
than ``identity`` are DRM: refused, never decrypted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import m3u8

from mediavault.config import Settings
from mediavault.errors import (
    DRMProtectedError,
    ExtractionError,
    FormatNotAvailableError,
    IntegrityError,
)
from mediavault.models import Format, Protocol

from .transport import Transport

__all__ = ["FragmentPlan", "FragmentSpec", "is_drm_key", "resolve_fragments"]

_MAX_PLAYLIST_HOPS = 3


@dataclass(frozen=True)
class FragmentSpec:
    url: str
    byte_range: tuple[int, int] | None = None  # inclusive start, end
    key: bytes | None = None  # AES-128 key
    iv: bytes | None = None
    is_init: bool = False


@dataclass(frozen=True)
class FragmentPlan:
    fragments: tuple[FragmentSpec, ...]
    container: str  # what the concatenated fragments are: "ts" or "mp4"
    signature: str  # identifies the fragment list across runs (resume safety)


def _signature(fragments: tuple[FragmentSpec, ...]) -> str:
    hasher = hashlib.sha256()
    for frag in fragments:
        hasher.update(f"{urlsplit(frag.url).path}|{frag.byte_range}|{frag.is_init}\n".encode())
    return hasher.hexdigest()


async def resolve_fragments(fmt: Format, transport: Transport, settings: Settings) -> FragmentPlan:
    """The ordered fragments of ``fmt`` (HLS playlist URL or DASH ``fmt.fragments``)."""
    if fmt.protocol is Protocol.DASH:
        return _dash_plan(fmt)
    return await _hls_plan(fmt, transport)


def _dash_plan(fmt: Format) -> FragmentPlan:
    if not fmt.fragments:
        raise FormatNotAvailableError(f"DASH format {fmt.format_id} has no fragment list")
    frags = tuple(
        FragmentSpec(url=f.url, byte_range=f.byte_range, is_init=i == 0)
        for i, f in enumerate(fmt.fragments)
    )
    return FragmentPlan(frags, "mp4", _signature(frags))


async def _fetch_text(transport: Transport, url: str) -> tuple[str, str]:
    response = await transport.session.request("GET", url, headers=transport.headers)
    try:
        return response.content.decode("utf-8-sig"), str(response.url)
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"{url} is not a playlist") from exc


async def _hls_plan(fmt: Format, transport: Transport) -> FragmentPlan:
    url = fmt.url
    for _ in range(_MAX_PLAYLIST_HOPS):
        text, final_url = await _fetch_text(transport, url)
        if not text.lstrip().startswith("#EXTM3U"):
            raise ExtractionError(f"{url} is not an HLS playlist")
        playlist = m3u8.loads(text, uri=final_url)
        if playlist.is_variant:
            url = _pick_variant(playlist, fmt)
            continue
        return await _media_plan(playlist, transport)
    raise ExtractionError(f"{fmt.url}: master playlists nested too deep")


def _pick_variant(playlist: Any, fmt: Format) -> str:
    """The variant matching the format's bitrate/height, else the highest bandwidth."""
    variants = [p for p in playlist.playlists if p.uri]
    if not variants:
        raise FormatNotAvailableError("master playlist has no variants")

    def score(variant: Any) -> tuple[float, float]:
        info = variant.stream_info
        bandwidth = float(info.bandwidth or info.average_bandwidth or 0)
        height = float(info.resolution[1]) if info.resolution else 0.0
        if fmt.tbr:
            return (-abs(bandwidth - fmt.tbr * 1000), bandwidth)
        if fmt.height:
            return (-abs(height - fmt.height), bandwidth)
        return (bandwidth, height)

    best = max(variants, key=score)
    return str(best.absolute_uri)


def _parse_byterange(
    text: str | None, url: str, next_offsets: dict[str, int]
) -> tuple[int, int] | None:
    if not text:
        return None
    length_text, _, offset_text = text.partition("@")
    length = int(length_text)
    start = int(offset_text) if offset_text else next_offsets.get(url, 0)
    next_offsets[url] = start + length
    return start, start + length - 1


def _iv_for(key: Any, sequence: int) -> bytes:
    if key.iv:
        raw = str(key.iv)
        digits = raw[2:] if raw.lower().startswith("0x") else raw
        return bytes.fromhex(digits.rjust(32, "0"))
    return sequence.to_bytes(16, "big")


async def _media_plan(playlist: Any, transport: Transport) -> FragmentPlan:
    keys: dict[str, bytes] = {}
    next_offsets: dict[str, int] = {}
    frags: list[FragmentSpec] = []
    current_init: tuple[str, str | None] | None = None
    base_sequence = int(playlist.media_sequence or 0)
    for index, segment in enumerate(playlist.segments):
        init = segment.init_section
        if init is not None and (init.absolute_uri, init.byterange) != current_init:
            current_init = (init.absolute_uri, init.byterange)
            init_range = _parse_byterange(init.byterange, init.absolute_uri, {})
            frags.append(FragmentSpec(url=init.absolute_uri, byte_range=init_range, is_init=True))
        key_bytes, iv = None, None
        key = segment.key
        if key is not None and key.method and key.method.upper() != "NONE":
            _refuse_drm(key)
            if key.absolute_uri not in keys:
                keys[key.absolute_uri] = await _fetch_key(transport, key.absolute_uri)
            key_bytes = keys[key.absolute_uri]
            iv = _iv_for(key, base_sequence + index)
        url = segment.absolute_uri
        byte_range = _parse_byterange(segment.byterange, url, next_offsets)
        frags.append(FragmentSpec(url=url, byte_range=byte_range, key=key_bytes, iv=iv))
    if not any(not f.is_init for f in frags):
        raise ExtractionError("HLS playlist has no segments")
    container = "mp4" if current_init is not None else "ts"
    result = tuple(frags)
    return FragmentPlan(result, container, _signature(result))


def is_drm_key(key: Any) -> bool:
    """Whether an HLS (session) key is DRM: anything but plain AES-128 or none."""
    method = str(key.method or "NONE").upper()
    keyformat = (key.keyformat or "identity").lower()
    return method not in ("NONE", "AES-128") or keyformat != "identity"


def _refuse_drm(key: Any) -> None:
    if is_drm_key(key):
        method, keyformat = str(key.method).upper(), (key.keyformat or "identity").lower()
        raise DRMProtectedError(f"HLS stream uses {method} ({keyformat}); DRM is not supported")


async def _fetch_key(transport: Transport, url: str) -> bytes:
    response = await transport.session.request("GET", url, headers=transport.headers)
    data = response.content
    if len(data) != 16:
        raise IntegrityError(f"AES-128 key from {url} has {len(data)} bytes, expected 16")
    return data
