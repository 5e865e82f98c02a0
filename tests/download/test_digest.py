"""The sha256 of a file written out of order, computed as its prefix completes."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

from mediavault.download.digest import PrefixHasher


async def test_out_of_order_writes_give_the_whole_files_digest(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(20 * 1024 * 1024 + 5)
    path = tmp_path / "f.part"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, len(data))
        hasher = PrefixHasher(fd, len(data))
        pieces = [(s, min(s + 3_000_000, len(data))) for s in range(0, len(data), 3_000_000)]
        random.Random(4).shuffle(pieces)
        written: list[tuple[int, int]] = []
        for start, end in pieces:
            os.pwrite(fd, data[start:end], start)
            written.append((start, end))
            prefix = 0
            for s, e in sorted(written):
                if s > prefix:
                    break
                prefix = max(prefix, e)
            hasher.advance(prefix)
        assert await hasher.digest() == hashlib.sha256(data).hexdigest()
    finally:
        os.close(fd)


async def test_a_file_shorter_than_announced_gives_no_digest(tmp_path: Path) -> None:
    path = tmp_path / "short.part"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        hasher = PrefixHasher(fd, 5000)
        assert await hasher.digest() is None
    finally:
        os.close(fd)


def test_abandon_stops_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "a.part"
    path.write_bytes(b"\0" * 4096)
    fd = os.open(path, os.O_RDONLY)
    try:
        hasher = PrefixHasher(fd, 1 << 30)  # waits for bytes that never come
        started = time.monotonic()
        hasher.abandon()
        assert time.monotonic() - started < 1
        assert not hasher._thread.is_alive()
    finally:
        os.close(fd)
