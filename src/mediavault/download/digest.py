"""The sha256 of a file written out of order, computed while it downloads.

Segmented downloads fill a file in no particular order, so it cannot be hashed as bytes
arrive; hashing it afterwards costs one more pass over the file (a quarter of a second
per 250 MB here). :class:`PrefixHasher` follows the finished prefix instead: a thread
reads and hashes ``[hashed, frontier)`` whenever the engine reports that the contiguous
run of bytes from offset 0 grew, so by the time the last segment lands only the tail is
left to hash. The digest is the one the pipeline records for deduplication.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading

__all__ = ["PrefixHasher"]

_BLOCK = 8 << 20


class PrefixHasher:
    """sha256 of a ``size``-byte file, fed by :meth:`advance` as its prefix completes.

    It reads through its own duplicate of ``fd``. :meth:`digest` waits for the thread and
    returns the hex digest; :meth:`abandon` stops it (the file was discarded or the
    download failed).
    """

    def __init__(self, fd: int, size: int) -> None:
        self.size = size
        self._fd = os.dup(fd)
        self._hasher = hashlib.sha256()
        self._frontier = 0
        self._hashed = 0
        self._stopped = False
        self._error: OSError | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mediavault-sha256", daemon=True)
        self._thread.start()

    def advance(self, frontier: int) -> None:
        """Bytes ``[0, frontier)`` are in the file (and stay as they are)."""
        with self._cond:
            if frontier > self._frontier:
                self._frontier = min(frontier, self.size)
                self._cond.notify()

    async def digest(self) -> str | None:
        """The hex sha256 once the whole file is hashed; None if it could not be read."""
        self.advance(self.size)
        await asyncio.to_thread(self._thread.join)
        self._close()
        if self._error is not None or self._hashed != self.size:
            return None
        return self._hasher.hexdigest()

    def abandon(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        # the thread closes nothing: wait for it briefly, then release the descriptor
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._close()

    def _close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def _run(self) -> None:
        buf = bytearray(_BLOCK)
        view = memoryview(buf)
        while True:
            with self._cond:
                while self._frontier == self._hashed and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                frontier = self._frontier
            try:
                while self._hashed < frontier:
                    want = min(_BLOCK, frontier - self._hashed)
                    got = os.preadv(self._fd, [view[:want]], self._hashed)
                    if got <= 0:
                        raise OSError(f"short read at {self._hashed}")
                    self._hasher.update(view[:got])
                    self._hashed += got
            except OSError as exc:
                self._error = exc
                return
            if self._hashed >= self.size:
                return
