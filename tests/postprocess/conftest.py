"""Inputs for the ffmpeg units: split streams of the generated clip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.media import MediaSet


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def split_streams(media: MediaSet, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(video-only mp4, audio-only m4a) cut from ``video.mp4``."""
    root = tmp_path_factory.mktemp("split")
    video, audio = root / "v.mp4", root / "a.m4a"
    ffmpeg("-i", str(media.path("video.mp4")), "-map", "0:v", "-c", "copy", str(video))
    ffmpeg("-i", str(media.path("video.mp4")), "-map", "0:a", "-c", "copy", str(audio))
    return video, audio
