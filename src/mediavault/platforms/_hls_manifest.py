"""Formats from an HLS playlist, as yt-dlp's generic extractor lists them.

A master playlist gives one format per variant (``<NAME or kbps>``: resolution, frame
rate, codecs, bitrate) and one audio-only format per alternative audio rendition with its
own URI (``<GROUP-ID>-<NAME>``), named as yt-dlp's generic extractor names them, so
format choices carry over; ids that repeat get ``-0``, ``-1``... A variant whose audio
lives in such a rendition carries no audio itself, so selection merges the two. A media
playlist is one format with its duration. A session or segment key other than AES-128
(FairPlay, SAMPLE-AES, ...) marks the formats DRM: they are listed and skipped, never
fetched.
"""

from __future__ import annotations

from typing import Any

from mediavault.download.hls import is_drm_key, join_url, load_playlist
from mediavault.models import Format, Protocol

__all__ = ["HlsManifest", "parse_hls"]

_VIDEO_CODECS = ("avc", "hvc", "hev", "vp0", "vp8", "vp9", "av01", "dvh", "dva", "mp4v")
_AUDIO_CODECS = ("mp4a", "ac-3", "ec-3", "opus", "flac", "mp3", "vorbis", "alac", "dts")


class HlsManifest:
    """What a playlist offers: ``formats`` and, for a media playlist, ``duration``."""

    def __init__(self, formats: tuple[Format, ...], duration: float | None) -> None:
        self.formats = formats
        self.duration = duration


def parse_hls(text: str, url: str) -> HlsManifest:
    """The formats of the playlist ``text`` fetched from ``url`` (its final URL).

    Raises :class:`~mediavault.errors.ExtractionError` when ``text`` cannot be parsed."""
    playlist = load_playlist(text, url)
    drm = any(is_drm_key(key) for key in (playlist.session_keys or []) if key is not None)
    if not playlist.is_variant:
        drm = drm or any(is_drm_key(key) for key in (playlist.keys or []) if key is not None)
        fmt = Format(format_id="0", url=url, protocol=Protocol.HLS, ext="mp4", drm=drm)
        duration = sum(float(s.duration or 0) for s in playlist.segments) or None
        return HlsManifest((fmt,), duration)
    audio_groups = {
        m.group_id
        for m in playlist.media
        if (m.type or "").upper() == "AUDIO" and m.uri
    }
    formats: list[Format] = []
    for variant in playlist.playlists:
        if variant.uri:
            formats.append(_variant(variant, url, audio_groups, drm, len(formats)))
    codecs_by_group = _audio_codecs(playlist)
    for media in playlist.media:
        if (media.type or "").upper() != "AUDIO" or not media.uri:
            continue
        name = media.name or media.language or "audio"
        formats.append(Format(
            format_id="-".join(p for p in (media.group_id, name) if p),
            url=join_url(url, media.uri),
            protocol=Protocol.HLS,
            ext="mp4",
            vcodec="none",
            acodec=codecs_by_group.get(media.group_id),
            language=media.language,
            note=media.name,
            drm=drm,
        ))  # fmt: skip
    return HlsManifest(_unique(formats), None)


def _variant(variant: Any, url: str, audio_groups: set[str], drm: bool, index: int) -> Format:
    info = variant.stream_info
    bandwidth = info.average_bandwidth or info.bandwidth
    tbr = round(bandwidth / 1000, 3) if bandwidth else None
    vcodec, acodec = _split_codecs(info.codecs)
    width, height = info.resolution if info.resolution else (None, None)
    if vcodec is None and acodec is not None:
        vcodec = "none"  # only audio codecs listed: an audio-only variant
    if info.audio in audio_groups and info.codecs and vcodec != "none":
        acodec = "none"  # the audio is its own rendition
    name = getattr(info, "name", None) or _video_group_name(variant)
    return Format(
        format_id=str(name or int(tbr or index)),
        url=join_url(url, variant.uri),
        protocol=Protocol.HLS,
        ext="mp4",
        width=width,
        height=height,
        fps=float(info.frame_rate) if info.frame_rate else None,
        vcodec=vcodec,
        acodec=acodec,
        tbr=tbr,
        drm=drm,
    )


def _split_codecs(codecs: str | None) -> tuple[str | None, str | None]:
    vcodec = acodec = None
    for codec in (c.strip() for c in (codecs or "").split(",") if c.strip()):
        lowered = codec.lower()
        if vcodec is None and lowered.startswith(_VIDEO_CODECS):
            vcodec = codec
        elif acodec is None and lowered.startswith(_AUDIO_CODECS):
            acodec = codec
    return vcodec, acodec


def _audio_codecs(playlist: Any) -> dict[str, str]:
    """The audio codec each audio group is declared with by the variants using it."""
    out: dict[str, str] = {}
    for variant in playlist.playlists:
        group = variant.stream_info.audio
        _, acodec = _split_codecs(variant.stream_info.codecs)
        if group and acodec and group not in out:
            out[group] = acodec
    return out


def _video_group_name(variant: Any) -> str | None:
    """The NAME of the variant's VIDEO rendition group, when it has one (as yt-dlp)."""
    groups = [m for m in getattr(variant, "media", []) if (m.type or "").upper() == "VIDEO"]
    return (groups[0].name or groups[0].group_id) if groups else None


def _unique(formats: list[Format]) -> tuple[Format, ...]:
    """Repeated ids become ``<id>-0``, ``<id>-1``...; the others stay as they are."""
    counts: dict[str, int] = {}
    for fmt in formats:
        counts[fmt.format_id] = counts.get(fmt.format_id, 0) + 1
    seen: dict[str, int] = {}
    out: list[Format] = []
    for fmt in formats:
        if counts[fmt.format_id] == 1:
            out.append(fmt)
            continue
        n = seen.get(fmt.format_id, 0)
        seen[fmt.format_id] = n + 1
        out.append(fmt.model_copy(update={"format_id": f"{fmt.format_id}-{n}"}))
    return tuple(out)
