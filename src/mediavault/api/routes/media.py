"""``/media``: search the caller's archive (title, uploader, platform, upload date)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool

from mediavault.api.deps import CurrentUser, ServicesDep, SessionDep
from mediavault.api.files import serve_key
from mediavault.api.schemas.media import MediaPage, MediaPublic, media_public
from mediavault.errors import InputError, NotFoundError
from mediavault.jobs.tables import MediaFile, User

router = APIRouter(prefix="/media", tags=["media"])

_DATE = r"^\d{8}$"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("", response_model=MediaPage, summary="Search the archive")
def search(
    user: CurrentUser,
    session: SessionDep,
    q: str | None = Query(None, max_length=200, description="words in the title"),
    uploader: str | None = Query(None, max_length=200),
    platform: str | None = Query(None, max_length=32),
    date_after: str | None = Query(
        None, pattern=_DATE, description="upload date YYYYMMDD, inclusive"
    ),
    date_before: str | None = Query(None, pattern=_DATE),
    cursor: str | None = Query(None, max_length=128),
    limit: int = Query(50, ge=1, le=500),
) -> MediaPage:
    stmt = select(MediaFile).where(MediaFile.user_id == user.id)
    for word in (q or "").split():
        stmt = stmt.where(MediaFile.title.ilike(_like(word), escape="\\"))
    if uploader:
        stmt = stmt.where(MediaFile.uploader.ilike(_like(uploader), escape="\\"))
    if platform:
        stmt = stmt.where(MediaFile.platform == platform.lower())
    if date_after:
        stmt = stmt.where(MediaFile.upload_date >= date_after)
    if date_before:
        stmt = stmt.where(MediaFile.upload_date <= date_before)
    if cursor:
        created, _, last_id = cursor.partition("_")
        try:
            at = datetime.fromisoformat(created)
        except ValueError as exc:
            raise InputError("invalid cursor") from exc
        stmt = stmt.where(
            or_(MediaFile.created_at < at, and_(MediaFile.created_at == at, MediaFile.id < last_id))
        )
    stmt = stmt.order_by(MediaFile.created_at.desc(), MediaFile.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].created_at.isoformat()}_{rows[-1].id}" if more else None
    return MediaPage(items=[media_public(r) for r in rows], next_cursor=next_cursor)


def _owned(session: SessionDep, user: User, media_id: str) -> MediaFile:
    row = session.get(MediaFile, media_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError(f"no media {media_id!r}")
    return row


@router.get("/{media_id}", response_model=MediaPublic, summary="One archived file")
def get_media(media_id: str, user: CurrentUser, session: SessionDep) -> MediaPublic:
    return media_public(_owned(session, user, media_id))


@router.get(
    "/{media_id}/file",
    summary="The archived file (supports Range)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        206: {"description": "partial content"},
    },
)
async def get_media_file(
    media_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    row = await run_in_threadpool(_owned, session, user, media_id)
    return await serve_key(services, row.path, range_header, head=request.method == "HEAD")
