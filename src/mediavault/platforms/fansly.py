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

from typing import Any, ClassVar

from mediavault.errors import CredentialsInvalidError, ExtractionError
from mediavault.models import Creator, Format, MediaItem, Post, Protocol
from mediavault.platforms._creator import CreatorAdapter, Kind, Page, ext_from_url, require_list
from mediavault.platforms._utils import (
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

__all__ = ["FanslyAdapter"]

MESSAGE_LIMIT = 25
MEDIA_BATCH = 50  # ids per account/media request
GROUP_PAGE = 50  # chats per messaging/groups request
_DRM_WORDS = ("widevine", "playready", "fairplay", "drm")
_CLOUDFRONT = ("Policy", "Signature", "Key-Pair-Id")


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
    # CloudFront signing values are base64 and may contain any letters: look at keys
    # and at values that are not those
    meta_dict = as_dict(meta)
    if meta_dict:
        text = " ".join(
            f"{k} {v}" for k, v in meta_dict.items() if k not in _CLOUDFRONT
        ).lower()
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
            raw = require_list(self.name, data, "posts")
            posts = await self._posts(raw, data, creator, feed)
            # paged with before=<id of the last (oldest) post> until an empty page
            last = dig(raw, -1, "id")
            return Page(posts, str(last) if last is not None else None)
        if feed == "messages":
            group = page.get("group") if isinstance(page, dict) else None
            if group is None:
                group = await self._group_with(creator)
                if group is None:
                    return Page([], None)
            before = page.get("before") if isinstance(page, dict) else None
            data = await self._get("/message", groupId=group, limit=MESSAGE_LIMIT, before=before)
            raw = require_list(self.name, data, "messages")
            posts = await self._posts(raw, data, creator, feed)
            # paged with before=<last id> until an empty page (a page may hold fewer
            # messages than asked for and still not be the last)
            last = dig(raw, -1, "id")
            return Page(posts, {"group": group, "before": str(last)} if last else None)
        data = await self._get("/mediastoriesnew", accountId=creator.id)
        stories = [
            {**s, "attachments": [{"contentType": 1, "contentId": s.get("contentId")}]}
            for s in require_list(self.name, data, "mediaStories")
            if isinstance(s, dict)
        ]
        return Page(await self._posts(stories, data, creator, feed), None)

    async def _group_with(self, creator: Creator) -> str | None:
        """The id of the chat with ``creator``: ``messaging/groups`` lists it as
        ``data[].groupId``/``partnerAccountId`` or as ``aggregationData.groups[]`` (id,
        users[].userId); the older ``group`` endpoint as ``groups[]``."""
        for path in ("/messaging/groups", "/group"):
            offset = 0
            while True:
                try:
                    data = await self._get(path, limit=GROUP_PAGE, offset=offset)
                except ExtractionError as exc:
                    if offset == 0 and (exc.detail or {}).get("status") == 404:
                        break  # this API version lacks the endpoint: try the other
                    raise
                listed = as_list(dig(data, "data"))
                for entry in listed:
                    partner = str(dig(entry, "partnerAccountId"))
                    if partner == creator.id and dig(entry, "groupId"):
                        return str(entry["groupId"])
                groups = as_list(dig(data, "aggregationData", "groups"))
                groups += as_list(dig(data, "groups"))
                for group in groups:
                    users = [str(dig(u, "userId")) for u in as_list(dig(group, "users"))]
                    if creator.id in users and dig(group, "id"):
                        return str(group["id"])
                # a full page may have more chats after it (a user can have hundreds)
                if max(len(listed), len(groups)) < GROUP_PAGE or offset >= GROUP_PAGE * 40:
                    return None
                offset += GROUP_PAGE
        return None

    async def _account_media(self, ids: list[str]) -> list[dict[str, Any]]:
        """Media a page refers to but does not carry (bundles often list only ids)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), MEDIA_BATCH):
            batch = ids[start : start + MEDIA_BATCH]
            data = await self._get("/account/media", ids=",".join(batch))
            found += [m for m in as_list(data) if isinstance(m, dict)]
        return found

    async def _posts(
        self, raw_posts: list[Any], data: Any, creator: Creator, feed: str
    ) -> list[Post]:
        media_list = as_list(dig(data, "accountMedia")) or as_list(
            dig(data, "aggregationData", "accountMedia")
        )
        media_by_id = {str(m["id"]): m for m in media_list if isinstance(m, dict) and "id" in m}
        bundles: dict[str, list[str]] = {}
        bundle_list = as_list(dig(data, "accountMediaBundles")) or as_list(
            dig(data, "aggregationData", "accountMediaBundles")
        )
        for bundle in bundle_list:
            if isinstance(bundle, dict) and bundle.get("id") is not None:
                bundles[str(bundle["id"])] = _bundle_ids(bundle)
        wanted = {
            media_id
            for raw in raw_posts
            if isinstance(raw, dict)
            for media_id in self._media_ids(raw, bundles)
        }
        missing = sorted(wanted - set(media_by_id))
        if missing:
            for media in await self._account_media(missing):
                if media.get("id") is not None:
                    media_by_id[str(media["id"])] = media

        def parse(raw: dict[str, Any]) -> Post:
            return self._post(raw, media_by_id, bundles, creator, feed)

        return self.parse_posts(raw_posts, creator, feed, parse)

    @staticmethod
    def _media_ids(raw: dict[str, Any], bundles: dict[str, list[str]]) -> list[str]:
        media_ids: list[str] = []
        for attachment in as_list(raw.get("attachments")):
            content_id = str(dig(attachment, "contentId"))
            content_type = as_int(dig(attachment, "contentType"))
            if content_type == 2:
                media_ids.extend(bundles.get(content_id, []))
            elif content_type == 1:
                media_ids.append(content_id)
        return media_ids

    def _post(
        self,
        raw: dict[str, Any],
        media_by_id: dict[str, Any],
        bundles: dict[str, list[str]],
        creator: Creator,
        feed: str,
    ) -> Post:
        post_id = str(raw["id"])
        timestamp = parse_timestamp(raw.get("createdAt"))
        text = raw.get("content") if isinstance(raw.get("content"), str) else None
        media_ids = self._media_ids(raw, bundles)
        items: list[MediaItem] = []
        for position, media_id in enumerate(media_ids, start=1):
            account_media = media_by_id.get(media_id)
            title = title_from(text, f"{creator.username} {feed} {post_id}")
            title = title if len(media_ids) == 1 else f"{title} ({position})"
            if account_media is None:
                account_media = {"id": media_id}
                why = (
                    "extraction_failed",
                    f"fansly media {media_id} of {post_id} is not in accountMedia "
                    "nor in account/media",
                )
            else:
                why = None
            items.append(
                self._item(account_media, creator, feed, post_id, text, timestamp, title, why)
            )
        locked = [i for i in items if dig(i.extra, "unavailable", "code") == "content_locked"]
        return self.make_post(
            post_id=post_id,
            creator=creator,
            feed=feed,
            text=text,
            timestamp=timestamp,
            media=items,
            locked=bool(items) and len(locked) == len(items),
        )

    def _item(
        self,
        account_media: dict[str, Any],
        creator: Creator,
        feed: str,
        post_id: str,
        text: str | None,
        timestamp: float | None,
        title: str,
        why: tuple[str, str] | None,
    ) -> MediaItem:
        media = account_media.get("media")
        media = media if isinstance(media, dict) else {}
        formats = [] if why else self._formats(media)
        where = f"fansly media {account_media['id']} of {post_id}"
        if why is None and not formats:
            # no access: the media is left out (or bare) and only its ``preview`` shows
            if account_media.get("access") is False or not media:
                why = ("content_locked", f"{where} is locked: not bought or not subscribed")
            else:
                why = ("extraction_failed", f"{where}: no URL in media.locations or variants")
        shown = media or as_dict(account_media.get("preview"))
        return self.make_item(
            media_id=str(account_media["id"]),
            creator=creator,
            feed=feed,
            post_id=post_id,
            title=title,
            page_url=f"{self.web_base}/post/{post_id}",
            formats=formats,
            kind=_kind(str(shown.get("mimetype") or "")),
            timestamp=parse_timestamp(account_media.get("createdAt")) or timestamp,
            duration=as_float(as_dict(media.get("metadata")).get("duration")),
            description=text,
            thumbnail=dig(account_media, "preview", "locations", 0, "location"),
            unavailable=why,
        )

    def _formats(self, media: dict[str, Any]) -> list[Format]:
        formats: list[Format] = []
        base_kind = _kind(str(media.get("mimetype") or ""))
        for index, variant in enumerate([media, *as_list(media.get("variants"))]):
            if not isinstance(variant, dict):
                continue
            mimetype = str(variant.get("mimetype") or "")
            kind = _kind(mimetype)
            if kind == "image" and base_kind != "image":
                continue  # a video's thumbnail variant
            for location in as_list(variant.get("locations")):
                url = dig(location, "location")
                if not isinstance(url, str) or not url:
                    continue
                protocol = (
                    Protocol.HLS
                    if "mpegurl" in mimetype
                    else Protocol.DASH
                    if "dash" in mimetype
                    else Protocol.HTTP
                )
                height = as_int(variant.get("height"))
                meta = as_dict(location.get("metadata"))
                formats.append(
                    Format(
                        format_id="original" if index == 0 else f"{height or index}p-{index}",
                        url=url,
                        protocol=protocol,
                        ext="mp4"
                        if protocol is not Protocol.HTTP
                        else ext_from_url(url, mimetype.rpartition("/")[2] or "bin"),
                        width=as_int(variant.get("width")),
                        height=height,
                        vcodec="none" if kind == "audio" else None,
                        acodec="none" if kind == "image" else None,
                        drm=_is_drm(location),
                        http_headers=_cloudfront_cookie(meta),
                        note="original" if index == 0 else None,
                    )
                )
                break
        return formats


def _bundle_ids(bundle: dict[str, Any]) -> list[str]:
    """A bundle's media ids in order: ``bundleContent`` [{accountMediaId, pos}] (the
    current shape) or the plain ``accountMediaIds`` list."""
    content = [c for c in as_list(bundle.get("bundleContent")) if isinstance(c, dict)]
    if content:
        content.sort(key=lambda c: as_int(c.get("pos")) or 0)
        return [str(c["accountMediaId"]) for c in content if c.get("accountMediaId") is not None]
    return [str(i) for i in as_list(bundle.get("accountMediaIds"))]


def _cloudfront_cookie(meta: dict[str, Any]) -> dict[str, str]:
    """Streaming manifests come with CloudFront signed-cookie values in the location's
    ``metadata`` (``Key-Pair-Id``, ``Signature``, ``Policy``); every request for the
    manifest and its segments must carry them as ``CloudFront-*`` cookies."""
    parts = [
        f"CloudFront-{name}={meta[name]}"
        for name in ("Policy", "Signature", "Key-Pair-Id")
        if isinstance(meta.get(name), str)
    ]
    return {"Cookie": "; ".join(parts)} if parts else {}
