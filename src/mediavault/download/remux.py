"""Remux a finished fragment stream into the target container with ``ffmpeg -c copy``.

ffmpeg runs in its own process group; cancellation kills the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from mediavault.config import Settings
from mediavault.errors import CancelledError_, FFmpegMissingError, PostProcessError

__all__ = ["remux"]

_STDERR_TAIL = 2000


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
    The output is written to a temporary name and renamed, so ``dest`` is never partial.
    """
    target = dest.suffix.lstrip(".").lower() or source_ext
    if target == source_ext and target == "ts":
        os.replace(src, dest)
        return os.stat(dest).st_size
    tmp = dest.with_name(f"{dest.stem}.remux{dest.suffix or '.' + source_ext}")
    cmd = [
        settings.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-i", str(src),
        "-c", "copy", str(tmp),
    ]  # fmt: skip
    try:
        await _run(cmd, cancel)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.replace(tmp, dest)
    return os.stat(dest).st_size


async def _run(cmd: list[str], cancel: asyncio.Event | None) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise FFmpegMissingError(f"ffmpeg not found ({cmd[0]}); install ffmpeg") from exc
    communicate = asyncio.ensure_future(proc.communicate())
    waiters: set[asyncio.Future[Any]] = {communicate}
    if cancel is not None:
        waiters.add(asyncio.ensure_future(cancel.wait()))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not communicate.done():
            raise CancelledError_("download cancelled during remux")
    finally:
        for waiter in waiters:
            if waiter is not communicate:
                waiter.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        if not communicate.done():
            communicate.cancel()
    _, stderr = communicate.result()
    if proc.returncode != 0:
        message = stderr.decode(errors="replace").strip()[-_STDERR_TAIL:]
        raise PostProcessError(f"ffmpeg remux failed ({proc.returncode}): {message}")
