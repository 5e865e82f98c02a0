"""TikTok emulation: profile pages with ``__UNIVERSAL_DATA_FOR_REHYDRATION__`` (or
``SIGI_STATE``), ``/api/post/item_list/?secUid=&cursor=`` paging (``itemList``,
``hasMore``, ``cursor``), ``bitrateInfo`` qualities, and a bot-detection mode that answers
the next N profile-page loads with a captcha page (the browser goes first, so the first
load is the browser's).

``variants`` switch on shapes the real web API also sends (each one a gap found):

- ``photo_post``: video 2 is a photo slideshow (``imagePost.images[].imageURL.urlList``,
  an empty ``video.playAddr``, no ``bitrateInfo``)
- ``loose_types``: ``author`` is the bare uniqueId string (as in the page hydration
  JSON), counts only in ``statsV2`` as strings, ``createTime`` and ``hasMore`` strings
- ``creator_api``: ``/api/post/item_list/`` is gone (404); ``/api/creator/item_list/``
  pages newest-first from ``cursor`` = a time in ms (``type=1``), ``hasMorePrevious``
- ``private``: the profile page says ``statusCode`` 10222 (private account), no user
- ``stuck_cursor``: every page claims more but hands back the cursor it was asked for
- ``same_page``: the cursor moves on but every page holds the first page's videos
- ``any_case``: the page is served for any spelling of the name and ``SIGI_STATE`` is
  keyed by the canonical one
- ``cdn_guard``: the profile page sets a ``tt_chain_token`` cookie and the video CDN
  (``/media/``) answers 403 unless a request carries it and the site's Referer
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.support.origin import OriginRequest

SEC_UID = "MS4wLjABAAAAemulated-sec-uid"
CHAIN_TOKEN = "emulated-chain-token-42"
CAPTCHA = (b"<!DOCTYPE html><html><head><title>Security Check</title></head><body>"
           b'<div id="captcha-verify-container" class="captcha_verify_container">'
           b"Drag the slider to fit the puzzle</div></body></html>")


class TikTokEmulator(Emulator):
    def __init__(self, media_root: Path, *, username: str = "alice", videos: int = 25, page: int = 10,
                 sigi: bool = False, variants: tuple[str, ...] = ()) -> None:
        self.variants = set(variants)
        self.username = username
        self.video_ids = [7_300_000_000_000_000_000 - i for i in range(1, videos + 1)]  # newest first
        self.page_size = page
        self.captcha_pages = 0
        self.empty_lists = 0
        self.sigi = sigi
        self.page_agents: list[str] = []
        super().__init__(media_root)

    def install(self) -> None:
        name = f"(?i:{self.username})" if "any_case" in self.variants else self.username
        self.route(rf"/@{name}")(self.profile_page)
        self.route(r"/api/post/item_list/")(self.item_list)
        self.route(r"/api/creator/item_list/")(self.creator_item_list)
        self.cdn_refused = 0
        if "cdn_guard" in self.variants:
            self.route(r"/media/\d+/[\w.-]+")(self.guarded_media)

    def user(self) -> dict[str, Any]:
        return {"id": "6800000000000000001", "uniqueId": self.username, "nickname": "Alice TT",
                "secUid": SEC_UID, "signature": "bio", "avatarLarger": self.media_url("avatar.jpg", "photo")}

    def profile_page(self, req: OriginRequest, match: Any) -> Response:
        self.page_agents.append(req.headers.get("User-Agent", ""))
        if self.captcha_pages > 0:
            self.captcha_pages -= 1
            return 200, {"Content-Type": "text/html"}, CAPTCHA
        stats = {"followerCount": 1000, "videoCount": len(self.video_ids), "heartCount": 5}
        if "private" in self.variants:
            data = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"statusCode": 10222, "statusMsg": "",
                                                                  "userInfo": {}}}}
            script = (f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
                      f"{json.dumps(data)}</script>")
            html = f"<!DOCTYPE html><html><head><title>TikTok</title></head><body>{script}</body></html>"
            return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()
        if self.sigi:
            data = {"UserModule": {"users": {self.username: self.user()}, "stats": {self.username: stats}}}
            script = f'<script id="SIGI_STATE" type="application/json">{json.dumps(data)}</script>'
        else:
            data = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"statusCode": 0,
                                                                  "userInfo": {"user": self.user(), "stats": stats}}}}
            script = (f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
                      f"{json.dumps(data)}</script>")
        html = f"<!DOCTYPE html><html><head><title>Alice (@{self.username}) | TikTok</title></head><body>{script}</body></html>"
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if "cdn_guard" in self.variants:
            headers["Set-Cookie"] = f"tt_chain_token={CHAIN_TOKEN}; Path=/; HttpOnly"
        return 200, headers, html.encode()

    def guarded_media(self, req: OriginRequest, match: Any) -> Response:
        headers = {k.lower(): v for k, v in req.headers.items()}
        if (f"tt_chain_token={CHAIN_TOKEN}" not in headers.get("cookie", "")
                or not headers.get("referer", "").startswith(self.base_url)):
            self.cdn_refused += 1
            return 403, {"Content-Type": "text/plain"}, b"Access Denied"
        path = match.group(0)
        if path not in self.media_kinds:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        kind = "video/mp4" if self.media_kinds[path] == "video" else "image/jpeg"
        return 200, {"Content-Type": kind}, self.media_bytes(path)

    def video_json(self, vid: int, index: int) -> dict[str, Any]:
        data = self._video_json(vid, index)
        if "photo_post" in self.variants and index == 2:
            data["video"] = {"playAddr": "", "downloadAddr": "", "duration": 0, "height": 0, "width": 0,
                             "cover": self.media_url(f"{vid}/cover.jpg", "photo")}
            data["imagePost"] = {"images": [
                {"imageURL": {"urlList": [self.media_url(f"{vid}/img{n}.jpg", "photo"),
                                          self.media_url(f"{vid}/img{n}-alt.jpg", "photo")]},
                 "imageWidth": 1080, "imageHeight": 1920} for n in (1, 2, 3)],
                "cover": {"imageURL": {"urlList": [self.media_url(f"{vid}/cover.jpg", "photo")]}}}
            data["music"] = {"playUrl": self.media_url(f"{vid}/music.mp3", "photo")}
        if "loose_types" in self.variants:
            data["author"] = self.username
            data["authorId"] = "6800000000000000001"
            data["statsV2"] = {k: str(v) for k, v in data.pop("stats").items()}
            data["createTime"] = str(data["createTime"])
        return data

    def _video_json(self, vid: int, index: int) -> dict[str, Any]:
        return {
            "id": str(vid), "desc": f"Video number {index} #fun", "createTime": 1_700_000_000 - index * 3600,
            "author": {"id": "6800000000000000001", "uniqueId": self.username, "nickname": "Alice TT"},
            "stats": {"playCount": 100 + index, "diggCount": index},
            "video": {
                "duration": 1, "width": 160, "height": 90, "cover": self.media_url(f"{vid}/cover.jpg", "photo"),
                "playAddr": self.media_url(f"{vid}/play.mp4", "video"),
                "downloadAddr": self.media_url(f"{vid}/download.mp4", "video"),
                "bitrateInfo": [
                    {"GearName": "normal_540_0", "Bitrate": 400000, "QualityType": 20, "CodecType": "h264",
                     "PlayAddr": {"UrlList": [self.media_url(f"{vid}/540.mp4", "video")], "Width": 160, "Height": 90}},
                    {"GearName": "lower_360_0", "Bitrate": 200000, "QualityType": 24, "CodecType": "h264",
                     "PlayAddr": {"UrlList": [self.media_url(f"{vid}/360.mp4", "video")], "Width": 96, "Height": 54}},
                ],
            },
        }

    def item_list(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        if params.get("secUid") != SEC_UID:
            return json_response({"statusCode": 10201, "itemList": [], "hasMore": False})
        if self.empty_lists > 0:
            self.empty_lists -= 1
            return 200, {"Content-Type": "application/json"}, b""
        if "creator_api" in self.variants:
            return json_response({"statusCode": 0, "statusMsg": "Not Found"}, 404)
        start = int(params.get("cursor") or 0)
        count = min(int(params.get("count", 30)), self.page_size)
        chunk = self.video_ids[start : start + count]
        if "same_page" in self.variants:
            first = self.video_ids[:count]
            return json_response({"statusCode": 0, "hasMore": True, "cursor": str(start + count),
                                  "itemList": [self.video_json(v, i + 1) for i, v in enumerate(first)]})
        if "stuck_cursor" in self.variants:
            return json_response({"statusCode": 0, "hasMore": True, "cursor": params.get("cursor"),
                                  "itemList": [self.video_json(v, i + 1) for i, v in enumerate(chunk)]})
        if "loose_types" in self.variants:
            return json_response({
                "statusCode": 0,
                "itemList": [self.video_json(v, start + i + 1) for i, v in enumerate(chunk)],
                "hasMore": "true" if start + count < len(self.video_ids) else "false",
                "cursor": str(start + count),
            })
        return json_response({
            "statusCode": 0,
            "itemList": [self.video_json(v, start + i + 1) for i, v in enumerate(chunk)],
            "hasMore": start + count < len(self.video_ids),
            "cursor": str(start + count),
        })

    def creator_item_list(self, req: OriginRequest, match: Any) -> Response:
        """Newest first from ``cursor`` (ms): the videos created before it."""
        params = query_params(req)
        if "creator_api" not in self.variants:
            return json_response({"statusCode": 0}, 404)
        if params.get("secUid") != SEC_UID or params.get("type") != "1":
            return json_response({"statusCode": 10201, "itemList": [], "hasMorePrevious": False})
        cursor = int(params.get("cursor") or 0)
        count = min(int(params.get("count", 15)), self.page_size)
        listed = [(v, i + 1) for i, v in enumerate(self.video_ids)]
        older = [(v, n) for v, n in listed if (1_700_000_000 - n * 3600) * 1000 < cursor]
        chunk = older[:count]
        return json_response({
            "statusCode": 0,
            "itemList": [self.video_json(v, n) for v, n in chunk],
            "hasMorePrevious": len(older) > count,
            "hasMoreLatest": False,
        })
