"""The books of one segmented download: which bytes of the ``.part`` file are written.

Every claim follows its write (``landed``), the running sha256 follows the finished
prefix (:class:`PrefixHasher`), and the resume state is saved only after the bytes it
claims were synced: after any crash the state file never claims a byte the file lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from .digest import PrefixHasher
from .files import PartFile
from .state import RangeSet, TransferState

__all__ = ["Ledger"]


class Ledger:
    """Claims, digest and resume saves for ``state`` over the pre-sized ``part``."""

    def __init__(self, part: PartFile, state: TransferState, state_path: Path) -> None:
        assert state.size is not None
        self.part = part
        self.state = state
        self.state_path = state_path
        self.hasher = PrefixHasher(part.fd, state.size)
        self.hasher.advance(state.done.prefix())

    def landed(self, offset: int, n: int) -> None:
        """``n`` bytes at ``offset`` are in the file."""
        self.state.done.add(offset, offset + n)
        self.hasher.advance(self.state.done.prefix())

    async def write(self, chunks: list[bytes], offset: int) -> None:
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await self.part.write_at(data, offset)
        self.landed(offset, len(data))

    def covers(self) -> bool:
        return self.state.done.covers(self.state.size or 0)

    async def digest(self) -> str | None:
        """The file's sha256 (None if it could not be read back)."""
        return await self.hasher.digest()

    def _snapshot(self) -> TransferState:
        state = self.state
        return TransferState(
            kind=state.kind,
            url=state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            size=state.size,
            done=RangeSet(state.done),
        )

    async def save(self) -> None:
        snapshot = self._snapshot()
        await self.part.sync()  # the bytes first, then the claim that they are there
        await asyncio.to_thread(snapshot.save, self.state_path)

    def abandon(self) -> None:
        """Save what is there (blocking; on the way out of a failure) and stop hashing."""
        self.hasher.abandon()
        if self.part.fd < 0:
            return
        snapshot = self._snapshot()
        with contextlib.suppress(OSError):
            os.fdatasync(self.part.fd)
            snapshot.save(self.state_path)
