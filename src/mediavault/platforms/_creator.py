"""The shared flow of creator-subscription platforms (OnlyFans, Fansly, LoyalFans).

A creator adapter validates the user's session once (the auth handshake), reads the
creator's profile, then pages newest-first through the creator's *feeds* (posts,
messages, stories, highlights) with the platform's own paging. Every visible media
attachment becomes a ``MediaItem`` carrying all its qualities as ``Format``s;
DRM-protected media is yielded flagged (the pipeline reports it skipped,
``drm_protected``); media this account cannot see (paid, locked) is yielded without
formats and marked ``extra["unavailable"]`` (reported skipped, ``content_locked``, with
the platform's reason); a post whose JSON has an unexpected shape becomes one item that
fails with ``extraction_failed`` naming the field, and the listing goes on.

Subclasses implement :meth:`login`, :meth:`profile` and :meth:`fetch_page`; cursors are
small JSON dicts (``{"feed", "page", "skip"}``) so a sync can be stored and resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from mediavault.errors import ExtractionError, InputError
from mediavault.models import Collection, CollectionEntry, Creator, Format, MediaItem, Post
from mediavault.platforms._utils import PlatformAuth, upload_date
from mediavault.platforms.base import Adapter, AdapterContext, Cursor

__all__ = ["FEEDS", "CreatorAdapter", "Page", "ext_from_url", "require_list"]

log = logging.getLogger("mediavault.platforms")
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)

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


def require_list(platform: str, data: Any, *path: str) -> list[Any]:
    """``data[path...]`` that must be a JSON array; else ``ExtractionError`` naming it.

    A missing key and ``null`` count as an empty list; any other shape is an error (an
    answer that changed shape must not read as "no more posts")."""
    value: Any = data
    for key in path:
        if value is None:
            return []
        if not isinstance(value, dict):
            where = ".".join(path[: path.index(key)]) or "the answer"
            raise ExtractionError(
                f"{platform}: expected an object at {where!r}, got {type(value).__name__}",
                detail={"platform": platform, "field": ".".join(path)},
            )
        value = value.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ExtractionError(
            f"{platform}: field {'.'.join(path)!r} is {type(value).__name__}, expected a list",
            detail={"platform": platform, "field": ".".join(path)},
        )
    return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "a missing field"
    return f"{type(exc).__name__}: {exc}"


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
            if result.next is None or not result.posts or result.next == page:
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
            previous: list[str] = []
            while True:
                result = await self.fetch_page(creator, feed, page)
                ids = [post.id for post in result.posts]
                # the platform ignored the paging parameter and sent the same page again
                repeated = bool(ids) and ids == previous
                if repeated:
                    log.warning("%s: %s paging stopped: page %r repeats the one before",
                                self.name, feed, page)
                previous = ids
                items = [] if repeated else [i for post in result.posts for i in post.media]
                last_page = repeated or result.next is None or not result.posts
                if not last_page and result.next == page:
                    # a cursor that does not move would page forever
                    log.warning("%s: %s paging stopped: the cursor did not advance (%r)",
                                self.name, feed, page)
                    last_page = True
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
    def parse_posts(
        self,
        raws: Sequence[Any],
        creator: Creator,
        feed: str,
        parse: Callable[[dict[str, Any]], Post],
    ) -> list[Post]:
        """Parse each post; one with an unexpected shape becomes a failing item, so the
        rest of the listing goes on (and the failure names the field)."""
        posts: list[Post] = []
        for raw in raws:
            try:
                if not isinstance(raw, dict):
                    raise TypeError(f"a {feed} entry is {type(raw).__name__}, not an object")
                posts.append(parse(raw))
            except _SHAPE_ERRORS as exc:
                posts.append(self.unreadable_post(raw, creator, feed, exc))
        return posts

    def unreadable_post(self, raw: Any, creator: Creator, feed: str, exc: BaseException) -> Post:
        ident = raw.get("id") or raw.get("uid") if isinstance(raw, dict) else None
        if ident is None:
            blob = json.dumps(raw, sort_keys=True, default=str).encode()
            ident = "x" + hashlib.sha1(blob, usedforsecurity=False).hexdigest()[:12]
        post_id = str(ident)
        message = f"{self.name}: cannot read {feed} entry {post_id}: {_describe(exc)}"
        log.warning("%s", message)
        item = self.make_item(
            media_id=f"{post_id}-unreadable",
            creator=creator,
            feed=feed,
            post_id=post_id,
            title=f"{creator.username} {feed} {post_id}",
            page_url=creator.url or self.url,
            formats=(),
            kind="other",
            timestamp=None,
            unavailable=("extraction_failed", message),
        )
        return self.make_post(
            post_id=post_id, creator=creator, feed=feed, text=None, timestamp=None, media=[item]
        )

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
        unavailable: tuple[str, str] | None = None,
    ) -> MediaItem:
        """One media; ``unavailable=(code, message)`` for one this account cannot fetch
        (``content_locked``: paid/locked) or whose JSON could not be read: it carries no
        formats and the pipeline reports it with that code instead of downloading."""
        from mediavault.models import Thumbnail

        extra: dict[str, Any] = {"post_id": post_id, "feed": feed}
        if unavailable is not None:
            extra["unavailable"] = {"code": unavailable[0], "message": unavailable[1]}
            formats = ()
        # the transfer engine sends a format's own headers (not the item's): the media
        # hosts see the user agent the session was made with
        headers = self.media_headers()
        formats = [
            f.model_copy(update={"http_headers": {**headers, **f.http_headers}}) for f in formats
        ]
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
            http_headers=headers,
            extra=extra,
        )

    def media_headers(self) -> dict[str, str]:
        """Headers the media hosts need (the user agent the session was made with)."""
        return {"User-Agent": self.auth.user_agent}
