"""Fansly ``apiv3`` emulation: token auth, ``timelinenew`` paging, messages, stories.

Shapes follow the public Fansly clients (fansly-downloader, gallery-dl, UltimaScraperAPI):
``{"success": true, "response": ...}``; posts with ``attachments`` pointing at
``accountMedia`` (``media`` + ``variants`` with ``locations``) or bundles; ``before=<id>``
paging until an empty page. DRM-flagged media carry a Widevine key-system in their
location metadata.

``variants`` switch on shapes the real API also sends (each one a gap that was found):

- ``bundle_content``: bundles list their media as ``bundleContent`` [{accountMediaId,
  pos}] only, the bundled media are left out of ``accountMedia`` (clients fetch them
  from ``account/media?ids=``) and ``contentType`` comes as a string
- ``cloudfront_hls``: videos have no plain location; their variants are an HLS
  (``application/vnd.apple.mpegurl``) and a DASH (``application/dash+xml``) manifest
  whose location ``metadata`` holds the CloudFront ``Key-Pair-Id``/``Signature``/
  ``Policy`` the CDN wants as ``CloudFront-*`` cookies (``/cdn/`` answers 403 without
  them); ``media.metadata`` is a JSON string
- ``groups_aggregation``: ``messaging/groups`` names the chat only in
  ``aggregationData.groups[].users[].userId``
- ``groups_legacy``: ``messaging/groups`` does not exist (404); ``group`` lists
  ``groups[]`` with ``users[].userId``
- ``short_pages``: ``message`` answers at most 2 messages whatever ``limit`` says
- ``many_groups``: the viewer has 60 chats; the creator's is on the second page of
  ``messaging/groups`` (``limit``/``offset``)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.emulators.content import Catalog, Entry, Media
from tests.support.origin import OriginRequest

TOKEN = "fansly-session-token-0123456789"
AUTH = {"cookie": "fansly-token=" + TOKEN, "user_agent": "EmulatedBrowser/2.0", "token": TOKEN}
PAGE = 10
CLOUDFRONT = {"Key-Pair-Id": "APKAEMULATED", "Signature": "c2lnbmF0dXJl~DrM~x_", "Policy": "eyJwb2xpY3kiOjF9"}


class FanslyEmulator(Emulator):
    def __init__(self, media_root: Path, catalog: Catalog, *, variants: tuple[str, ...] = ()) -> None:
        self.catalog = catalog
        self.token = TOKEN
        self.variants = set(variants)
        self.hls_root = media_root / "hls"
        self.cdn_refused = 0
        super().__init__(media_root)

    def ok(self, response: Any) -> Response:
        return json_response({"success": True, "response": response})

    def guarded(self, handler: Any) -> Any:
        def wrapper(req: OriginRequest, match: Any) -> Response:
            headers = {k.lower(): v for k, v in req.headers.items()}
            if headers.get("authorization") != self.token:
                return json_response({"success": False, "error": {"code": 401, "details": "Invalid token"}, "message": "Invalid token"}, 401)
            return handler(req, match)

        return wrapper

    def account_media(self, media: Media, ts: int) -> dict[str, Any]:
        mid = str(media.id)
        if media.kind == "photo":
            body = {
                "id": mid + "0", "mimetype": "image/jpeg", "width": 160, "height": 90,
                "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/orig.jpg", "photo")}],
                "variants": [{"id": mid + "1", "type": 1, "mimetype": "image/jpeg", "width": 80, "height": 45,
                              "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/small.jpg", "photo")}]}],
            }
        elif media.drm:
            body = {
                "id": mid + "0", "mimetype": "video/mp4", "width": 160, "height": 90,
                "metadata": {"duration": 1}, "locations": [],
                "variants": [{"id": mid + "2", "type": 302, "mimetype": "application/vnd.apple.mpegurl",
                              "width": 160, "height": 90,
                              "locations": [{"locationId": "102", "location": self.media_url(f"drm/{mid}/master.m3u8", "video"),
                                             "metadata": {"keySystem": "com.widevine.alpha"}}]}],
            }
        elif "cloudfront_hls" in self.variants:
            cdn = self.origin.url(f"/cdn/{mid}")
            body = {
                "id": mid + "0", "mimetype": "video/mp4", "width": 640, "height": 360,
                "metadata": json.dumps({"duration": 7.5, "resolutionMode": 1}), "locations": [],
                "variants": [
                    {"id": mid + "1", "type": 1, "mimetype": "image/jpeg", "width": 80, "height": 45,
                     "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/thumb.jpg", "photo")}]},
                    {"id": mid + "2", "type": 302, "mimetype": "application/vnd.apple.mpegurl",
                     "width": 640, "height": 360, "metadata": json.dumps({"variants": [{"w": 640, "h": 360}]}),
                     "locations": [{"locationId": "102", "location": f"{cdn}/master.m3u8", "metadata": dict(CLOUDFRONT)}]},
                    {"id": mid + "3", "type": 303, "mimetype": "application/dash+xml",
                     "width": 640, "height": 360,
                     "locations": [{"locationId": "103", "location": f"{cdn}/manifest.mpd", "metadata": dict(CLOUDFRONT)}]},
                ],
            }
        else:
            body = {
                "id": mid + "0", "mimetype": "video/mp4", "width": 160, "height": 90,
                "metadata": {"duration": 1},
                "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/orig.mp4", "video")}],
                "variants": [
                    {"id": mid + "1", "type": 1, "mimetype": "image/jpeg", "width": 80, "height": 45,
                     "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/thumb.jpg", "photo")}]},
                    {"id": mid + "3", "type": 2, "mimetype": "video/mp4", "width": 80, "height": 45,
                     "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/480.mp4", "video")}]},
                ],
            }
        return {"id": mid, "accountId": str(self.catalog.user_id), "mediaId": mid + "0", "createdAt": ts,
                "access": not media.locked, "media": None if media.locked else body}

    def entries_payload(self, entries: list[Entry], key: str, bundle_first: bool = False) -> dict[str, Any]:
        account_media, bundles, out = [], [], []
        content_only = "bundle_content" in self.variants
        for entry in entries:
            bundled = bundle_first and len(entry.media) > 1
            for m in entry.media:
                if not (bundled and content_only):  # then only account/media has them
                    account_media.append(self.account_media(m, entry.ts))
                self.media_ts[str(m.id)] = (m, entry.ts)
            if bundled:
                bundle_id = f"b{entry.id}"
                if content_only:  # positions given, listed in another order
                    content = [{"accountMediaId": str(m.id), "pos": i} for i, m in enumerate(entry.media)]
                    bundles.append({"id": bundle_id, "bundleContent": content[::-1], "access": True})
                else:
                    bundles.append({"id": bundle_id, "accountMediaIds": [str(m.id) for m in entry.media]})
                kind: Any = "2" if content_only else 2
                attachments = [{"pos": 0, "contentType": kind, "contentId": bundle_id}]
            else:
                kind = "1" if content_only else 1
                attachments = [{"pos": i, "contentType": kind, "contentId": str(m.id)}
                               for i, m in enumerate(entry.media)]
            out.append({"id": str(entry.id), "accountId": str(self.catalog.user_id), "content": entry.text,
                        "createdAt": entry.ts, "attachments": attachments})
        return {key: out, "accountMedia": account_media, "accountMediaBundles": bundles,
                "accounts": [{"id": str(self.catalog.user_id), "username": self.catalog.username}]}

    @staticmethod
    def after(entries: list[Entry], before: str | None) -> list[Entry]:
        if not before or before == "0":
            return entries
        ids = [str(e.id) for e in entries]
        return entries[ids.index(before) + 1 :] if before in ids else []

    def install(self) -> None:
        cat = self.catalog
        self.media_ts: dict[str, tuple[Media, int]] = {}
        self.route(r"/api/v1/account/me")(self.guarded(lambda r, m: self.ok({"account": {"id": "9001", "username": "viewer"}})))
        self.route(r"/api/v1/account/media")(self.guarded(self.media_by_ids))
        self.route(r"/api/v1/account")(self.guarded(self.account))
        self.route(rf"/api/v1/timelinenew/{cat.user_id}")(self.guarded(self.timeline))
        self.route(r"/api/v1/messaging/groups")(self.guarded(self.groups))
        self.route(r"/api/v1/group")(self.guarded(self.groups_legacy))
        self.route(r"/cdn/(\d+)/(.+)")(self.cdn)
        self.route(r"/api/v1/message")(self.guarded(self.messages))
        self.route(r"/api/v1/mediastoriesnew")(self.guarded(self.stories))

    def groups(self, req: OriginRequest, match: Any) -> Response:
        creator = str(self.catalog.user_id)
        if "groups_legacy" in self.variants:
            return json_response({"success": False, "error": {"code": 404}, "message": "Not Found"}, 404)
        if "groups_aggregation" in self.variants:
            return self.ok({"data": [{"groupId": "g1", "account_id": "9001"}],
                            "aggregationData": {"groups": [{"id": "g1", "users": [{"userId": "9001"}, {"userId": creator}]}],
                                                "accounts": []}})
        if "many_groups" in self.variants:
            params = query_params(req)
            limit, offset = int(params.get("limit", 25)), int(params.get("offset", 0))
            chats = [{"groupId": f"x{n}", "partnerAccountId": str(800 + n)} for n in range(55)]
            chats.insert(52, {"groupId": "g1", "partnerAccountId": creator})
            return self.ok({"data": chats[offset : offset + limit]})
        return self.ok({"data": [{"groupId": "g1", "partnerAccountId": creator}]})

    def groups_legacy(self, req: OriginRequest, match: Any) -> Response:
        if "groups_legacy" not in self.variants:
            return json_response({"success": False, "message": "Not Found"}, 404)
        return self.ok({"groups": [{"id": "g0", "users": [{"userId": "9001"}, {"userId": "5"}]},
                                   {"id": "g1", "users": [{"userId": "9001"}, {"userId": str(self.catalog.user_id)}]}]})

    def media_by_ids(self, req: OriginRequest, match: Any) -> Response:
        ids = [i for i in query_params(req).get("ids", "").split(",") if i]
        return self.ok([self.account_media(*self.media_ts[i]) for i in ids if i in self.media_ts])

    def cdn(self, req: OriginRequest, match: Any) -> Response:
        cookie = req.headers.get("Cookie") or req.headers.get("cookie") or ""
        wanted = [f"CloudFront-{k}={v}" for k, v in CLOUDFRONT.items()]
        if not all(w in cookie for w in wanted):
            self.cdn_refused += 1
            return 403, {"Content-Type": "text/plain"}, b"AccessDenied: missing CloudFront cookies"
        target = (self.hls_root / match.group(2)).resolve()
        if not target.is_relative_to(self.hls_root.resolve()) or not target.is_file():
            return 404, {"Content-Type": "text/plain"}, b"not found"
        kind = "application/vnd.apple.mpegurl" if target.suffix == ".m3u8" else "video/mp2t"
        return 200, {"Content-Type": kind}, target.read_bytes()

    def account(self, req: OriginRequest, match: Any) -> Response:
        cat = self.catalog
        if query_params(req).get("usernames") != cat.username:
            return self.ok([])
        videos = sum(1 for m in cat.all_media() if m.kind == "video")
        return self.ok([{"id": str(cat.user_id), "username": cat.username, "displayName": cat.name,
                         "about": "About me", "followCount": 12,
                         "timelineStats": {"imageCount": len(cat.all_media()) - videos, "videoCount": videos}}])

    def timeline(self, req: OriginRequest, match: Any) -> Response:
        page = self.after(self.catalog.posts, query_params(req).get("before"))[:PAGE]
        return self.ok(self.entries_payload(page, "posts", bundle_first=True))

    def messages(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        limit = int(params.get("limit", 25))
        if "short_pages" in self.variants:
            limit = min(limit, 2)
        page = self.after(self.catalog.messages, params.get("before"))[:limit]
        return self.ok(self.entries_payload(page, "messages"))

    def stories(self, req: OriginRequest, match: Any) -> Response:
        payload = self.entries_payload(self.catalog.stories, "stories")
        stories = [{"id": s["id"], "accountId": s["accountId"], "contentType": 1,
                    "contentId": s["attachments"][0]["contentId"], "createdAt": s["createdAt"]}
                   for s in payload.pop("stories")]
        return self.ok({"mediaStories": stories, **payload})
