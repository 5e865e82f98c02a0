"""Subscriptions, the item archive and platform credentials in the app's SQL database.

- ``SubscriptionStore``: CRUD per user, plus the scheduler's lease: a due subscription
  is claimed with one conditional UPDATE (``lease_token`` set only where it is still
  free or expired), so several workers never sync the same subscription at once.
- ``SqlArchive``: the per-platform item archive (``archive`` table) a sync checks.
- ``CredentialStore``: platform sessions, encrypted with ``crypto.encrypt``; the API and
  the CLI can set and delete them, and only adapters ever see them decrypted.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mediavault import crypto
from mediavault.config import Settings
from mediavault.errors import InputError, NotFoundError
from mediavault.jobs.db import Database
from mediavault.jobs.tables import ArchiveEntry, Credential, Subscription, new_id, utcnow
from mediavault.platforms.base import adapter_for
from mediavault.subscriptions.schemas import SubscriptionCreate, SubscriptionUpdate

__all__ = ["CredentialStore", "SqlArchive", "SubscriptionStore"]

T = TypeVar("T")
D = TypeVar("D", bound="_Db")


class _Db:
    """Blocking SQLAlchemy work in a thread; writes through the write-locking factory."""

    def __init__(self, sm: sessionmaker[Session], write_sm: sessionmaker[Session] | None = None):
        self.sm = sm
        self.write_sm = write_sm or sm

    @classmethod
    def of(cls: type[D], database: Database, *args: Any) -> D:
        obj = cls(database.sessionmaker, *args)
        obj.write_sm = database.write_sessionmaker
        return obj

    async def read(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.sm() as session:
                return fn(session)

        return await asyncio.to_thread(run)

    async def write(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.write_sm() as session, session.begin():
                result = fn(session)
                session.flush()
                return result

        return await asyncio.to_thread(run)


class SubscriptionStore(_Db):
    async def create(self, user_id: str | None, data: SubscriptionCreate) -> Subscription:
        platform = adapter_for(data.url).name
        row = Subscription(
            id=new_id(),
            user_id=user_id,
            url=data.url,
            platform=platform,
            name=data.name,
            options=data.options.model_dump(mode="json", exclude_defaults=True),
            filters=data.filters.model_dump(mode="json", exclude_none=True),
            mode=data.mode,
            max_items=data.max_items,
            interval_seconds=data.interval_seconds,
            enabled=data.enabled,
            next_sync_at=utcnow(),
            state={},
        )

        def insert(session: Session) -> Subscription:
            session.add(row)
            return row

        await self.write(insert)
        return row

    async def get(self, sub_id: str, user_id: str | None = None) -> Subscription:
        def load(session: Session) -> Subscription | None:
            row = session.get(Subscription, sub_id)
            if row is not None and user_id is not None and row.user_id != user_id:
                return None
            return row

        row = await self.read(load)
        if row is None:
            raise NotFoundError(f"no subscription {sub_id}")
        return row

    async def list(self, user_id: str | None = None) -> list[Subscription]:
        stmt = select(Subscription).order_by(Subscription.created_at)
        if user_id is not None:
            stmt = stmt.where(Subscription.user_id == user_id)
        return await self.read(lambda s: list(s.scalars(stmt)))

    async def update(
        self, sub_id: str, data: SubscriptionUpdate, user_id: str | None = None
    ) -> Subscription:
        await self.get(sub_id, user_id)
        values = data.model_dump(exclude_unset=True)
        if "options" in values and data.options is not None:
            values["options"] = data.options.model_dump(mode="json", exclude_defaults=True)
        if "filters" in values and data.filters is not None:
            values["filters"] = data.filters.model_dump(mode="json", exclude_none=True)

        def apply(session: Session) -> Subscription:
            row = session.get(Subscription, sub_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            return row

        return await self.write(apply)

    async def delete(self, sub_id: str, user_id: str | None = None) -> None:
        await self.get(sub_id, user_id)

        def remove(session: Session) -> None:
            row = session.get(Subscription, sub_id)
            if row is not None:
                session.delete(row)

        await self.write(remove)

    async def request_sync(self, sub_id: str, user_id: str | None = None) -> Subscription:
        """Make the subscription due now (the scheduler or a direct sync picks it up)."""
        await self.get(sub_id, user_id)
        return await self.write(lambda s: _set(s, sub_id, next_sync_at=utcnow()))

    # the scheduler's lease -------------------------------------------------------------
    async def claim(self, sub_id: str, lease_seconds: float, *, due_only: bool) -> str | None:
        """Take the subscription's lease (atomic); the token, or None if someone has it."""
        token = new_id()
        now = utcnow()
        where = [
            Subscription.id == sub_id,
            or_(Subscription.lease_token.is_(None), Subscription.lease_expires_at < now),
        ]
        if due_only:
            where += [Subscription.enabled.is_(True), Subscription.next_sync_at <= now]
        stmt = (
            update(Subscription)
            .where(and_(*where))
            .values(lease_token=token, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        claimed = await self.write(lambda s: s.execute(stmt).rowcount)  # type: ignore[attr-defined]
        return token if claimed == 1 else None

    async def due(self, limit: int = 50) -> builtins.list[str]:
        now = utcnow()
        stmt = (
            select(Subscription.id)
            .where(
                Subscription.enabled.is_(True),
                Subscription.next_sync_at <= now,
                or_(Subscription.lease_token.is_(None), Subscription.lease_expires_at < now),
            )
            .order_by(Subscription.next_sync_at)
            .limit(limit)
        )
        return await self.read(lambda s: list(s.scalars(stmt)))

    async def extend(self, sub_id: str, token: str, lease_seconds: float) -> bool:
        stmt = (
            update(Subscription)
            .where(Subscription.id == sub_id, Subscription.lease_token == token)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return bool(await self.write(lambda s: s.execute(stmt).rowcount))  # type: ignore[attr-defined]

    async def save_state(self, sub_id: str, token: str | None, state: dict[str, Any]) -> None:
        where = [Subscription.id == sub_id]
        if token is not None:
            where.append(Subscription.lease_token == token)
        stmt = (
            update(Subscription)
            .where(*where)
            .values(state=json.loads(json.dumps(state)))
            .execution_options(synchronize_session=False)
        )
        await self.write(lambda s: s.execute(stmt))

    async def release(
        self, sub_id: str, token: str, *, next_sync_at: datetime | None, synced: bool
    ) -> None:
        values: dict[str, Any] = {"lease_token": None, "lease_expires_at": None}
        if next_sync_at is not None:
            values["next_sync_at"] = next_sync_at
        if synced:
            values["last_sync_at"] = utcnow()
        stmt = (
            update(Subscription)
            .where(Subscription.id == sub_id, Subscription.lease_token == token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await self.write(lambda s: s.execute(stmt))


def _set(session: Session, sub_id: str, **values: Any) -> Subscription:
    row = session.get(Subscription, sub_id)
    if row is None:
        raise NotFoundError(f"no subscription {sub_id}")
    for key, value in values.items():
        setattr(row, key, value)
    return row


class SqlArchive(_Db):
    """``KnownIndex`` over the ``archive`` table for one user."""

    def __init__(self, sm: sessionmaker[Session], user_id: str | None) -> None:
        super().__init__(sm)
        self.user_id = user_id or ""

    async def is_known(self, platform: str, key: str) -> bool:
        stmt = select(ArchiveEntry.item_id).where(
            ArchiveEntry.platform == platform,
            ArchiveEntry.item_id == key,
            ArchiveEntry.user_id == self.user_id,
        )
        return await self.read(lambda s: s.scalar(stmt) is not None)

    async def mark(self, platform: str, key: str) -> None:
        def insert(session: Session) -> None:
            exists = session.get(ArchiveEntry, (platform, key, self.user_id))
            if exists is None:
                session.add(ArchiveEntry(platform=platform, item_id=key, user_id=self.user_id))

        with contextlib.suppress(SAIntegrityError):  # a concurrent sync marked it first
            await self.write(insert)


class CredentialStore(_Db):
    """A user's platform sessions (kind ``platform``), encrypted at rest."""

    def __init__(self, sm: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(sm)
        self.settings = settings

    async def set(self, user_id: str | None, platform: str, data: dict[str, str]) -> None:
        platform = platform.lower()
        if not data.get("cookie") or not (data.get("user_agent") or data.get("user-agent")):
            raise InputError("platform credentials need a cookie and a user agent")
        blob = crypto.encrypt(self.settings, json.dumps(data).encode())

        def upsert(session: Session) -> None:
            row = session.scalar(_cred_query(user_id, platform))
            if row is None:
                session.add(
                    Credential(
                        user_id=user_id, kind="platform", platform=platform, data_enc=blob
                    )
                )
            else:
                row.data_enc = blob
                row.updated_at = utcnow()

        await self.write(upsert)

    async def delete(self, user_id: str | None, platform: str) -> bool:
        def remove(session: Session) -> bool:
            row = session.scalar(_cred_query(user_id, platform.lower()))
            if row is None:
                return False
            session.delete(row)
            return True

        return await self.write(remove)

    async def platforms(self, user_id: str | None) -> list[dict[str, Any]]:
        """What is stored (platform and dates), never the secrets themselves."""
        stmt = select(Credential).where(Credential.kind == "platform", _owner(user_id))
        rows = await self.read(lambda s: list(s.scalars(stmt)))
        return [
            {"platform": r.platform, "created_at": r.created_at, "updated_at": r.updated_at}
            for r in rows
        ]

    async def for_user(self, user_id: str | None) -> dict[str, dict[str, str]]:
        """Platform -> decrypted auth dict: for handing to adapters only."""
        stmt = select(Credential).where(Credential.kind == "platform", _owner(user_id))
        rows = await self.read(lambda s: list(s.scalars(stmt)))
        out: dict[str, dict[str, str]] = {}
        for row in rows:
            out[row.platform] = json.loads(crypto.decrypt(self.settings, row.data_enc))
        return out


def _owner(user_id: str | None) -> Any:
    return Credential.user_id == user_id if user_id is not None else Credential.user_id.is_(None)


def _cred_query(user_id: str | None, platform: str) -> Any:
    return select(Credential).where(
        Credential.kind == "platform", Credential.platform == platform, _owner(user_id)
    )
