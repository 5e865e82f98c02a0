"""Fragment plans: what to fetch, in order, for an HLS playlist or a DASH fragment list.

HLS: master playlists resolve to one variant; media playlists give segments with
byte ranges (``EXT-X-BYTERANGE``, offsets continuing on the same resource), init
segments (``EXT-X-MAP``, emitted whenever it changes and after every
``EXT-X-DISCONTINUITY``) and AES-128 keys (fetched once per key URI, ``data:`` URIs
included; IV explicit or the media sequence number; an init section declared after an
AES-128 key is encrypted with it too). Segments marked ``EXT-X-GAP`` are skipped, as
players skip them. SAMPLE-AES and key formats other than ``identity`` are DRM: refused,
never decrypted. A playlist without ``EXT-X-ENDLIST`` (and not ``PLAYLIST-TYPE:VOD``) is
live: refused with a clear error rather than saved as whatever window it lists now.

Playlists are read as packagers write them, not only as RFC 8216 says: a float where an
integer belongs (``#EXT-X-TARGETDURATION:10.0``) is accepted, anything else the parser
cannot read is an :class:`ExtractionError`; relative URIs resolve as RFC 3986 says
(:func:`join_url`, which keeps the empty segments of ``/a//b/`` that ``urljoin`` drops).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

import m3u8

from mediavault.config import Settings
from mediavault.errors import (
    DRMProtectedError,
    ExtractionError,
    FormatNotAvailableError,
    IntegrityError,
)
from mediavault.models import Format, Protocol

from .transport import Transport, pick_error

__all__ = [
    "FragmentPlan",
    "FragmentSpec",
    "is_drm_key",
    "join_url",
    "load_playlist",
    "resolve_fragments",
]

_MAX_PLAYLIST_HOPS = 3
_KEY_FETCHES = 8  # keys fetched at once (playlists rotating keys every segment exist)


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
    frags = tuple(  # yt-dlp leaves spaces and non-ASCII in them; a request line cannot
        FragmentSpec(url=_requote(f.url), byte_range=f.byte_range, is_init=i == 0)
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
        playlist = load_playlist(text, final_url)
        if playlist.is_variant:
            url = _pick_variant(playlist, fmt, final_url)
            continue
        return await _media_plan(playlist, final_url, transport)
    raise ExtractionError(f"{fmt.url}: master playlists nested too deep")


def _pick_variant(playlist: Any, fmt: Format, url: str) -> str:
    """The variant matching the format's bitrate/height, else the highest bandwidth.

    The bitrate compared is the one a format's ``tbr`` is made of (AVERAGE-BANDWIDTH
    before BANDWIDTH, as :mod:`mediavault.platforms._hls_manifest` lists them)."""
    variants = [p for p in playlist.playlists if p.uri]
    if not variants:
        raise FormatNotAvailableError("master playlist has no variants")

    def score(variant: Any) -> tuple[float, float]:
        info = variant.stream_info
        bandwidth = float(info.average_bandwidth or info.bandwidth or 0)
        height = float(info.resolution[1]) if info.resolution else 0.0
        if fmt.tbr:
            return (-abs(bandwidth - fmt.tbr * 1000), bandwidth)
        if fmt.height:
            return (-abs(height - fmt.height), bandwidth)
        return (bandwidth, height)

    best = max(variants, key=score)
    return join_url(url, best.uri)


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


def _iv_from(text: str | None, sequence: int) -> bytes:
    """The explicit IV (``0x``-prefixed hex, or bare hex as some write it), else the
    media sequence number."""
    if not text:
        return sequence.to_bytes(16, "big")
    raw = str(text).strip()
    digits = raw[2:] if raw.lower().startswith("0x") else raw
    try:
        iv = bytes.fromhex(digits.rjust(32, "0"))
    except ValueError as exc:
        raise ExtractionError(f"malformed AES-128 IV {raw!r}") from exc
    if len(iv) != 16:
        raise ExtractionError(f"malformed AES-128 IV {raw!r}: not 16 bytes")
    return iv


class _Keys:
    """AES-128 keys of one media playlist, each URI fetched once."""

    def __init__(self, playlist_url: str, transport: Transport) -> None:
        self.playlist_url = playlist_url
        self.transport = transport
        self.cache: dict[str, bytes] = {}

    async def prefetch(self, playlist: Any) -> None:
        """Every AES-128 key the segments use, ``_KEY_FETCHES`` at a time, so a playlist
        with a key per segment costs a few round trips, not one per segment."""
        urls = {
            join_url(self.playlist_url, key.uri)
            for key in (segment.key for segment in playlist.segments)
            if key is not None and key.uri and str(key.method or "").upper() == "AES-128"
            and not is_drm_key(key)
        }
        slots = asyncio.Semaphore(_KEY_FETCHES)

        async def one(url: str) -> None:
            async with slots:
                self.cache[url] = await _fetch_key(self.transport, url)

        try:
            async with asyncio.TaskGroup() as group:
                for url in sorted(urls):
                    group.create_task(one(url))
        except BaseExceptionGroup as errors:
            raise pick_error(errors) from None

    async def get(self, uri: str | None) -> bytes:
        if not uri:
            raise ExtractionError(f"{self.playlist_url}: an AES-128 EXT-X-KEY without URI")
        url = join_url(self.playlist_url, uri)
        if url not in self.cache:
            self.cache[url] = await _fetch_key(self.transport, url)
        return self.cache[url]


def _refuse_live(playlist: Any, url: str) -> None:
    if not playlist.is_endlist and str(playlist.playlist_type or "").lower() != "vod":
        raise FormatNotAvailableError(
            f"{url} is a live HLS playlist (no #EXT-X-ENDLIST): recording live streams is "
            "not supported"
        )


def _keys_before_maps(playlist: Any) -> list[dict[str, Any] | None]:
    """Per segment, the EXT-X-KEY declared before its EXT-X-MAP (:func:`_note_map_keys`);
    all None when segments without EXTINF make that unknowable."""
    noted: list[dict[str, Any] | None] = playlist.data.get("map_keys") or []
    return noted if len(noted) == len(playlist.segments) else [None] * len(playlist.segments)


async def _media_plan(playlist: Any, playlist_url: str, transport: Transport) -> FragmentPlan:
    _refuse_live(playlist, playlist_url)
    for key in playlist.keys or []:
        if key is not None and key.method:
            _refuse_drm(key)  # before any key or segment is fetched
    keys = _Keys(playlist_url, transport)
    await keys.prefetch(playlist)
    next_offsets: dict[str, int] = {}
    frags: list[FragmentSpec] = []
    current_init: tuple[str, str | None] | None = None
    base_sequence = int(playlist.media_sequence or 0)
    map_keys = _keys_before_maps(playlist)
    for index, segment in enumerate(playlist.segments):
        if segment.discontinuity:
            current_init = None  # each period starts with its init (see remux.mp4_periods)
        init = segment.init_section
        init_url = join_url(playlist_url, init.uri) if init is not None else ""
        if init is not None and (init_url, init.byterange) != current_init:
            current_init = (init_url, init.byterange)
            init_range = _parse_byterange(init.byterange, init_url, {})
            if init_range is not None:  # a first segment without offset follows the init
                next_offsets.setdefault(init_url, init_range[1] + 1)
            init_key, init_iv = None, None
            declared = map_keys[index] or {}
            if (
                str(declared.get("method", "")).upper() == "AES-128"
                and str(declared.get("keyformat") or "identity").lower() == "identity"
            ):
                # an EXT-X-KEY before the EXT-X-MAP applies to the init section too
                init_key = await keys.get(declared.get("uri"))
                init_iv = _iv_from(declared.get("iv"), base_sequence + index)
            frags.append(FragmentSpec(url=init_url, byte_range=init_range, key=init_key,
                                      iv=init_iv, is_init=True))
        url = join_url(playlist_url, segment.uri)
        byte_range = _parse_byterange(segment.byterange, url, next_offsets)
        if segment.gap_tag:
            continue  # EXT-X-GAP: a segment the server says is missing; players skip it
        key_bytes, iv = None, None
        key = segment.key
        if key is not None and key.method and key.method.upper() != "NONE":
            _refuse_drm(key)
            key_bytes = await keys.get(key.uri)
            iv = _iv_from(key.iv, base_sequence + index)
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
    if url[:5].lower() == "data:":
        data = _data_url(url)
    else:
        response = await transport.session.request("GET", url, headers=transport.headers)
        data = response.content
    if len(data) != 16:
        raise IntegrityError(f"AES-128 key from {url} has {len(data)} bytes, expected 16")
    return data


def _data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URL (RFC 2397), as keys are sometimes inlined."""
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise ExtractionError("malformed data: URL for an AES-128 key")
    raw = unquote_to_bytes(payload)
    if not header.lower().endswith(";base64"):
        return raw
    try:
        return base64.b64decode(raw, validate=False)
    except binascii.Error as exc:
        raise ExtractionError("malformed base64 in a data: URL AES-128 key") from exc


