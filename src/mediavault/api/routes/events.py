"""Live progress: ``GET /events`` (Server-Sent Events) and ``WS /ws``.

Both carry the SPEC §4 event JSON, only for jobs the caller may see (their own; admins:
all), optionally narrowed to some job ids and event types. Browsers cannot set headers
on EventSource/WebSocket, so ``?token=`` (API key or JWT) is accepted here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mediavault.api.deps import StreamUser, authenticate, services_of
from mediavault.api.state import Services
from mediavault.errors import AuthError
from mediavault.jobs.events import Subscription
from mediavault.jobs.tables import User
from mediavault.models import Event, EventType

router = APIRouter(tags=["events"])

_JOB_IDS = Query(None, max_length=50, description="only these jobs (repeat the parameter)")
_TYPES = Query(None, max_length=10, description="only these event types")
_TOKEN = Query(None, max_length=2048, description="API key or JWT (for browsers)")


def _visible(user: User, owner: str | None, event: Event, jobs: set[str], types: set[str]) -> bool:
    if user.role != "admin" and owner != user.id:
        return False
    return (not jobs or event.job_id in jobs) and (not types or event.type.value in types)


async def _next(sub: Subscription, wait: float) -> tuple[Event, str | None] | None:
    try:
        return await asyncio.wait_for(anext(sub), wait)
    except TimeoutError:
        return None


async def _sse(
    request: Request,
    sub: Subscription,
    user: User,
    jobs: set[str],
    types: set[str],
    keepalive: float,
) -> AsyncIterator[bytes]:
    try:
        yield b": connected\n\n"
        while not await request.is_disconnected():
            item = await _next(sub, keepalive)
            if item is None:
                yield b": keepalive\n\n"
                continue
            event, owner = item
            if _visible(user, owner, event, jobs, types):
                yield f"event: {event.type.value}\ndata: {event.model_dump_json()}\n\n".encode()
    finally:
        await sub.aclose()


@router.get(
    "/events",
    summary="Server-Sent Events stream of job events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    request: Request,
    user: StreamUser,
    job_id: list[str] | None = _JOB_IDS,
    type: list[EventType] | None = _TYPES,
    token: str | None = _TOKEN,
) -> StreamingResponse:
    services: Services = services_of(request)
    sub = services.bus.subscribe()
    await sub.start()  # subscribed before the response starts: nothing published is missed
    stream = _sse(
        request,
        sub,
        user,
        set(job_id or ()),
        {t.value for t in type or ()},
        services.settings.sse_keepalive_seconds,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _ws_credential(ws: WebSocket) -> str | None:
    authorization = ws.headers.get("authorization", "")
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    return ws.headers.get("x-api-key") or bearer or ws.query_params.get("token")


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    services: Services = services_of(ws)
    try:
        user = await run_in_threadpool(_ws_user, services, _ws_credential(ws))
    except AuthError as exc:  # accepted first so the client sees why: close code 4401
        await ws.accept()
        await ws.close(code=4401, reason=exc.message[:120])
        return
    jobs = set(ws.query_params.getlist("job_id"))
    types = set(ws.query_params.getlist("type"))
    sub = services.bus.subscribe()
    await sub.start()
    await ws.accept()
    receiver = asyncio.create_task(_drain(ws))
    try:
        while not receiver.done():
            item = await _next(sub, services.settings.sse_keepalive_seconds)
            if item is None:
                continue
            event, owner = item
            if _visible(user, owner, event, jobs, types):
                await ws.send_text(event.model_dump_json())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await receiver
        await sub.aclose()


def _ws_user(services: Services, credential: str | None) -> User:
    with services.db.sessionmaker() as session:
        user = authenticate(services, session, credential)
        session.expunge(user)
        return user


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client messages so a close from the client is noticed."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()
