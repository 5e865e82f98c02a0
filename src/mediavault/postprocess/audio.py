"""Audio extraction: mp3, m4a, opus, flac, wav, aac at 96k-320k (stream copy when possible)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from mediavault.config import Settings
from mediavault.errors import InputError, PostProcessError
from mediavault.models import AudioFormat
from mediavault.postprocess.ffmpeg import probe, run_ffmpeg

__all__ = ["AUDIO_TARGETS", "AudioTarget", "extract_audio"]


@dataclass(frozen=True)
class AudioTarget:
    encoder: str
    ext: str
    muxer: str
    copy_from: frozenset[str]  # source codecs that can be copied as they are
    lossy: bool = True


AUDIO_TARGETS: dict[AudioFormat, AudioTarget] = {
    AudioFormat.MP3: AudioTarget("libmp3lame", "mp3", "mp3", frozenset({"mp3"})),
    AudioFormat.M4A: AudioTarget("aac", "m4a", "ipod", frozenset({"aac", "alac"})),
    AudioFormat.AAC: AudioTarget("aac", "aac", "adts", frozenset({"aac"})),
    AudioFormat.OPUS: AudioTarget("libopus", "opus", "ogg", frozenset({"opus"})),
    AudioFormat.FLAC: AudioTarget("flac", "flac", "flac", frozenset({"flac"}), lossy=False),
    AudioFormat.WAV: AudioTarget("pcm_s16le", "wav", "wav", frozenset(), lossy=False),
}

DEFAULT_BITRATE = "192k"


def _bitrate_ok(bitrate: str) -> bool:
    return bitrate.endswith("k") and bitrate[:-1].isdigit() and 96 <= int(bitrate[:-1]) <= 320


async def extract_audio(
    source: Path,
    output_stem: Path,
    *,
    audio_format: AudioFormat,
    bitrate: str | None = None,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """The first audio stream of ``source`` as ``<output_stem>.<ext>``; returns that path.

    The stream is copied when its codec already fits and no bitrate was asked for;
    otherwise it is re-encoded (``bitrate`` applies to lossy targets only).
    """
    if bitrate is not None and not _bitrate_ok(bitrate):
        raise InputError(f"audio bitrate must be 96k-320k, not {bitrate!r}")
    target = AUDIO_TARGETS[audio_format]
    info = await probe(source, settings=settings, cancel=cancel)
    streams = info.of_type("audio")
    if not streams:
        raise PostProcessError(f"{source.name} has no audio stream to extract")
    output = output_stem.with_name(f"{output_stem.name}.{target.ext}")
    args = ["-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    if bitrate is None and streams[0].codec_name in target.copy_from:
        args += ["-c:a", "copy"]
    else:
        args += ["-c:a", target.encoder]
        if target.lossy:
            args += ["-b:a", bitrate or DEFAULT_BITRATE]
    args += ["-f", target.muxer]
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what=f"audio extraction to {target.ext}"
    )
