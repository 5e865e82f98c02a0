"""Remux a finished fragment stream into the target container with ``ffmpeg -c copy``.

ffmpeg runs through ``postprocess.ffmpeg.run_ffmpeg``: its own process group (killed on
cancel) and a temporary output name, so ``dest`` is never partial. A fresh TS download
is remuxed while it arrives (:class:`LiveRemux`), so little is left to do at the end.
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

__all__ = ["LiveRemux", "remux"]


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
    args = ["-i", str(src), "-c", "copy"]
    if not dest.suffix:  # ffmpeg picks the container from the name; say it outright
        args += ["-f", "mp4"]
    try:
        await run_ffmpeg(args, dest, settings=settings, cancel=cancel, what="ffmpeg remux")
    except CancelledError_ as exc:
        raise CancelledError_("download cancelled during remux") from exc
    return os.stat(dest).st_size


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
