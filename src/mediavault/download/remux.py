"""Remux a finished fragment stream into the target container with ``ffmpeg -c copy``.

ffmpeg runs through ``postprocess.ffmpeg.run_ffmpeg``: its own process group (killed on
cancel) and a temporary output name, so ``dest`` is never partial. A fresh TS download
is remuxed while it arrives (:class:`LiveRemux`), so little is left to do at the end.

Concatenated fMP4 with more than one init section (an HLS ``EXT-X-DISCONTINUITY``:
timestamps that start again, an ad or a new encode) is remuxed period by period through
ffmpeg's concat demuxer, each period read in place (``subfile``), so the timeline
continues instead of folding back. TS needs nothing of the kind: ffmpeg's mpegts demuxer
mends discontinuities itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from mediavault.config import Settings
from mediavault.errors import CancelledError_
from mediavault.postprocess.ffmpeg import run_ffmpeg

__all__ = ["LiveRemux", "mp4_periods", "remux"]


async def remux(
    src: Path,
    dest: Path,
    *,
    source_ext: str,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> int:
    """Turn ``src`` (a ``source_ext`` stream) into ``dest``; returns the size of ``dest``.

    When the container already is the target (``ts`` to ``.ts``) the file is just moved.
    """
    target = dest.suffix.lstrip(".").lower() or source_ext
    if target == source_ext and target == "ts":
        os.replace(src, dest)
        return os.stat(dest).st_size
    periods = await asyncio.to_thread(mp4_periods, src) if source_ext == "mp4" else []
    listing = src.with_name(f"{src.name}.ffconcat")
    if len(periods) > 1:
        await asyncio.to_thread(_write_concat_list, listing, src, periods)
        args = ["-f", "concat", "-safe", "0", "-protocol_whitelist", "file,subfile"]
        args += ["-i", str(listing), "-c", "copy"]
    else:
        args = ["-i", str(src), "-c", "copy"]
    if not dest.suffix:  # ffmpeg picks the container from the name; say it outright
        args += ["-f", "mp4"]
    try:
        await run_ffmpeg(args, dest, settings=settings, cancel=cancel, what="ffmpeg remux")
    except CancelledError_ as exc:
        raise CancelledError_("download cancelled during remux") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            listing.unlink()
    return os.stat(dest).st_size


def mp4_periods(path: Path) -> list[int]:
    """Where each init section (``ftyp``/``moov``) that follows media starts in the
    concatenated fMP4 ``path``: ``[0]`` for one period, ``[]`` when it is not a plain
    sequence of top-level boxes (then it is remuxed as one file)."""
    starts = [0]
    media = False  # a moof/mdat since the current period began
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        offset = 0
        while offset < size:
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                return []
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                length = size - offset
            if length < 8 or offset + length > size:
                return []
            if kind in (b"ftyp", b"moov") and media:
                starts.append(offset)
                media = False
            elif kind in (b"moof", b"mdat"):
                media = True
            offset += length
    return starts


def _write_concat_list(listing: Path, src: Path, periods: list[int]) -> None:
    name = str(src.resolve()).replace("'", "'\\''")
    ends = [*periods[1:], 0]  # subfile: end 0 reads to the end of the file
    lines = ["ffconcat version 1.0"]
    for start, end in zip(periods, ends, strict=True):
        lines.append(f"file 'subfile,,start,{start},end,{end},,:{name}'")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")


class LiveRemux:
    """ffmpeg remuxing a TS fragment stream while it downloads, fed through its stdin.

    Only for a download that starts at its first fragment, so ffmpeg sees exactly the
    bytes the ``.part`` file gets. Anything going wrong with it (ffmpeg exits early, a
    write fails) makes :meth:`finish` return None, and the caller remuxes the finished
    ``.part`` file as before. ffmpeg runs in its own process group and writes to a
    temporary sibling of ``dest``; :meth:`abort` kills it and removes that file.
    """

    def __init__(self, proc: asyncio.subprocess.Process, temp: Path, dest: Path) -> None:
        self.proc = proc
        self.temp = temp
        self.dest = dest
        self.failed = False
        assert proc.stderr is not None
        self._stderr = asyncio.ensure_future(proc.stderr.read())

    @classmethod
    async def start(cls, dest: Path, source_ext: str, settings: Settings) -> LiveRemux | None:
        """A running remux of a ``source_ext`` stream into ``dest``, or None when there is
        nothing to remux (``ts`` to ``.ts``) or the stream is not TS."""
        target = dest.suffix.lstrip(".").lower() or "mp4"
        if source_ext != "ts" or target not in _MUXERS:
            return None
        temp = dest.with_name(f".{dest.stem}.live.{target}")
        cmd = [
            settings.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "mpegts", "-i", "pipe:0", "-c", "copy", "-f", _MUXERS.get(target, target),
            str(temp),
        ]  # fmt: skip
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError:
            return None  # no ffmpeg here: the file remux reports it
        assert proc.stdin is not None
        # queue up to a few fragments for ffmpeg, so it never waits for the next write
        proc.stdin.transport.set_write_buffer_limits(high=_FEED_AHEAD)
        return cls(proc, temp, dest)

    async def feed(self, data: bytes) -> None:
        """The next bytes of the stream (waits while ffmpeg catches up)."""
        if self.failed:
            return
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.failed = True

    async def finish(self) -> int | None:
        """End of stream: the size of ``dest``, or None if the remux did not work out."""
        assert self.proc.stdin is not None
        if not self.failed:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.proc.stdin.close()
                await self.proc.stdin.wait_closed()
        code = await self.proc.wait()
        await self._stderr
        if code != 0 or self.failed or not self.temp.exists():
            self._remove()
            return None
        os.replace(self.temp, self.dest)
        return os.stat(self.dest).st_size

    async def abort(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        self._stderr.cancel()
        self._remove()

    def _remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


_FEED_AHEAD = 4 << 20
_MUXERS = {"m4a": "mp4", "m4v": "mp4", "mkv": "matroska", "mov": "mov", "mp4": "mp4"}