# integer tags some packagers write as decimals; TARGETDURATION is rounded up
_INTEGER_TAG = re.compile(
    r"^(#EXT-X-(?:TARGETDURATION|MEDIA-SEQUENCE|DISCONTINUITY-SEQUENCE|VERSION):)"
    r"[ \t]*(\d+)\.(\d*)[ \t\r]*$",
    re.MULTILINE,
)


def load_playlist(text: str, url: str) -> Any:
    """``text`` (fetched from ``url``, its final URL) parsed by ``m3u8``, leniently.

    A malformed playlist raises :class:`ExtractionError`, never the parser's own errors.
    """

    def integer(match: re.Match[str]) -> str:
        whole, fraction = int(match[2]), match[3].strip("0")
        if fraction and match[1] == "#EXT-X-TARGETDURATION:":
            whole = math.ceil(float(f"{match[2]}.{match[3]}"))
        return f"{match[1]}{whole}"

    try:
        text = _INTEGER_TAG.sub(integer, text)
        return m3u8.loads(text, uri=url, custom_tags_parser=_note_map_keys)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ExtractionError(f"{url}: malformed HLS playlist ({exc})") from exc


def _note_map_keys(line: str, lineno: int, data: dict[str, Any], state: dict[str, Any]) -> bool:
    """Records, per segment, the EXT-X-KEY in effect where its EXT-X-MAP was declared
    (``data["map_keys"]``): RFC 8216 encrypts an init section declared under a key."""
    if line.startswith("#EXT-X-MAP"):
        state["map_key"] = state.get("current_key")
    elif line.startswith("#EXTINF"):
        data.setdefault("map_keys", []).append(state.get("map_key"))
    return False  # the line is still parsed as usual


