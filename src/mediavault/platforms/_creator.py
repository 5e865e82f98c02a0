"""The shared flow of creator-subscription platforms (OnlyFans, Fansly, LoyalFans).

A creator adapter validates the user's session once (the auth handshake), reads the
creator's profile, then pages newest-first through the creator's *feeds* (posts,
messages, stories, highlights) with the platform's own paging. Every visible media
attachment becomes a ``MediaItem`` carrying all its qualities as ``Format``s;
DRM-protected media is yielded flagged (the pipeline reports it skipped,
``drm_protected``) and media this account cannot see (paid, locked) is left out.

Subclasses implement :meth:`login`, :meth:`profile` and :meth:`fetch_page`; cursors are
small JSON dicts (``{"feed", "page", "skip"}``) so a sync can be stored and resumed.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from mediavault.errors import InputError
from mediavault.models import Collection, CollectionEntry, Creator, Format, MediaItem, Post
from mediavault.platforms._utils import PlatformAuth, upload_date
from mediavault.platforms.base import Adapter, AdapterContext, Cursor

__all__ = ["FEEDS", "CreatorAdapter", "Page", "ext_from_url"]

FEEDS: tuple[str, ...] = ("posts", "messages", "stories", "highlights")
Kind = Literal["video", "audio", "image", "other"]
PostKind = Literal["post", "message", "story", "highlight", "video"]
_POST_KIND: dict[str, PostKind] = {
    "posts": "post",
    "messages": "message",
    "stories": "story",
    "highlights": "highlight",
}


@dataclass(frozen=True)
class Page:
    """One page of a feed: its posts, and the platform cursor of the next page (or None)."""

    posts: Sequence[Post]
    next: Any = None


def ext_from_url(url: str, default: str) -> str:
    ext = posixpath.splitext(urlsplit(url).path)[1].lstrip(".").lower()
    return ext if ext and len(ext) <= 5 and ext.isalnum() else default


class CreatorAdapter(Adapter):
    """Base of the creator-platform adapters; the URL names a creator (and maybe one feed)."""

    fetches_url: ClassVar[bool] = False
    profiles: ClassVar[bool] = True
    need_token: ClassVar[bool] = False
    available_feeds: ClassVar[tuple[str, ...]] = FEEDS
    web_base: ClassVar[str]  # canonical site, used for the page URLs of items

    def __init__(self, url: str, ctx: AdapterContext) -> None:
        super().__init__(url, ctx)
        if self.match is None:
            raise InputError(f"not a {self.name} profile URL: {url}")
        self.username: str = self.match.group("user")
        feed = self.match.groupdict().get("feed")
        self.feeds: tuple[str, ...] = (feed,) if feed else self.available_feeds
        self._auth: PlatformAuth | None = None
        self._me: dict[str, Any] | None = None
        self._creator: Creator | None = None

    # credentials and handshake -------------------------------------------------------
    @property
    def auth(self) -> PlatformAuth:
        if self._auth is None:
            self._auth = PlatformAuth.for_platform(
                self.ctx.credentials, self.name, need_token=self.need_token
            )
        return self._auth

    async def ensure_login(self) -> dict[str, Any]:
        """Validate the session once (raises ``CredentialsInvalidError``); the account."""
        if self._me is None:
            self._me = await self.login()
        return self._me

    @abstractmethod
    async def login(self) -> dict[str, Any]:
        """The auth handshake: ask the platform who we are with these credentials."""

    @abstractmethod
    async def profile(self) -> Creator:
        """The creator named by the URL."""

    @abstractmethod
    async def fetch_page(self, creator: Creator, feed: str, page: Any) -> Page:
        """One page of ``feed`` (``page`` None = newest)."""

    async def creator(self) -> Creator:
        if self._creator is None:
            await self.ensure_login()
            self._creator = await self.profile()
        return self._creator

    # the Adapter protocol ------------------------------------------------------------
    async def extract(self) -> Collection:
        creator = await self.creator()
        return Collection(
            platform=self.name,
            id=creator.id,
            title=creator.name or creator.username,
            url=self.url,
            kind="profile",
            uploader=creator.username,
            entry_count=creator.media_count,
        )

    async def iter_posts(self, feed: str, page: Any = None) -> AsyncIterator[tuple[Post, Any]]:
        """Typed posts of one feed, newest first, with the page cursor they came from."""
        creator = await self.creator()
        while True:
            result = await self.fetch_page(creator, feed, page)
            for post in result.posts:
                yield post, page
            if result.next is None or not result.posts:
                return
            page = result.next

    async def iter_entries(
        self, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        state = dict(cursor or {})
        if state.get("done"):
            return
        creator = await self.creator()
        feeds = self.feeds
        first = state.get("feed", feeds[0])
        start = feeds.index(first) if first in feeds else 0
        for position, feed in enumerate(feeds[start:], start=start):
            resuming = feed == first
            page = state.get("page") if resuming else None
            skip = int(state.get("skip", 0)) if resuming else 0
            following: Cursor = (
                {"feed": feeds[position + 1]} if position + 1 < len(feeds) else {"done": True}
            )
            while True:
                result = await self.fetch_page(creator, feed, page)
                items = [item for post in result.posts for item in post.media]
                last_page = result.next is None or not result.posts
                for index, item in enumerate(items):
                    if index < skip:
                        continue
                    if index + 1 < len(items):
                        after: Cursor = {"feed": feed, "page": page, "skip": index + 1}
                    elif not last_page:
                        after = {"feed": feed, "page": result.next, "skip": 0}
                    else:
                        after = dict(following)
                    yield item, after
                skip = 0
                if last_page:
                    break
                page = result.next

    def skip_section(self, cursor: Cursor | None) -> Cursor | None:
        """The cursor of the feed after the one ``cursor`` is in (None: no more feeds)."""
        feed = (cursor or {}).get("feed")
        if feed not in self.feeds:
            return None
        position = self.feeds.index(feed) + 1
        return {"feed": self.feeds[position]} if position < len(self.feeds) else None

    # building items --------------------------------------------------------------------
    def make_post(
        self,
        *,
        post_id: str,
        creator: Creator,
        feed: str,
        text: str | None,
        timestamp: float | None,
        media: Sequence[MediaItem],
        locked: bool = False,
    ) -> Post:
        from datetime import UTC, datetime

        return Post(
            platform=self.name,
            id=post_id,
            creator_id=creator.id,
            kind=_POST_KIND.get(feed, "post"),
            text=text,
            created_at=datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None,
            media=tuple(media),
            locked=locked,
        )

    def make_item(
        self,
        *,
        media_id: str,
        creator: Creator,
        feed: str,
        post_id: str,
        title: str,
        page_url: str,
        formats: Sequence[Format],
        kind: Kind,
        timestamp: float | None,
        duration: float | None = None,
        description: str | None = None,
        thumbnail: str | None = None,
    ) -> MediaItem:
        from mediavault.models import Thumbnail

        return MediaItem(
            platform=self.name,
            id=media_id,
            title=title,
            url=page_url,
            formats=tuple(formats),
            uploader=creator.username,
            uploader_id=creator.id,
            upload_date=upload_date(timestamp),
            timestamp=timestamp,
            duration=duration,
            description=description,
            thumbnails=(Thumbnail(url=thumbnail),) if thumbnail else (),
            playlist=creator.username,
            kind=kind,
            drm=bool(formats) and all(f.drm for f in formats),
            http_headers=self.media_headers(),
            extra={"post_id": post_id, "feed": feed},
        )

    def media_headers(self) -> dict[str, str]:
        """Headers the media hosts need (the user agent the session was made with)."""
        return {"User-Agent": self.auth.user_agent}
