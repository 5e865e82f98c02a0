"""One progress stream per item: bytes, total, speed, ETA and fragments."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from mediavault.models import Progress

__all__ = ["ProgressTracker"]

_WINDOW_S = 3.0


class ProgressTracker:
    """Counts bytes as they land and reports at most every ``interval`` seconds.

    ``downloaded`` counts bytes received for the output (resumed bytes included), so a
    resumed download starts its bar where the last run stopped; engines count a chunk
    as it arrives, not when their write buffer is flushed, so a file smaller than the
    buffer still shows its progress. The speed only counts bytes fetched in this run.
    """

    def __init__(
        self,
        item_id: str,
        callback: Callable[[Progress], None] | None,
        *,
        interval: float = 0.25,
    ) -> None:
        self.item_id = item_id
        self.callback = callback
        self.interval = interval
        self.downloaded = 0
        self.total: int | None = None
        self.fragments_done: int | None = None
        self.fragments_total: int | None = None
        self.fetched = 0  # bytes received in this run
        self._samples: deque[tuple[float, int]] = deque()
        self._last_emit = 0.0

    def add(self, n: int) -> None:
        self.downloaded += n
        self.fetched += n

    def speed(self) -> float | None:
        now = time.monotonic()
        self._samples.append((now, self.fetched))
        while len(self._samples) > 2 and now - self._samples[0][0] > _WINDOW_S:
            self._samples.popleft()
        first_t, first_b = self._samples[0]
        if now - first_t < 0.05:
            return None
        return (self.fetched - first_b) / (now - first_t)

    def snapshot(self, status: Literal["downloading", "finished"] = "downloading") -> Progress:
        speed = self.speed()
        eta = None
        if speed and self.total is not None:
            eta = max(self.total - self.downloaded, 0) / speed
        return Progress(
            item_id=self.item_id,
            status=status,
            downloaded_bytes=self.downloaded,
            total_bytes=self.total,
            speed=speed,
            eta=eta,
            fragments_done=self.fragments_done,
            fragments_total=self.fragments_total,
        )

    def maybe_emit(self) -> None:
        """Report now if the last report is older than ``interval``."""
        if self.callback is None:
            return
        now = time.monotonic()
        if now - self._last_emit >= self.interval:
            self._last_emit = now
            self.callback(self.snapshot())

    def finish(self) -> None:
        if self.callback is not None:
            if self.total is None:
                self.total = self.downloaded
            self.callback(self.snapshot("finished"))
