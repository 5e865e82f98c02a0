"""Job handlers: ``subscription_sync`` and ``profile_scrape`` (imported by every worker).

Both list a channel/profile with its adapter and queue one download child job per new
entry, then wait for the children: the job's stage goes ``scraping`` -> ``downloading``
and it completes when they have all ended (counts on the job row). Items already in the
archive are not queued again.
"""

from __future__ import annotations

from typing import Any

from mediavault.errors import InputError
from mediavault.jobs.handlers import JobContext, register_handler
from mediavault.models import JobKind
from mediavault.net.session import HttpSession
from mediavault.platforms.base import adapter_for
from mediavault.subscriptions.runner import JobSink, open_adapter, sync_subscription
from mediavault.subscriptions.store import CredentialStore, SqlArchive, SubscriptionStore
from mediavault.subscriptions.sync import run_sync

__all__ = ["profile_scrape", "subscription_sync"]


def _lease_seconds(ctx: JobContext) -> float:
    return max(ctx.settings.lease_seconds * 2, 30.0)


async def _finish(ctx: JobContext, sink: JobSink, summary: dict[str, Any]) -> dict[str, Any]:
    await ctx.log(
        "listed {listed}, queued {taken}, already archived {known}, filtered {filtered} "
        "(stopped: {stopped})".format(**summary)
    )
    if sink.spawned:
        await ctx.update(stage="downloading")
        return ctx.wait_for_children(sink.spawned)
    await ctx.update(stage="completed")
    return {"sync": summary}


@register_handler(JobKind.SUBSCRIPTION_SYNC, host_limited=False)
async def subscription_sync(ctx: JobContext) -> dict[str, Any]:
    if not ctx.job.subscription_id:
        raise InputError("a subscription_sync job needs a subscription_id")
    db = ctx.engine.database
    store = SubscriptionStore.of(db)
    sub = await store.get(ctx.job.subscription_id)
    credentials = await CredentialStore.of(db, ctx.settings).for_user(sub.user_id)
    await ctx.update(stage="scraping", platform=sub.platform, title=sub.name or sub.url)
    sink = JobSink(ctx, dict(sub.options or {}))
    async with HttpSession(ctx.settings) as session, open_adapter(
        sub.url, ctx.settings, session, credentials
    ) as adapter:
        report = await sync_subscription(
            sub,
            store=store,
            adapter=adapter,
            known=SqlArchive.of(db, sub.user_id),
            sink=sink,
            lease_seconds=_lease_seconds(ctx),
        )
    return await _finish(ctx, sink, report.as_dict())


@register_handler(JobKind.PROFILE_SCRAPE, host_limited=False)
async def profile_scrape(ctx: JobContext) -> dict[str, Any]:
    """Scrape a whole profile once: every entry not yet archived becomes a download job.

    The listing cursor is saved on the job (``expand_cursor``), so a retried scrape
    resumes where the last attempt stopped instead of listing everything again.
    """
    url = ctx.job.url
    if not url:
        raise InputError("a profile_scrape job needs a url")
    db = ctx.engine.database
    credentials = await CredentialStore.of(db, ctx.settings).for_user(ctx.job.user_id)
    await ctx.update(stage="scraping", platform=adapter_for(url).name)
    sink = JobSink(ctx, dict(ctx.job.options or {}))
    state = dict((ctx.job.expand_cursor or {}).get("scrape") or {})

    async def checkpoint(new_state: dict[str, Any]) -> None:
        await ctx.update(expand_cursor={"scrape": new_state})

    async with HttpSession(ctx.settings) as session, open_adapter(
        url, ctx.settings, session, credentials
    ) as adapter:
        collection = await adapter.extract()
        await ctx.update(title=collection.title)
        report, _ = await run_sync(
            adapter,
            platform=adapter.name if adapter.name != "ytdlp" else collection.platform,
            state=state,
            known=SqlArchive.of(db, ctx.job.user_id),
            sink=sink,
            mode="all",
            max_items=int((ctx.job.payload or {}).get("max_items") or 0) or None,
            checkpoint=checkpoint,
        )
    return await _finish(ctx, sink, report.as_dict())
