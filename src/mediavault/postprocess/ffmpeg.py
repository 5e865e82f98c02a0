"""Running ffmpeg/ffprobe: child processes in their own process group, cancellable.

``run_ffmpeg`` writes to a temporary sibling of the output and renames it into place,
so an output path never holds a partial file. Cancelling (the ``cancel`` event or the
awaiting task) kills the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediavault.config import Settings
from mediavault.errors import CancelledError_, FFmpegMissingError, PostProcessError

__all__ = ["MediaInfo", "Stream", "probe", "run_ffmpeg"]

_STDERR_TAIL = 600


async def _communicate(cmd: list[str], cancel: asyncio.Event | None) -> tuple[int, bytes, bytes]:
    """Run ``cmd``; (returncode, stdout, stderr). Kills its process group on cancel."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise FFmpegMissingError(f"{cmd[0]} not found; install ffmpeg") from exc
    work = asyncio.ensure_future(proc.communicate())
    waiters: set[asyncio.Future[Any]] = {work}
    if cancel is not None:
        waiters.add(asyncio.ensure_future(cancel.wait()))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            raise CancelledError_("cancelled during post-processing")
    finally:
        for waiter in waiters:
            if waiter is not work:
                waiter.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        if not work.done():
            work.cancel()
    stdout, stderr = work.result()
    return proc.returncode or 0, stdout, stderr


def _tail(stderr: bytes) -> str:
    text = stderr.decode(errors="replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[-_STDERR_TAIL:]


async def run_ffmpeg(
    args: list[str],
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
    what: str = "ffmpeg",
) -> Path:
    """``ffmpeg <args> <output>`` via a temporary name; returns ``output``."""
    temp = output.with_name(f".{output.stem}.tmp{output.suffix}")
    cmd = [
        settings.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *args,
        str(temp),
    ]
    try:
        code, _, stderr = await _communicate(cmd, cancel)
        if code != 0:
            raise PostProcessError(f"{what} failed: {_tail(stderr)}", detail={"exit_code": code})
        os.replace(temp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return output


@dataclass(frozen=True)
class Stream:
    index: int
    codec_type: str  # video, audio, subtitle, data, attachment
    codec_name: str | None
    width: int | None = None
    height: int | None = None
    attached_pic: bool = False
    language: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    format_name: str
    streams: tuple[Stream, ...]
    tags: dict[str, str] = field(default_factory=dict)

    def of_type(self, codec_type: str) -> list[Stream]:
        return [s for s in self.streams if s.codec_type == codec_type and not s.attached_pic]

    @property
    def has_video(self) -> bool:
        return bool(self.of_type("video"))

    @property
    def has_audio(self) -> bool:
        return bool(self.of_type("audio"))


def _stream(raw: dict[str, Any]) -> Stream:
    tags = raw.get("tags") or {}
    return Stream(
        index=int(raw.get("index", 0)),
        codec_type=str(raw.get("codec_type") or "data"),
        codec_name=raw.get("codec_name"),
        width=raw.get("width"),
        height=raw.get("height"),
        attached_pic=bool((raw.get("disposition") or {}).get("attached_pic")),
        language=tags.get("language"),
    )


async def probe(
    path: Path, *, settings: Settings, cancel: asyncio.Event | None = None
) -> MediaInfo:
    """What ffprobe sees in ``path``; ``PostProcessError`` when it is not media."""
    cmd = [
        settings.ffprobe, "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    code, stdout, stderr = await _communicate(cmd, cancel)
    if code != 0:
        raise PostProcessError(f"ffprobe cannot read {path.name}: {_tail(stderr)}")
    data = json.loads(stdout or b"{}")
    fmt = data.get("format") or {}
    duration = fmt.get("duration")
    return MediaInfo(
        duration=float(duration) if duration not in (None, "N/A") else None,
        format_name=str(fmt.get("format_name") or ""),
        streams=tuple(_stream(s) for s in data.get("streams") or []),
        tags={str(k).lower(): str(v) for k, v in (fmt.get("tags") or {}).items()},
    )
