"""TikTok emulation: profile pages with ``__UNIVERSAL_DATA_FOR_REHYDRATION__`` (or
``SIGI_STATE``), ``/api/post/item_list/?secUid=&cursor=`` paging (``itemList``,
``hasMore``, ``cursor``), ``bitrateInfo`` qualities, and a bot-detection mode that answers
the next N profile-page loads with a captcha page (the browser goes first, so the first
load is the browser's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.support.origin import OriginRequest

SEC_UID = "MS4wLjABAAAAemulated-sec-uid"
CAPTCHA = (b"<!DOCTYPE html><html><head><title>Security Check</title></head><body>"
           b'<div id="captcha-verify-container" class="captcha_verify_container">'
           b"Drag the slider to fit the puzzle</div></body></html>")


class TikTokEmulator(Emulator):
    def __init__(self, media_root: Path, *, username: str = "alice", videos: int = 25, page: int = 10,
                 sigi: bool = False) -> None:
        self.username = username
        self.video_ids = [7_300_000_000_000_000_000 - i for i in range(1, videos + 1)]  # newest first
        self.page_size = page
        self.captcha_pages = 0
        self.empty_lists = 0
        self.sigi = sigi
        self.page_agents: list[str] = []
        super().__init__(media_root)

    def install(self) -> None:
        self.route(rf"/@{self.username}")(self.profile_page)
        self.route(r"/api/post/item_list/")(self.item_list)

    def user(self) -> dict[str, Any]:
        return {"id": "6800000000000000001", "uniqueId": self.username, "nickname": "Alice TT",
                "secUid": SEC_UID, "signature": "bio", "avatarLarger": self.media_url("avatar.jpg", "photo")}

    def profile_page(self, req: OriginRequest, match: Any) -> Response:
        self.page_agents.append(req.headers.get("User-Agent", ""))
        if self.captcha_pages > 0:
            self.captcha_pages -= 1
            return 200, {"Content-Type": "text/html"}, CAPTCHA
        stats = {"followerCount": 1000, "videoCount": len(self.video_ids), "heartCount": 5}
        if self.sigi:
            data = {"UserModule": {"users": {self.username: self.user()}, "stats": {self.username: stats}}}
            script = f'<script id="SIGI_STATE" type="application/json">{json.dumps(data)}</script>'
        else:
            data = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"statusCode": 0,
                                                                  "userInfo": {"user": self.user(), "stats": stats}}}}
            script = (f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
                      f"{json.dumps(data)}</script>")
        html = f"<!DOCTYPE html><html><head><title>Alice (@{self.username}) | TikTok</title></head><body>{script}</body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    def video_json(self, vid: int, index: int) -> dict[str, Any]:
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
        start = int(params.get("cursor") or 0)
        count = min(int(params.get("count", 30)), self.page_size)
        chunk = self.video_ids[start : start + count]
        return json_response({
            "statusCode": 0,
            "itemList": [self.video_json(v, start + i + 1) for i, v in enumerate(chunk)],
            "hasMore": start + count < len(self.video_ids),
            "cursor": str(start + count),
        })
