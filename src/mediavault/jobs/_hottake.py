"""A worker's takes and completions on PostgreSQL + Redis, on its own event loop.

``HotTaker`` pops ids (``HotPath``), claims the jobs that need no host slot and writes
the worker's completions, with connections of the worker's own and no thread hand-off.
A completion frees its job's slot as soon as it is queued (``complete``), which wakes
the worker's take; the ``Finisher`` is held meanwhile, so one statement completes the
jobs whose completions wait and claims the popped ones, and one round trip publishes
their events. Only while the queue is empty (the pop waits for the next id) does the
finisher write completions by itself. Jobs with a host slot to take are claimed one by
one on the worker's dequeue thread (``Engine.claim_each``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mediavault.jobs._aiohot import Finished, HotPath
from mediavault.jobs._storebase import Finisher
from mediavault.jobs.engine import Claim, Engine
from mediavault.jobs.events import event_for
from mediavault.models import EventType

__all__ = ["HotTaker"]

log = logging.getLogger("mediavault.worker")


class HotTaker:
    def __init__(
        self,
        engine: Engine,
        hot: HotPath,
        worker_id: str,
        plain_kinds: frozenset[str],
        dequeue_pool: ThreadPoolExecutor,
        host_limited: Callable[[str], bool],
    ) -> None:
        self.engine = engine
        self.hot = hot
        self.worker_id = worker_id
        self.plain_kinds = plain_kinds
        self.dequeue_pool = dequeue_pool
        self.host_limited = host_limited
        self.finisher: Finisher[Finished] = Finisher(self._write_completions)
        self.finisher.hold()  # the takes write completions (``take``)

    @classmethod
    def open(
        cls,
        engine: Engine,
        worker_id: str,
        plain_kinds: frozenset[str],
        dequeue_pool: ThreadPoolExecutor,
        host_limited: Callable[[str], bool],
    ) -> HotTaker | None:
        """The hot path on PostgreSQL + Redis; None elsewhere (the threaded path serves)."""
        queue_key = engine.dispatcher.queue_key
        url = engine.settings.queue_url
        if not engine.store.autocommits or queue_key is None or url is None:
            return None
        hot = HotPath(engine.database.engine, url, queue_key, engine.events.channel)
        return cls(engine, hot, worker_id, plain_kinds, dequeue_pool, host_limited)

    async def connect(self) -> None:
        await self.hot.connect()

    async def close(self) -> None:
        await self.hot.close()

    def release(self) -> None:
        """No more takes: completions are written at once from now on."""
        self.finisher.release()

    async def take(self, limit: int) -> list[Claim]:
        """``Engine.take`` on this loop, and the writer of the waiting completions."""
        try:
            popped = await self.hot.pop(limit, 0)
            if not popped:
                self.finisher.release()  # nothing to claim: completions are written at once
                try:
                    popped = await self.hot.pop(limit, 0.5)
                finally:
                    self.finisher.hold()
        except Exception:
            await self._finish_and_claim([])  # the queue failed, not the completions
            raise
        return await self._finish_and_claim(popped)

    async def complete(
        self, job_id: str, token: str, result: dict[str, Any], free_slot: Callable[[], None]
    ) -> None:
        """Queue a completion, free the job's slot (the next take writes the completion
        with its claim), and wait until it is written."""
        outcome = self.finisher.submit(job_id, token, result)
        free_slot()
        await outcome

    async def _finish_and_claim(self, popped: list[bytes]) -> list[Claim]:
        """One statement: the waiting completions, and the claim of ``popped``."""
        batch = self.finisher.take()
        if not popped and not batch:
            return []
        job_ids = [self.engine.dispatcher.job_id_of(member) for member in popped]
        items = [(job_id, token, result) for job_id, token, result, _ in batch]
        lease = self.engine.settings.lease_seconds
        try:
            ended, claimed = await self.hot.finish_and_claim(
                items, job_ids, self.worker_id, self.plain_kinds, lease
            )
        except Exception as exc:
            self.finisher.settle(batch, exc)
            raise
        except BaseException:
            self.finisher.settle(batch, RuntimeError("the worker stopped"))
            raise
        events = [(done.event(), done.user_id) for done in ended]
        events += [(event_for(job, EventType.STARTED), job.user_id) for job in claimed]
        try:
            await self.hot.publish(events)
        except Exception:
            log.exception("publishing the events of %d jobs failed", len(events))
        finally:  # published, then the completions are told (as ``complete_rows`` does)
            self.finisher.settle(batch, {done.id: done for done in ended})
        claims = [Claim(job) for job in claimed]
        taken = {job.id for job in claimed}
        rest = [job_id for job_id in job_ids if job_id not in taken]
        if rest:
            loop = asyncio.get_running_loop()
            each = functools.partial(
                self.engine.claim_each, rest, self.worker_id, self.host_limited
            )
            try:
                claims += await loop.run_in_executor(self.dequeue_pool, each)
            except Exception:  # they stay queued: the reaper sends them again
                log.exception("claiming %d jobs failed", len(rest))
        return claims

    async def _write_completions(
        self, items: list[tuple[str, str, dict[str, Any]]]
    ) -> dict[str, Finished]:
        """A batch of completions (``Finisher``) written and published on this loop."""
        ended = await self.hot.complete(items)
        try:
            await self.hot.publish([(done.event(), done.user_id) for done in ended])
        except Exception:
            log.exception("publishing the completed events of %d jobs failed", len(ended))
        return {done.id: done for done in ended}
