"""Live progress over SSE and WebSocket, filtered to what the caller may see; a real
download from the local origin through the embedded worker, then its file with Range."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mediavault.services import run_embedded_worker
from tests.api.conftest import Api, Caller
from tests.support.origin import Origin


async def sse_events(
    client: httpx.AsyncClient, path: str = "/api/v1/events", **params
) -> AsyncIterator[dict]:
    async with client.stream("GET", path, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


def ws_url(api: Api, caller: Caller | None, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in ({"token": caller.key} if caller else {}).items())
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    joined = "&".join(part for part in (query, extra) if part)
    return (
        api.base_url.replace("http://", "ws://") + "/api/v1/ws" + (f"?{joined}" if joined else "")
    )


async def collect(stream: AsyncIterator[dict], until: set[str], limit: float = 20.0) -> list[dict]:
    seen: list[dict] = []

    async def run() -> None:
        async for event in stream:
            seen.append(event)
            if event["type"] in until:
                return

    await asyncio.wait_for(run(), limit)
    return seen


async def test_events_reach_only_their_owner(api: Api) -> None:
    async with (
        api.client(api.alice) as alice_http,
        connect(ws_url(api, api.alice)) as alice_ws,
        connect(ws_url(api, api.bob)) as bob_ws,
    ):
        sse = sse_events(alice_http)
        first = asyncio.create_task(collect(sse, {"job.cancelled"}))
        await asyncio.sleep(0.3)  # the SSE subscription is in place once headers arrive
        job = (
            await alice_http.post("/api/v1/download", json={"url": "http://127.0.0.1:9/v"})
        ).json()
        await alice_http.delete(f"/api/v1/download/{job['id']}")
        events = await first
        assert [e["type"] for e in events] == ["job.queued", "job.cancelled"]
        assert all(e["job_id"] == job["id"] for e in events)
        ws_events = [json.loads(await asyncio.wait_for(alice_ws.recv(), 10)) for _ in range(2)]
        assert [e["type"] for e in ws_events] == ["job.queued", "job.cancelled"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bob_ws.recv(), 1.0)


async def test_websocket_requires_a_valid_token(api: Api) -> None:
    async with connect(ws_url(api, None)) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    async with api.client() as client:
        response = await client.get("/api/v1/events")
        assert response.status_code == 401


async def test_sse_filters_by_job_id(api: Api) -> None:
    async with api.client(api.alice) as client:
        keep = (await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/a"})).json()
        task = asyncio.create_task(
            collect(sse_events(client, job_id=keep["id"]), {"job.cancelled"})
        )
        await asyncio.sleep(0.3)
        other = (await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/b"})).json()
        await client.delete(f"/api/v1/download/{other['id']}")
        await client.delete(f"/api/v1/download/{keep['id']}")
        events = await task
    assert {e["job_id"] for e in events} == {keep["id"]}


class EmbeddedWorker:
    """``run_embedded_worker`` in its own thread and event loop, stopped on exit."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        async def main() -> None:
            self.stop = asyncio.Event()
            self.ready.set()
            await run_embedded_worker(self.settings, stop=self.stop)

        self.loop.run_until_complete(main())

    def __enter__(self) -> EmbeddedWorker:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


async def test_progress_of_a_real_download_over_sse_and_ws(
    api: Api, origin: Origin, media_root
) -> None:
    origin.throttle["/video.mp4"] = 60_000  # ~4.4 s on one connection: several reports
    url = origin.url("/video.mp4")
    expected = (media_root / "video.mp4").read_bytes()
    with EmbeddedWorker(api.services.settings):
        async with api.client(api.alice) as client, connect(ws_url(api, api.alice)) as ws:
            sse_task = asyncio.create_task(
                collect(sse_events(client), {"job.completed", "job.failed"}, 60)
            )
            await asyncio.sleep(0.3)
            job = (
                await client.post(
                    "/api/v1/download", json={"url": url, "embed_metadata": False, "connections": 1}
                )
            ).json()
            sse = await sse_task
            ws_seen: list[dict] = []
            while not ws_seen or ws_seen[-1]["type"] not in ("job.completed", "job.failed"):
                ws_seen.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
            status = (await client.get(f"/api/v1/download/{job['id']}")).json()
            assert status["status"] == "completed", status
            for seen in (sse, ws_seen):
                types = [e["type"] for e in seen if e["job_id"] == job["id"]]
                assert types[0] == "job.queued" and "job.started" in types
                assert types[-1] == "job.completed"
                progress = [e for e in seen if e["type"] == "job.progress"]
                assert progress and max(e["downloaded_bytes"] for e in progress) > 0, json.dumps(
                    seen
                )
            whole = await client.get(status["file_url"])
            assert whole.status_code == 200 and whole.content == expected
            part = await client.get(status["file_url"], headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == expected[100:200]
            assert part.headers["content-range"] == f"bytes 100-199/{len(expected)}"
            media = (await client.get("/api/v1/media")).json()["items"]
            assert len(media) == 1 and media[0]["size"] == len(expected)
        async with api.client(api.bob) as bob:
            response = await bob.get(status["file_url"])
            assert response.status_code == 404
            assert (await bob.get("/api/v1/media")).json()["items"] == []
            assert (await bob.get(f"/api/v1/media/{media[0]['id']}/file")).status_code == 404
