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
from mediavault.models import Creator, Format, MediaItem, Protocol
from mediavault.platforms._creator import CreatorAdapter, Kind, Page, ext_from_url
from mediavault.platforms._signing import SigningRules, load_rules
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
        if feed == "posts":
            data = await self._get(
                f"/users/{creator.id}/posts",
                limit=PAGE_SIZE,
                order="publish_date_desc",
                skip_users="all",
                format="infinite",
                beforePublishTime=page,
            )
            posts = [self._post(raw, creator, feed) for raw in dig(data, "list", default=[])]
            more = bool(dig(data, "hasMore", default=False)) and dig(data, "tailMarker")
            return Page(posts, dig(data, "tailMarker") if more else None)
        if feed == "messages":
            data = await self._get(
                f"/chats/{creator.id}/messages", limit=PAGE_SIZE, order="desc", id=page
            )
            raw_list = dig(data, "list", default=[])
            posts = [self._post(raw, creator, feed) for raw in raw_list]
            more = bool(dig(data, "hasMore", default=False)) and raw_list
            return Page(posts, str(raw_list[-1]["id"]) if more else None)
        if feed == "stories":
            data = await self._get(f"/users/{creator.id}/stories")
            stories = data if isinstance(data, list) else dig(data, "list", default=[])
            return Page([self._post(raw, creator, feed) for raw in stories], None)
        return await self._highlights(creator, int(page or 0))

    async def _highlights(self, creator: Creator, offset: int) -> Page:
        data = await self._get(
            f"/users/{creator.id}/stories/highlights", limit=PAGE_SIZE, offset=offset
        )
        highlights = dig(data, "list", default=[])
        posts = []
        for highlight in highlights:
            detail = await self._get(f"/stories/highlights/{highlight['id']}")
            for story in dig(detail, "stories", default=[]):
                posts.append(self._post(story, creator, "highlights", title=detail.get("title")))
        more = bool(dig(data, "hasMore", default=False)) and highlights
        return Page(posts, offset + len(highlights) if more else None)

    def _post(
        self, raw: dict[str, Any], creator: Creator, feed: str, *, title: str | None = None
    ) -> Any:
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
        medias = raw.get("media") or []
        for position, item in enumerate(medias, start=1):
            formats = self._formats(item)
            if not formats:
                hidden += 1
                continue
            base_title = title_from(title or text, f"{creator.username} {feed} {post_id}")
            media.append(
                self.make_item(
                    media_id=str(item["id"]),
                    creator=creator,
                    feed=feed,
                    post_id=post_id,
                    title=base_title if len(medias) == 1 else f"{base_title} ({position})",
                    page_url=page_url,
                    formats=formats,
                    kind=_KINDS.get(str(item.get("type")), "other"),
                    timestamp=parse_timestamp(item.get("createdAt")) or timestamp,
                    duration=as_float(item.get("duration") or dig(item, "source", "duration")),
                    description=text,
                    thumbnail=dig(item, "files", "thumb", "url") or item.get("thumb"),
                )
            )
        return self.make_post(
            post_id=post_id,
            creator=creator,
            feed=feed,
            text=text,
            timestamp=timestamp,
            media=media,
            locked=hidden > 0 and not media,
        )

    def _formats(self, item: dict[str, Any]) -> list[Format]:
        """Every quality of one media object; DRM manifests flagged; none if not viewable."""
        if item.get("canView") is False:
            return []
        kind = _KINDS.get(str(item.get("type")), "other")
        default_ext = {"video": "mp4", "image": "jpg", "audio": "mp3"}.get(kind, "bin")
        drm = dig(item, "files", "drm")
        if isinstance(drm, dict):
            out = []
            for key, protocol in (("dash", Protocol.DASH), ("hls", Protocol.HLS)):
                url = dig(drm, "manifest", key)
                if url:
                    out.append(Format(format_id=f"drm-{key}", url=url, protocol=protocol, drm=True))
            return out
        formats: list[Format] = []
        full = dig(item, "files", "full") or {}
        source_url = full.get("url") or dig(item, "source", "source") or item.get("full")
        if source_url:
            formats.append(
                Format(
                    format_id="source",
                    url=source_url,
                    ext=ext_from_url(source_url, default_ext),
                    width=as_int(full.get("width")),
                    height=as_int(full.get("height")),
                    filesize=as_int(full.get("size")),
                    **_codecs(kind, ext_from_url(source_url, default_ext)),
                    note="original",
                )
            )
        for quality, url in sorted((item.get("videoSources") or {}).items()):
            if url and url != source_url and str(quality).isdigit():
                formats.append(
                    Format(
                        format_id=f"{quality}p",
                        url=url,
                        ext=ext_from_url(url, default_ext),
                        height=int(quality),
                    )
                )
        preview = dig(item, "files", "preview", "url")
        if kind == "image" and preview and preview != source_url:
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



def _codecs(kind: Kind, ext: str) -> dict[str, str | None]:
    """Codec hints the format selector reads: images have no audio, audio no video."""
    if kind == "image":
        return {"vcodec": None, "acodec": "none"}
    if kind == "audio":
        return {"vcodec": "none", "acodec": ext}
    return {"vcodec": None, "acodec": None}
