"""Resume state kept beside a ``.part`` file.

The state file is JSON written atomically (temp file, fsync, rename). It only ever
claims bytes that were written to the ``.part`` file before it, so after a crash
(including ``kill -9``) the next run trusts it and continues where the last one stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RangeSet", "TransferState", "part_path", "remove_state", "state_path"]

STATE_VERSION = 1


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def state_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.json")


class RangeSet:
    """A set of half-open byte ranges ``[start, end)``, kept merged and sorted."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._ranges: list[list[int]] = []
        for start, end in ranges:
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        merged: list[list[int]] = []
        placed = False
        for cur in self._ranges:
            if cur[1] < start:
                merged.append(cur)
            elif end < cur[0]:
                if not placed:
                    merged.append([start, end])
                    placed = True
                merged.append(cur)
            else:
                start, end = min(start, cur[0]), max(end, cur[1])
        if not placed:
            merged.append([start, end])
        merged.sort()
        self._ranges = merged

    def total(self) -> int:
        return sum(end - start for start, end in self._ranges)

    def gaps(self, size: int) -> list[tuple[int, int]]:
        """The ranges of ``[0, size)`` not yet covered."""
        out: list[tuple[int, int]] = []
        pos = 0
        for start, end in self._ranges:
            if start > pos:
                out.append((pos, min(start, size)))
            pos = max(pos, end)
        if pos < size:
            out.append((pos, size))
        return [(s, e) for s, e in out if e > s]

    def covers(self, size: int) -> bool:
        return not self.gaps(size)

    def prefix(self) -> int:
        """The end of the run of bytes from offset 0 (0 while byte 0 is missing)."""
        return self._ranges[0][1] if self._ranges and self._ranges[0][0] == 0 else 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(s, e) for s, e in self._ranges])

    def to_list(self) -> list[list[int]]:
        return [list(r) for r in self._ranges]


@dataclass
class TransferState:
    """What the last run knew about a download.

    kind "http": ``done`` holds the byte ranges already in the ``.part`` file.
    kind "fragments": ``fragments_done`` fragments were appended, ending at ``offset``.
    """

    kind: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    size: int | None = None
    ranges: bool = True
    done: RangeSet = field(default_factory=RangeSet)
    signature: str | None = None
    fragments_done: int = 0
    offset: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "kind": self.kind,
            "url": self.url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.size,
            "ranges": self.ranges,
            "done": self.done.to_list(),
            "signature": self.signature,
            "fragments_done": self.fragments_done,
            "offset": self.offset,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TransferState:
        return cls(
            kind=str(data["kind"]),
            url=str(data["url"]),
            etag=data.get("etag"),
            last_modified=data.get("last_modified"),
            size=data.get("size"),
            ranges=bool(data.get("ranges", True)),
            done=RangeSet((int(s), int(e)) for s, e in data.get("done", [])),
            signature=data.get("signature"),
            fragments_done=int(data.get("fragments_done", 0)),
            offset=int(data.get("offset", 0)),
        )

    @classmethod
    def load(cls, path: Path) -> TransferState | None:
        """The saved state, or None when missing, unreadable or from another version."""
        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                return None
            return cls.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old state or the new one, never a mix."""
        tmp = path.with_name(path.name + ".tmp")
        payload = json.dumps(self.to_json(), separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)


def remove_state(dest: Path) -> None:
    for path in (state_path(dest), state_path(dest).with_name(state_path(dest).name + ".tmp")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
