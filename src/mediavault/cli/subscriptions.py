"""``mediavault subscriptions add|list|sync|remove`` and ``mediavault credentials set``.

They work against the configured database whether or not a server runs. ``sync`` syncs
right here (listing with the adapter, downloading with a ``Client`` into the configured
storage) and prints each new file's path; a running service syncs on its own schedule.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer

from mediavault import accounts
from mediavault.cli import app, fail
from mediavault.config import Settings, get_settings
from mediavault.errors import MediavaultError
from mediavault.jobs.db import Database
from mediavault.jobs.tables import Subscription
from mediavault.models import DownloadOptions, ItemStatus
from mediavault.subscriptions.schemas import SubscriptionCreate, SubscriptionFilters
from mediavault.subscriptions.store import CredentialStore, SqlArchive, SubscriptionStore

__all__ = ["credentials_app", "subscriptions_app"]

subscriptions_app = typer.Typer(help="Keep channels and profiles in sync.", no_args_is_help=True)
credentials_app = typer.Typer(help="Your own platform sessions.", no_args_is_help=True)
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(credentials_app, name="credentials")

T = TypeVar("T")
UserOption = typer.Option(None, "--user", help="Act as this user (default: the local admin).")


def _run(
    fn: Callable[[Settings, Database, str], Coroutine[Any, Any, T]], user: str | None
) -> T:
    try:
        settings = get_settings()
        db = Database(settings)
    except MediavaultError as exc:
        raise fail(exc) from exc
    try:
        with db.sessionmaker() as session, session.begin():
            owner = accounts.get_user(session, user) if user else accounts.local_admin(session)
            user_id = owner.id
        return asyncio.run(fn(settings, db, user_id))
    except MediavaultError as exc:
        raise fail(exc, code=2 if exc.expected else 1) from exc
    finally:
        db.dispose()


@subscriptions_app.command("add")
def add(
    url: str = typer.Argument(..., help="Channel, playlist, feed or profile URL."),
    name: str | None = typer.Option(None, help="A name to show instead of the URL."),
    mode: str = typer.Option("all", help="all: full back-catalogue; new: only new from now on."),
    interval: str = typer.Option("1h", help="How often to sync (30m, 6h, 1d...)."),
    max_items: int | None = typer.Option(None, help="At most this many downloads per sync."),
    format: str = typer.Option("best", "-f", "--format", help="Format to download."),
    template: str | None = typer.Option(None, help="Output path template."),
    title_regex: str | None = typer.Option(None, help="Only titles matching this."),
    title_exclude: str | None = typer.Option(None, help="Skip titles matching this."),
    date_after: str | None = typer.Option(None, help="Only items from this day on (YYYYMMDD)."),
    user: str | None = UserOption,
) -> None:
    """Subscribe to URL; prints the new subscription's id."""
    try:
        body = SubscriptionCreate(
            url=url,
            name=name,
            mode=mode,
            interval_seconds=interval,
            max_items=max_items,
            options=DownloadOptions(format=format, template=template),
            filters=SubscriptionFilters(
                title_regex=title_regex, title_exclude=title_exclude, date_after=date_after
            ),
        )
    except ValueError as exc:
        raise fail(f"invalid subscription: {exc}".splitlines()[0]) from exc

    async def create(settings: Settings, db: Database, user_id: str) -> Subscription:
        return await SubscriptionStore.of(db).create(user_id, body)

    print(_run(create, user).id)