def join_url(base: str, ref: str) -> str:
    """``ref`` resolved against ``base`` as RFC 3986 section 5.2 does.

    ``urllib.parse.urljoin`` (and so ``m3u8``'s ``absolute_uri``) drops the empty path
    segments of a relative merge: ``a.ts`` against ``/v//1/index.m3u8`` would become
    ``/v/1/a.ts``, a different object on a CDN or S3. Here they are kept. Characters a URI
    cannot hold (spaces, non-ASCII: ``My Video 1.ts``) are percent-encoded, as browsers
    do; a valid URI comes out unchanged.
    """
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return _requote(urljoin(base, ref))  # urljoin is right for these
    head = urlsplit(base)
    directory = head.path.rpartition("/")[0] if head.path else ""
    path = _remove_dot_segments(f"{directory}/{parts.path}")
    return _requote(urlunsplit((head.scheme, head.netloc, path, parts.query, parts.fragment)))


_URI_SAFE = "/%:@!$&'()*+,;=~"  # with letters, digits and "_.-": what a URI may hold


def _requote(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return url
    path = quote(parts.path, safe=_URI_SAFE)
    query = quote(parts.query, safe=_URI_SAFE + "?")
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
            continue
        if last:
            out.append("")  # "a/b/.." and "a/." end in a slash
    return "/" + "/".join(out)
