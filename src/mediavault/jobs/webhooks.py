"""Webhooks: registration, signed delivery with retries, a record of every attempt.

Two kinds of target receive the SPEC §4 event JSON:

- hooks a user registered (``/webhooks``): signed with the hook's own secret (shown once
  at creation); ``events`` empty means every event except ``job.progress``;
- the ``webhook_url`` given with a job: signed with the user's signing secret
  (``GET /webhooks/signing-secret``); every event of that job except ``job.progress``.

``X-Mediavault-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. A delivery is
retried with exponential backoff on network errors, 5xx, 408 and 429 up to
``webhook_max_attempts``; each attempt updates its ``webhook_deliveries`` row, and rows
still pending when a process stops are resumed by the next dispatcher.
Final job events also go to the user's Apprise notification URLs (:mod:`mediavault.notify`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mediavault import crypto
from mediavault.config import Settings
from mediavault.errors import MediavaultError, NotFoundError
from mediavault.jobs.db import Database
from mediavault.jobs.events import EventBus
from mediavault.jobs.tables import Job, User, Webhook, WebhookDelivery, utcnow
from mediavault.models import Event, EventType
from mediavault.net.session import HttpSession
from mediavault.notify import send_notification

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookDispatcher",
    "create_webhook",
    "delete_webhook",
    "list_deliveries",
    "owned_webhook",
    "user_signing_secret",
]

log = structlog.get_logger("mediavault.webhooks")

SIGNATURE_HEADER = "X-Mediavault-Signature"
_RETRY_STATUSES = {408, 425, 429}
_FINAL = {EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED}
_MAX_PARALLEL = 16
_MAX_BACKOFF = 600.0


def user_signing_secret(settings: Settings, user_id: str) -> str:
    """The secret that signs deliveries to a job's own ``webhook_url``."""
    return crypto.derive_key(settings, f"mediavault:webhook:{user_id}").hex()


def create_webhook(
    settings: Settings,
    session: Session,
    user: User,
    url: str,
    *,
    events: list[str],
    secret: str | None = None,
) -> tuple[Webhook, str]:
    """Register a hook; returns it and its secret (never shown again)."""
    secret = secret or secrets.token_hex(32)
    hook = Webhook(
        user_id=user.id,
        url=url,
        events=events,
        secret_enc=crypto.encrypt(settings, secret.encode()),
    )
    session.add(hook)
    session.commit()
    return hook, secret


def owned_webhook(session: Session, user: User, webhook_id: str) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.user_id != user.id:
        raise NotFoundError(f"no webhook {webhook_id!r}")
    return hook


def delete_webhook(session: Session, user: User, webhook_id: str) -> None:
    session.delete(owned_webhook(session, user, webhook_id))
    session.commit()


def list_deliveries(session: Session, hook: Webhook, *, limit: int = 100) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class _Target:
    delivery_id: str
    url: str
    secret: str
    payload: str
    attempt: int = 0


