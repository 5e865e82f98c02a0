"""A short-lived in-memory cache of verified API keys (and the auth=none local admin).

Checking a key costs two queries (and a thread hop) per request; under load that is
most of a status poll's time. A verified key is remembered for
``settings.auth_cache_seconds`` (default 5 s) keyed by the SHA-256 of the key, never
the key itself. Revoking a key or changing/deleting a user through this API process
clears the cache at once; a change made elsewhere (the CLI, another API node) takes
effect within the TTL. ``auth_cache_seconds=0`` checks the database on every request.

Each hit returns a fresh detached ``User`` copy, so a request can never change or
attach an object another request is reading. The copy is built the way the ORM loads a
row (a new instance, its column values, its identity key), not through ``User(...)`` and
``make_transient_to_detached``, which cost ~30 µs a request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import attributes

from mediavault.jobs.tables import User

__all__ = ["LOCAL_ADMIN", "AuthCache"]

LOCAL_ADMIN = "\0local-admin"  # the cache slot of the auth=none admin
MAX_ENTRIES = 10_000
_MAPPER = inspect(User)
_COLUMNS = tuple(attr.key for attr in _MAPPER.column_attrs)


def _slot(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


class AuthCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict[str, Any], Any]] = {}
        self._lock = threading.Lock()  # filled from the thread pool, read on the loop

    def get(self, credential: str) -> User | None:
        """The user ``credential`` was verified for within the TTL, else None."""
        if self.ttl <= 0:
            return None
        slot = _slot(credential)
        with self._lock:
            entry = self._entries.get(slot)
        if entry is None:
            return None
        expires, values, identity = entry
        if time.monotonic() >= expires:
            with self._lock:
                if self._entries.get(slot) is entry:
                    del self._entries[slot]
            return None
        user: User = _MAPPER.class_manager.new_instance()
        state = attributes.instance_state(user)
        state.dict.update(values)
        state.key = identity  # detached: as if loaded by a session that has since closed
        return user

    def put(self, credential: str, user: User) -> None:
        if self.ttl <= 0:
            return
        values = {name: getattr(user, name) for name in _COLUMNS}
        identity = _MAPPER.identity_key_from_primary_key((user.id,))
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._prune()
            self._entries[_slot(credential)] = (time.monotonic() + self.ttl, values, identity)

    def clear(self) -> None:
        """Forget everything (a key was revoked or a user changed)."""
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        now = time.monotonic()
        stale = [slot for slot, (expires, *_) in self._entries.items() if expires <= now]
        for slot in stale or list(self._entries)[: MAX_ENTRIES // 10]:
            del self._entries[slot]
