"""What the bot must remember across restarts: which chat started which job, and the jobs
it is still watching (status message, files already delivered).

Kept in one small JSON file (``<data dir>/telegram-bot.json``), rewritten atomically
(temp file + rename) on every change, so a restarted bot picks its watches up again:
the same status message is edited on and no file is sent twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BotState", "Watch"]

log = logging.getLogger("mediavault.bots")

MAX_OWNED = 10_000  # remembered job -> chat pairs (oldest forgotten first)


@dataclass
class Watch:
    job_id: str
    chat_id: int
    message_id: int
    text: str
    delivered: list[str] = field(default_factory=list)


class BotState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.owned: dict[str, int] = {}
        self.watches: dict[str, Watch] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def load(cls, path: Path) -> BotState:
        state = cls(path)
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            state.owned = {str(k): int(v) for k, v in raw.get("owned", {}).items()}
            state.watches = {w["job_id"]: Watch(**w) for w in raw.get("watches", [])}
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignoring unreadable bot state %s: %s", path, exc)
        return state

    async def watch(self, watch: Watch) -> None:
        self.owned[watch.job_id] = watch.chat_id
        while len(self.owned) > MAX_OWNED:
            self.owned.pop(next(iter(self.owned)))
        self.watches[watch.job_id] = watch
        await self.save()

    async def finish(self, job_id: str) -> None:
        if self.watches.pop(job_id, None) is not None:
            await self.save()

    async def save(self) -> None:
        data = {
            "owned": self.owned,
            "watches": [asdict(w) for w in self.watches.values()],
        }
        text = json.dumps(data, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._write, text)

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)