class WebhookDispatcher:
    """Subscribes to the event bus and delivers to webhooks and notification URLs."""

    def __init__(self, settings: Settings, db: Database, bus: EventBus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[Any]] = set()
        self._limit = asyncio.Semaphore(_MAX_PARALLEL)
        self._ready = asyncio.Event()
        self._session: HttpSession | None = None

    async def start(self) -> None:
        self._session = HttpSession(self.settings)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")
        await asyncio.wait_for(self._ready.wait(), timeout=10)
        for target in await asyncio.to_thread(self._pending):
            self._spawn(target)

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._deliveries] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.aclose()

    async def _run(self) -> None:
        async with self.bus.subscribe() as events:
            self._ready.set()
            async for event, user_id in events:
                try:
                    await self._fan_out(event, user_id)
                except Exception:  # one bad event must not stop delivery of the next
                    log.exception("webhook_fan_out_failed", job_id=event.job_id)

    async def _fan_out(self, event: Event, user_id: str | None) -> None:
        if user_id is None:
            return
        if event.type == EventType.PROGRESS and not await asyncio.to_thread(
            self._wants_progress, user_id
        ):
            return  # the common case, several times a second per job: no write transaction
        targets, notify = await asyncio.to_thread(self._targets, event, user_id)
        for target in targets:
            self._spawn(target)
        if notify:
            urls, title, body = notify
            self._track(
                asyncio.create_task(
                    send_notification(self._http().policy, urls, title=title, body=body)
                )
            )

    # database work (threads) ---------------------------------------------------------

    def _wants_progress(self, user_id: str) -> bool:
        """Whether any active webhook of the user asked for progress events (read only;
        progress never goes to a job's own webhook_url nor to notifications)."""
        with self.db.sessionmaker() as session:
            hooks = session.scalars(
                select(Webhook.events).where(
                    Webhook.user_id == user_id, Webhook.active.is_(True)
                )
            )
            return any(EventType.PROGRESS.value in (events or []) for events in hooks)

    def _targets(
        self, event: Event, user_id: str
    ) -> tuple[list[_Target], tuple[list[str], str, str] | None]:
        payload = json.dumps(event.model_dump(mode="json"), separators=(",", ":"))
        targets: list[tuple[str | None, str, str]] = []
        with self.db.write_sessionmaker() as session:
            hooks = session.scalars(
                select(Webhook).where(Webhook.user_id == user_id, Webhook.active.is_(True))
            )
            for hook in hooks:
                wanted = hook.events or [t.value for t in EventType if t != EventType.PROGRESS]
                if event.type.value in wanted:
                    secret = crypto.decrypt(self.settings, hook.secret_enc).decode()
                    targets.append((hook.id, hook.url, secret))
            job = session.get(Job, event.job_id)
            if job is not None and job.webhook_url and event.type != EventType.PROGRESS:
                targets.append((None, job.webhook_url, user_signing_secret(self.settings, user_id)))
            out: list[_Target] = []
            for hook_id, url, secret in targets:
                row = WebhookDelivery(
                    webhook_id=hook_id,
                    target_url=url,
                    job_id=event.job_id,
                    event_type=event.type.value,
                    payload=payload,
                    next_attempt_at=utcnow(),
                )
                session.add(row)
                session.flush()
                out.append(_Target(row.id, url, secret, payload))
            session.commit()
            return out, self._notification(session, event, user_id, job)

    def _notification(
        self, session: Session, event: Event, user_id: str, job: Job | None
    ) -> tuple[list[str], str, str] | None:
        if event.type not in _FINAL:
            return None
        user = session.get(User, user_id)
        if user is None or not user.notify_urls_enc:
            return None
        urls = json.loads(crypto.decrypt(self.settings, user.notify_urls_enc))
        what = (job.title or job.url or job.id) if job is not None else event.job_id
        title = f"mediavault: job {event.status}"
        body = f"{what}\njob {event.job_id}: {event.status}"
        if job is not None and job.error_message:
            body += f"\n{job.error_code}: {job.error_message}"
        return list(urls), title, body

    def _pending(self) -> list[_Target]:
        with self.db.write_sessionmaker() as session:
            rows = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.status == "pending")
            ).all()
            out: list[_Target] = []
            for row in rows:
                secret = self._secret_for(session, row)
                if secret is None:
                    row.status, row.error = "failed", "webhook or job no longer exists"
                    continue
                out.append(_Target(row.id, row.target_url, secret, row.payload, row.attempt))
            session.commit()
            return out

    def _secret_for(self, session: Session, row: WebhookDelivery) -> str | None:
        if row.webhook_id is not None:
            hook = session.get(Webhook, row.webhook_id)
            return crypto.decrypt(self.settings, hook.secret_enc).decode() if hook else None
        job = session.get(Job, row.job_id) if row.job_id else None
        if job is None or job.user_id is None:
            return None
        return user_signing_secret(self.settings, job.user_id)

    def _record(
        self,
        delivery_id: str,
        attempt: int,
        status: str,
        code: int | None,
        error: str | None,
        retry_in: float | None,
    ) -> None:
        with self.db.write_sessionmaker() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                return
            row.attempt, row.status, row.status_code, row.error = attempt, status, code, error
            now = utcnow()
            row.next_attempt_at = (
                now + timedelta(seconds=retry_in) if retry_in is not None else None
            )
            if status == "ok":
                row.delivered_at = now
            session.commit()

    # delivery --------------------------------------------------------------------------

    def _http(self) -> HttpSession:
        assert self._session is not None, "dispatcher not started"
        return self._session

    def _spawn(self, target: _Target) -> None:
        self._track(asyncio.create_task(self._deliver(target)))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, target: _Target) -> None:
        attempt = target.attempt
        body = target.payload.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: crypto.sign(target.secret.encode(), body),
            "User-Agent": "mediavault-webhook/1",
            "X-Mediavault-Delivery": target.delivery_id,
        }
        while True:
            attempt += 1
            code, error = await self._post(target.url, body, headers)
            ok = code is not None and 200 <= code < 300
            retryable = code is None or code >= 500 or code in _RETRY_STATUSES
            if ok or not retryable or attempt >= self.settings.webhook_max_attempts:
                status = "ok" if ok else "failed"
                await asyncio.to_thread(
                    self._record, target.delivery_id, attempt, status, code, error, None
                )
                return
            delay = min(_MAX_BACKOFF, self.settings.webhook_retry_base_seconds * 2 ** (attempt - 1))
            await asyncio.to_thread(
                self._record, target.delivery_id, attempt, "pending", code, error, delay
            )
            await asyncio.sleep(delay)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        async with self._limit:
            try:
                async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                    async with self._http().stream(
                        "POST",
                        url,
                        content=body,
                        headers=headers,
                        follow_redirects=False,
                        raise_for_status=False,
                    ) as response:
                        await response.aread()
                        return (
                            response.status_code,
                            None if response.status_code < 300 else f"HTTP {response.status_code}",
                        )
            except MediavaultError as exc:
                return None, f"{exc.code}: {exc.message}"
            except TimeoutError:
                return None, "timeout"
