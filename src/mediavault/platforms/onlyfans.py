"""OnlyFans: a creator's posts, messages, stories and highlights via ``/api2/v2``.

Every API call carries the user's own session (``cookie`` with ``auth_id``, the
``user-agent`` it was made with, the ``x-bc`` token) and a ``sign`` header computed from
user-supplied rules (:mod:`mediavault.platforms._signing`). Read-only: nothing here
buys, likes, subscribes or writes.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

from mediavault.errors import CredentialsInvalidError, ExtractionError
from mediavault.models import Creator, Format, MediaItem, Post, Protocol
from mediavault.platforms._creator import CreatorAdapter, Kind, Page, ext_from_url, require_list
from mediavault.platforms._signing import SigningRules, load_rules
from mediavault.platforms._utils import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    cookie_value,
    dig,
    parse_timestamp,
    request_json,
    title_from,
)
from mediavault.platforms.base import register

__all__ = ["OnlyFansAdapter"]

PAGE_SIZE = 50  # the API caps pages itself; hasMore/tailMarker drive the paging
_KINDS: dict[str, Kind] = {"video": "video", "gif": "video", "photo": "image", "audio": "audio"}


@register
class OnlyFansAdapter(CreatorAdapter):
    name = "onlyfans"
    pattern = (
        r"https?://(?:www\.)?onlyfans\.com/(?P<user>[A-Za-z0-9_.-]+)/?"
        r"(?:(?P<feed>posts|messages|stories|highlights)/?)?(?:[?#].*)?$"
    )
    example = "https://onlyfans.com/example_creator"
    need_token: ClassVar[bool] = True
    web_base = "https://onlyfans.com"

    _rules: SigningRules | None = None

    @property
    def api_base(self) -> str:
        return self.ctx.settings.onlyfans_api_base.rstrip("/")

    async def _get(self, path: str, **params: Any) -> Any:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        full_path = f"/api2/v2{path}" + (f"?{query}" if query else "")
        if self._rules is None:
            self._rules = await load_rules(self.ctx.settings.onlyfans_rules, self.ctx.session)
        user_id = cookie_value(self.auth.cookie, "auth_id") or "0"
        headers = {
            "accept": "application/json, text/plain, */*",
            "user-agent": self.auth.user_agent,
            "cookie": self.auth.cookie,
            "x-bc": self.auth.token or "",
            "user-id": user_id,
            **self._rules.sign(full_path, user_id),
        }
        return await request_json(
            self.ctx.session, self.api_base + full_path, platform=self.name, headers=headers
        )

    async def login(self) -> dict[str, Any]:
        me = await self._get("/users/me")
        if not isinstance(me, dict) or not me.get("isAuth", bool(me.get("id"))):
            raise CredentialsInvalidError(
                "onlyfans did not accept the session (users/me is not authenticated)",
                detail={"platform": self.name},
            )
        return me

    async def profile(self) -> Creator:
        data = await self._get(f"/users/{self.username}")
        if not isinstance(data, dict) or data.get("id") is None:
            raise ExtractionError(f"onlyfans: no creator named {self.username!r}")
        return Creator(
            platform=self.name,
            id=str(data["id"]),
            username=str(data.get("username") or self.username),
            name=data.get("name"),
            url=f"{self.web_base}/{data.get('username') or self.username}",
            about=data.get("about"),
            avatar=data.get("avatar"),
            header=data.get("header"),
            posts_count=as_int(data.get("postsCount")),
            media_count=as_int(data.get("mediasCount")),
            followers_count=as_int(data.get("subscribersCount")),
            is_subscribed=data.get("subscribedBy"),
        )

    async def fetch_page(self, creator: Creator, feed: str, page: Any) -> Page:
        """Posts page with ``beforePublishTime`` (the previous ``tailMarker``), messages
        with ``id`` (the last message's). A server that ignores those and pages by
        ``offset`` (older API versions, some clients' assumption) is noticed when a page
        starts with the previous page's first entry; the feed then goes on by offset.
        Cursors: ``{"marker", "offset", "first", "mode"}`` (a bare string is a marker)."""
        if feed not in ("posts", "messages"):
            return await self._other_feed(creator, feed, page)
        cursor = _cursor(page)
        offset = as_int(cursor.get("offset")) or 0
        by_offset = cursor.get("mode") == "offset"
        data, raw_list = await self._list_page(creator, feed, cursor, by_offset)
        first = cursor.get("first")
        if not by_offset and first is not None and str(dig(raw_list, 0, "id")) == str(first):
            by_offset = True  # the marker was ignored: this is the first page again
            data, raw_list = await self._list_page(creator, feed, cursor, by_offset)
        posts = self._parse(raw_list, creator, feed)
        bare = isinstance(data, list)
        if not raw_list or (not bare and not as_bool(dig(data, "hasMore"))):
            return Page(posts, None)
        last = raw_list[-1] if isinstance(raw_list[-1], dict) else {}
        if feed == "posts":
            marker = None if bare else dig(data, "tailMarker")
            marker = marker or last.get("postedAtPrecise") or _epoch(last.get("postedAt"))
        else:
            marker = last.get("id")
        following: dict[str, Any] = {
            "marker": str(marker) if marker is not None else None,
            "offset": offset + len(raw_list),
            "first": str(dig(raw_list, 0, "id")),
        }
        if by_offset:
            following["mode"] = "offset"
        elif marker is None:
            return Page(posts, None)
        return Page(posts, following)

    async def _list_page(
        self, creator: Creator, feed: str, cursor: dict[str, Any], by_offset: bool
    ) -> tuple[Any, list[Any]]:
        marker = None if by_offset else cursor.get("marker")
        offset = (as_int(cursor.get("offset")) or 0) if by_offset else None
        if feed == "posts":
            data = await self._get(
                f"/users/{creator.id}/posts",
                limit=PAGE_SIZE,
                order="publish_date_desc",
                skip_users="all",
                format="infinite",
                beforePublishTime=marker,
                offset=offset,
            )
        else:
            data = await self._get(
                f"/chats/{creator.id}/messages",
                limit=PAGE_SIZE,
                order="desc",
                id=marker,
                offset=offset,
            )
        # ``format=infinite`` answers {list, hasMore, tailMarker}; without it (and on
        # older API versions) the answer is the bare list, paged until it is empty
        raw_list = data if isinstance(data, list) else require_list(self.name, data, "list")
        return data, raw_list

    async def _other_feed(self, creator: Creator, feed: str, page: Any) -> Page:
        if feed == "stories":
            data = await self._get(f"/users/{creator.id}/stories")
            stories = data if isinstance(data, list) else require_list(self.name, data, "list")
            return Page(self._parse(stories, creator, feed), None)
        return await self._highlights(creator, as_int(page) or 0)

    async def _highlights(self, creator: Creator, offset: int) -> Page:
        data = await self._get(
            f"/users/{creator.id}/stories/highlights", limit=PAGE_SIZE, offset=offset
        )
        # {list, hasMore}; older API versions answer the bare list (one page)
        bare = isinstance(data, list)
        highlights = data if bare else require_list(self.name, data, "list")
        posts: list[Post] = []
        for highlight in highlights:
            highlight_id = dig(highlight, "id")
            if highlight_id is None:
                raise ExtractionError(
                    "onlyfans: a highlight has no 'id'", detail={"field": "list[].id"}
                )
            detail = await self._get(f"/stories/highlights/{highlight_id}")
            title = dig(detail, "title") or dig(highlight, "title")
            stories = require_list(self.name, detail, "stories")
            posts += self._parse(stories, creator, "highlights", title=title)
        more = not bare and bool(highlights) and as_bool(dig(data, "hasMore"))
        return Page(posts, offset + len(highlights) if more else None)

    def _parse(
        self, raws: list[Any], creator: Creator, feed: str, *, title: Any = None
    ) -> list[Post]:
        name = title if isinstance(title, str) else None

        def parse(raw: dict[str, Any]) -> Post:
            return self._post(raw, creator, feed, title=name)

        return self.parse_posts(raws, creator, feed, parse)

    def _post(
        self, raw: dict[str, Any], creator: Creator, feed: str, *, title: str | None = None
    ) -> Post:
        post_id = str(raw["id"])
        timestamp = parse_timestamp(raw.get("postedAtPrecise")) or parse_timestamp(
            raw.get("postedAt") or raw.get("createdAt")
        )
        text = raw.get("text") or raw.get("rawText")
        page_url = (
            f"{self.web_base}/{post_id}/{creator.username}"
            if feed == "posts"
            else f"{self.web_base}/{creator.username}/{feed}"
        )
        media: list[MediaItem] = []
        hidden = 0
        medias = [m for m in as_list(raw.get("media")) if isinstance(m, dict)]
        base_title = title_from(title or text, f"{creator.username} {feed} {post_id}")
        for position, item in enumerate(medias, start=1):
            if item.get("id") is None:
                raise KeyError("media[].id")
            kind = _KINDS.get(str(item.get("type")), "other")
            formats = self._formats(item)
            unavailable = None
            if not formats:
                hidden += 1
                unavailable = self._why_unavailable(raw, item)
            media.append(
                self.make_item(
                    media_id=str(item["id"]),
                    creator=creator,
                    feed=feed,
                    post_id=post_id,
                    title=base_title if len(medias) == 1 else f"{base_title} ({position})",
                    page_url=page_url,
                    formats=formats,
                    kind=kind,
                    timestamp=parse_timestamp(item.get("createdAt")) or timestamp,
                    duration=as_float(
                        item.get("duration")
                        or dig(item, "source", "duration")
                        or dig(item, "info", "source", "duration")
                    ),
                    description=text,
                    thumbnail=_str(dig(item, "files", "thumb", "url") or item.get("thumb")),
                    unavailable=unavailable,
                )
            )
        return self.make_post(
            post_id=post_id,
            creator=creator,
            feed=feed,
            text=text,
            timestamp=timestamp,
            media=media,
            locked=hidden > 0 and hidden == len(medias),
        )

    def _why_unavailable(self, post: dict[str, Any], item: dict[str, Any]) -> tuple[str, str]:
        """Why a media has no URL: locked/paid (``content_locked``), or unreadable."""
        price = as_float(post.get("price"))
        locked = (
            item.get("canView") is False
            or as_bool(item.get("locked"))
            or not as_bool(post.get("canViewMedia", True))
            or (price is not None and price > 0 and not as_bool(post.get("isOpened", True)))
        )
        where = f"onlyfans media {item.get('id')} of {post.get('id')}"
        if locked:
            cost = f" (price {price:g})" if price else ""
            return "content_locked", f"{where} is locked: not bought or not subscribed{cost}"
        return (
            "extraction_failed",
            f"{where}: no URL in files.full.url, source.source, url or files.drm.manifest",
        )

    def _formats(self, item: dict[str, Any]) -> list[Format]:
        """Every quality of one media object; DRM manifests flagged; none if not viewable."""
        if item.get("canView") is False:
            return []
        kind = _KINDS.get(str(item.get("type")), "other")
        default_ext = {"video": "mp4", "image": "jpg", "audio": "mp3"}.get(kind, "bin")
        formats: list[Format] = []
        full = as_dict(dig(item, "files", "full"))
        source = as_dict(item.get("source")) or as_dict(dig(item, "info", "source"))
        # files.full.url (current API), source.source / info.source.source (older), or the
        # flat ``full`` / ``url`` / ``src`` of the oldest shape
        source_url = _str(
            full.get("url")
            or source.get("source")
            or source.get("url")
            or _str(item.get("full"))
            or _str(item.get("url"))
            or _str(item.get("src"))
        )
        if source_url:
            info = full if full.get("url") else source
            formats.append(
                Format(
                    format_id="source",
                    url=source_url,
                    ext=ext_from_url(source_url, default_ext),
                    width=as_int(info.get("width")),
                    height=as_int(info.get("height")),
                    filesize=as_int(info.get("size")),
                    **_codecs(kind, ext_from_url(source_url, default_ext)),
                    note="original",
                )
            )
        # PHP sends an empty ``videoSources`` as [] and missing qualities as null
        for quality, url in sorted(as_dict(item.get("videoSources")).items()):
            url = _str(url)
            if url and url != source_url and str(quality).isdigit():
                formats.append(
                    Format(
                        format_id=f"{quality}p",
                        url=url,
                        ext=ext_from_url(url, default_ext),
                        height=int(quality),
                    )
                )
        if not formats:
            # no plain file: a DRM-protected video (its manifests only), never fetched
            drm = dig(item, "files", "drm")
            if isinstance(drm, dict):
                for key, protocol in (("dash", Protocol.DASH), ("hls", Protocol.HLS)):
                    url = _str(dig(drm, "manifest", key))
                    if url:
                        formats.append(
                            Format(format_id=f"drm-{key}", url=url, protocol=protocol, drm=True)
                        )
                return formats
        preview = _str(dig(item, "files", "preview", "url") or item.get("preview"))
        if kind == "image" and source_url and preview and preview != source_url:
            formats.append(
                Format(
                    format_id="preview",
                    url=preview,
                    ext=ext_from_url(preview, default_ext),
                    acodec="none",
                    note="preview",
                )
            )
        return formats


def _cursor(page: Any) -> dict[str, Any]:
    if isinstance(page, dict):
        return page
    return {} if page is None else {"marker": str(page)}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _epoch(value: Any) -> str | None:
    stamp = parse_timestamp(value)
    return f"{stamp:.6f}" if stamp is not None else None


def _codecs(kind: Kind, ext: str) -> dict[str, str | None]:
    """Codec hints the format selector reads: images have no audio, audio no video."""
    if kind == "image":
        return {"vcodec": None, "acodec": "none"}
    if kind == "audio":
        return {"vcodec": "none", "acodec": ext}
    return {"vcodec": None, "acodec": None}