@subscriptions_app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="One JSON record per subscription."),
    user: str | None = UserOption,
) -> None:
    """Your subscriptions."""

    async def load(settings: Settings, db: Database, user_id: str) -> list[Subscription]:
        return await SubscriptionStore.of(db).list(user_id)

    for sub in _run(load, user):
        last = (sub.state or {}).get("last_result") or {}
        if as_json:
            record = {
                "id": sub.id, "url": sub.url, "platform": sub.platform, "name": sub.name,
                "mode": sub.mode, "enabled": sub.enabled, "interval_seconds": sub.interval_seconds,
                "last_sync_at": sub.last_sync_at.isoformat() if sub.last_sync_at else None,
                "last_result": last or None,
            }
            print(json.dumps(record))
        else:
            when = sub.last_sync_at.strftime("%Y-%m-%d %H:%M") if sub.last_sync_at else "never"
            state = "on" if sub.enabled else "off"
            print(f"{sub.id}  {state:3}  {sub.mode:3}  last sync {when}  {sub.name or sub.url}")


@subscriptions_app.command("remove")
def remove(sub_id: str, user: str | None = UserOption) -> None:
    """Delete a subscription (downloaded files stay)."""

    async def delete(settings: Settings, db: Database, user_id: str) -> None:
        await SubscriptionStore.of(db).delete(sub_id, user_id)

    _run(delete, user)


@subscriptions_app.command("sync")
def sync(
    sub_ids: list[str] = typer.Argument(None, help="Subscriptions to sync (default: all due)."),
    all_: bool = typer.Option(False, "--all", help="Sync every enabled subscription now."),
    user: str | None = UserOption,
) -> None:
    """Sync now, here: download what is new and print each new file's path."""

    async def run(settings: Settings, db: Database, user_id: str) -> list[str]:
        store = SubscriptionStore.of(db)
        subs = [await store.get(i, user_id) for i in sub_ids or []]
        if not subs:
            due = set(await store.due(limit=1000))
            subs = [s for s in await store.list(user_id) if s.enabled and (all_ or s.id in due)]
        lines: list[str] = []
        for sub in subs:
            lines.extend(await _sync_one(settings, db, sub, user_id))
        return lines

    for line in _run(run, user):
        print(line)


async def _sync_one(
    settings: Settings, db: Database, sub: Subscription, user_id: str
) -> list[str]:
    from mediavault.client import Client  # the download pipeline, only needed here
    from mediavault.storage import SqlDedupeIndex, open_storage
    from mediavault.subscriptions.runner import ClientSink, open_adapter, sync_subscription

    credentials: dict[str, Any] = await CredentialStore.of(db, settings).for_user(user_id)
    options = DownloadOptions.model_validate(sub.options or {})
    client = Client(
        settings,
        storage=open_storage(settings.effective_storage_url, settings),
        dedupe=SqlDedupeIndex(db.write_sessionmaker, user_id),
        credentials=credentials,
    )
    async with client, open_adapter(sub.url, settings, client.session, credentials) as adapter:
        sink = ClientSink(client, options)
        await sync_subscription(
            sub,
            store=SubscriptionStore.of(db),
            adapter=adapter,
            known=SqlArchive.of(db, user_id),
            sink=sink,
            lease_seconds=max(settings.lease_seconds * 2, 30.0),
        )
    return [
        r.path or r.duplicate_of or ""
        for r in sink.results
        if r.status is ItemStatus.COMPLETED and (r.path or r.duplicate_of)
    ]


@credentials_app.command("set")
def set_credentials(
    platform: str = typer.Argument(..., help="onlyfans, fansly, loyalfans, tiktok..."),
    cookie: str = typer.Option(..., help="The session cookie header (a=b; c=d)."),
    user_agent: str = typer.Option(..., help="The user agent of that browser session."),
    token: str | None = typer.Option(None, help="The platform's extra token (x-bc...)."),
    user: str | None = UserOption,
) -> None:
    """Store your session for PLATFORM (encrypted; never printed back)."""
    data = {"cookie": cookie, "user_agent": user_agent}
    if token:
        data["token"] = token

    async def store(settings: Settings, db: Database, user_id: str) -> None:
        await CredentialStore.of(db, settings).set(user_id, platform, data)

    _run(store, user)
    print(f"stored {platform.lower()} credentials")
