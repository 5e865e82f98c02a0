"""Remux a finished fragment stream into the target container with ``ffmpeg -c copy``.

ffmpeg runs through ``postprocess.ffmpeg.run_ffmpeg``: its own process group (killed on
cancel) and a temporary output name, so ``dest`` is never partial.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mediavault.config import Settings
from mediavault.errors import CancelledError_
from mediavault.postprocess.ffmpeg import run_ffmpeg

__all__ = ["remux"]


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
