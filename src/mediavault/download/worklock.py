"""One download of an item at a time: an exclusive lock on its work directory.

The work directory of an item is deterministic (so a re-run resumes its ``.part``
state), which means two concurrent downloads of the same item would share it and race.
``work_lock(work)`` takes an exclusive ``flock`` on ``<work>.lock`` beside it: it holds
across processes on one machine (and between tasks of one process, as each lock opens
its own file description). Machines do not share a scratch directory, so none is needed
between them. The lock file is removed on release; a waiter that locked a file which was
removed meanwhile notices (the path no longer names its file) and locks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from mediavault.errors import CancelledError_, PathNotWritableError

__all__ = ["lock_path", "work_lock"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1


def lock_path(work: Path) -> Path:
    return work.with_name(work.name + ".lock")


@contextlib.asynccontextmanager
async def work_lock(
    work: Path, *, cancel: asyncio.Event | None = None, poll: float = POLL_SECONDS
) -> AsyncIterator[None]:
    """Hold the exclusive lock of work directory ``work`` (waiting while another has it).

    Raises ``CancelledError_`` when ``cancel`` is set while waiting, and
    ``PathNotWritableError`` when the lock file cannot be created.
    """
    path = lock_path(work)
    fd = await _acquire(path, cancel, poll)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: a waiter on this file will notice
        os.close(fd)  # releases the lock


async def _acquire(path: Path, cancel: asyncio.Event | None, poll: float) -> int:
    waited = False
    while True:
        if cancel is not None and cancel.is_set():
            raise CancelledError_("download cancelled while waiting for another download")
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if not waited:
                log.info("another download of %s is running; waiting for it", path.stem)
                waited = True
            await asyncio.sleep(poll)
            continue
        except BaseException:
            os.close(fd)
            raise
        if _still_named(path, fd):
            return fd
        os.close(fd)  # the holder removed this file on release: lock the new one


def _open(path: Path) -> int:
    for _ in range(10):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            continue  # the parent was removed (emptied by a finished download): again
        except OSError as exc:
            raise PathNotWritableError(
                f"cannot create lock file {path}: {exc.strerror or exc}"
            ) from exc
    raise PathNotWritableError(f"cannot create lock file {path}: its directory keeps vanishing")


def _still_named(path: Path, fd: int) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)
