"""Fansly: a creator's timeline, messages and stories via ``apiv3`` ``/api/v1``.

Authentication is the user's own session token in the ``authorization`` header (from
``--token``, or the cookie value when only a cookie is given) plus the user agent it came
from. Answers are ``{"success": true, "response": ...}``; posts reference media through
``attachments`` (``contentType`` 1: account media, 2: a bundle of them) resolved against
the ``accountMedia``/``accountMediaBundles`` sent alongside. Every media carries its
original plus ``variants`` (other resolutions, HLS); locations whose metadata names a DRM
key system are flagged and never downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from mediavault.errors import CredentialsInvalidError, ExtractionError
from mediavault.models import Creator, Format, MediaItem, Protocol
from mediavault.platforms._creator import CreatorAdapter, Kind, Page, ext_from_url
from mediavault.platforms._utils import (
    as_float,
    as_int,
    cookie_value,
    dig,
    parse_timestamp,
    request_json,
    title_from,
)
from mediavault.platforms.base import register

__all__ = ["FanslyAdapter"]

MESSAGE_LIMIT = 25
_DRM_WORDS = ("widevine", "playready", "fairplay", "drm")


def _kind(mimetype: str) -> Kind:
    if mimetype.startswith("image/"):
        return "image"
    if mimetype.startswith("audio/"):
        return "audio"
    if mimetype.startswith("video/") or "mpegurl" in mimetype or "dash" in mimetype:
        return "video"
    return "other"


def _is_drm(location: dict[str, Any]) -> bool:
    meta = location.get("metadata")
    text = str(meta).lower() if meta else ""
    return any(word in text for word in _DRM_WORDS)


@register
class FanslyAdapter(CreatorAdapter):
    name = "fansly"
    pattern = (
        r"https?://(?:www\.)?fansly\.com/(?P<user>[A-Za-z0-9_.-]+)/?"
        r"(?:(?P<feed>posts|messages|stories)/?)?(?:[?#].*)?$"
    )
    example = "https://fansly.com/example_creator"
    available_feeds: ClassVar[tuple[str, ...]] = ("posts", "messages", "stories")
    web_base = "https://fansly.com"

    @property
    def api_base(self) -> str:
        return self.ctx.settings.fansly_api_base.rstrip("/")

    async def _get(self, path: str, **params: Any) -> Any:
        auth = self.auth
        token = auth.token or cookie_value(auth.cookie, "fansly-token") or auth.cookie
        data = await request_json(
            self.ctx.session,
            f"{self.api_base}/api/v1{path}",
            platform=self.name,
            headers={
                "authorization": token,
                "user-agent": auth.user_agent,
                "accept": "application/json",
                "origin": self.web_base,
            },
            params={**params, "ngsw-bypass": "true"},
        )
        if not isinstance(data, dict) or data.get("success") is not True:
            raise ExtractionError(f"fansly answered {path} without success", detail=data)
        return data.get("response")

    async def login(self) -> dict[str, Any]:
        account = dig(await self._get("/account/me"), "account")
        if not isinstance(account, dict) or not account.get("id"):
            raise CredentialsInvalidError(
                "fansly did not accept the session token", detail={"platform": self.name}
            )
        return account

    async def profile(self) -> Creator:
        found = await self._get("/account", usernames=self.username)
        data = found[0] if isinstance(found, list) and found else None
        if not isinstance(data, dict) or not data.get("id"):
            raise ExtractionError(f"fansly: no creator named {self.username!r}")
        stats = data.get("timelineStats") or {}
        media_count = (as_int(stats.get("imageCount")) or 0) + (
            as_int(stats.get("videoCount")) or 0
        )
        return Creator(
            platform=self.name,
            id=str(data["id"]),
            username=str(data.get("username") or self.username),
            name=data.get("displayName"),
            url=f"{self.web_base}/{data.get('username') or self.username}",
            about=data.get("about"),
            avatar=dig(data, "avatar", "locations", 0, "location"),
            media_count=media_count or None,
            followers_count=as_int(data.get("followCount")),
            is_subscribed=bool(data.get("subscription")) if "subscription" in data else None,
        )

    async def fetch_page(self, creator: Creator, feed: str, page: Any) -> Page:
        if feed == "posts":
            data = await self._get(
                f"/timelinenew/{creator.id}", before=page or 0, after=0, wallId="", contentSearch=""
            )
            raw = dig(data, "posts", default=[])
            posts = self._posts(raw, data, creator, feed)
            return Page(posts, str(raw[-1]["id"]) if raw else None)
        if feed == "messages":
            group = page.get("group") if isinstance(page, dict) else None
            if group is None:
                group = await self._group_with(creator)
                if group is None:
                    return Page([], None)
            before = page.get("before") if isinstance(page, dict) else None
            data = await self._get("/message", groupId=group, limit=MESSAGE_LIMIT, before=before)
            raw = dig(data, "messages", default=[])
            posts = self._posts(raw, data, creator, feed)
            full = len(raw) >= MESSAGE_LIMIT
            return Page(posts, {"group": group, "before": str(raw[-1]["id"])} if full else None)
        data = await self._get("/mediastoriesnew", accountId=creator.id)
        stories = [
            {**s, "attachments": [{"contentType": 1, "contentId": s.get("contentId")}]}
            for s in dig(data, "mediaStories", default=[])
        ]
        return Page(self._posts(stories, data, creator, feed), None)

    async def _group_with(self, creator: Creator) -> str | None:
        groups = dig(await self._get("/messaging/groups"), "data", default=[])
        for group in groups:
            if str(group.get("partnerAccountId")) == creator.id:
                return str(group.get("groupId"))
        return None

    def _posts(
        self, raw_posts: Iterable[dict[str, Any]], data: Any, creator: Creator, feed: str
    ) -> list[Any]:
        media_by_id = {str(m["id"]): m for m in dig(data, "accountMedia", default=[])}
        bundles = {
            str(b["id"]): [str(i) for i in b.get("accountMediaIds") or []]
            for b in dig(data, "accountMediaBundles", default=[])
        }
        posts = []
        for raw in raw_posts:
            post_id = str(raw["id"])
            timestamp = parse_timestamp(raw.get("createdAt"))
            text = raw.get("content")
            media_ids: list[str] = []
            for attachment in raw.get("attachments") or []:
                content_id = str(attachment.get("contentId"))
                if attachment.get("contentType") == 2:
                    media_ids.extend(bundles.get(content_id, []))
                elif attachment.get("contentType") == 1:
                    media_ids.append(content_id)
            items: list[MediaItem] = []
            for position, media_id in enumerate(media_ids, start=1):
                account_media = media_by_id.get(media_id)
                if account_media is None:
                    continue
                item = self._item(account_media, creator, feed, post_id, text, timestamp, position)
                if item is not None:
                    items.append(item)
            posts.append(
                self.make_post(
                    post_id=post_id,
                    creator=creator,
                    feed=feed,
                    text=text,
                    timestamp=timestamp,
                    media=items,
                    locked=bool(media_ids) and not items,
                )
            )
        return posts

    def _item(
        self,
        account_media: dict[str, Any],
        creator: Creator,
        feed: str,
        post_id: str,
        text: str | None,
        timestamp: float | None,
        position: int,
    ) -> MediaItem | None:
        media = account_media.get("media")
        if account_media.get("access") is False or not isinstance(media, dict):
            return None
        formats = self._formats(media)
        if not formats:
            return None
        kind = _kind(str(media.get("mimetype") or ""))
        title = title_from(text, f"{creator.username} {feed} {post_id}")
        return self.make_item(
            media_id=str(account_media["id"]),
            creator=creator,
            feed=feed,
            post_id=post_id,
            title=title if position == 1 else f"{title} ({position})",
            page_url=f"{self.web_base}/post/{post_id}",
            formats=formats,
            kind=kind,
            timestamp=parse_timestamp(account_media.get("createdAt")) or timestamp,
            duration=as_float(dig(media, "metadata", "duration")),
            description=text,
            thumbnail=dig(account_media, "preview", "locations", 0, "location"),
        )

    def _formats(self, media: dict[str, Any]) -> list[Format]:
        formats: list[Format] = []
        for index, variant in enumerate([media, *(media.get("variants") or [])]):
            mimetype = str(variant.get("mimetype") or "")
            kind = _kind(mimetype)
            if kind == "image" and _kind(str(media.get("mimetype") or "")) != "image":
                continue  # a video's thumbnail variant
            for location in variant.get("locations") or []:
                url = location.get("location")
                if not url:
                    continue
                hls = "mpegurl" in mimetype
                height = as_int(variant.get("height"))
                formats.append(
                    Format(
                        format_id="original" if index == 0 else f"{height or index}p-{index}",
                        url=url,
                        protocol=Protocol.HLS if hls else Protocol.HTTP,
                        ext="mp4" if hls else ext_from_url(url, mimetype.rpartition("/")[2]),
                        width=as_int(variant.get("width")),
                        height=height,
                        acodec="none" if kind == "image" else None,
                        drm=_is_drm(location),
                        note="original" if index == 0 else None,
                    )
                )
                break
        return formats
