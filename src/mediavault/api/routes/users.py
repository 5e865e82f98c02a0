"""``/users``: accounts (admin), the caller's own profile and notification targets."""

from __future__ import annotations

import json

from fastapi import APIRouter, status
from starlette.concurrency import run_in_threadpool

from mediavault import accounts, crypto
from mediavault.api.deps import AdminUser, CurrentUser, ServicesDep, SessionDep, WriteSessionDep
from mediavault.api.schemas.accounts import (
    NotifyPublic,
    NotifyUpdate,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from mediavault.errors import ConflictError, NotFoundError
from mediavault.jobs.tables import User
from mediavault.notify import check_notify_url, mask_notify_url

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic, summary="The calling user")
def me(user: CurrentUser) -> User:
    return user


@router.get("/me/notifications", response_model=NotifyPublic, summary="Notification targets")
def get_notifications(user: CurrentUser, services: ServicesDep) -> NotifyPublic:
    urls: list[str] = []
    if user.notify_urls_enc:
        urls = json.loads(crypto.decrypt(services.settings, user.notify_urls_enc))
    return NotifyPublic(targets=[mask_notify_url(url) for url in urls])


@router.put("/me/notifications", response_model=NotifyPublic, summary="Set notification targets")
async def set_notifications(
    body: NotifyUpdate, user: CurrentUser, session: WriteSessionDep, services: ServicesDep
) -> NotifyPublic:
    for url in body.urls:
        await check_notify_url(services.policy, url)
    encrypted = (
        crypto.encrypt(services.settings, json.dumps(body.urls).encode()) if body.urls else None
    )

    def save() -> None:
        row = session.get(User, user.id)
        if row is None:
            raise NotFoundError("the calling user no longer exists")
        row.notify_urls_enc = encrypted
        session.commit()

    await run_in_threadpool(save)
    services.auth_cache.clear()  # cached callers carry the old targets otherwise
    return NotifyPublic(targets=[mask_notify_url(url) for url in body.urls])


@router.get("", response_model=list[UserPublic], summary="List users (admin)")
def list_users(_: AdminUser, session: SessionDep) -> list[User]:
    return accounts.list_users(session)


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user (admin)",
)
def create_user(body: UserCreate, _: AdminUser, session: WriteSessionDep) -> User:
    quotas = accounts.Quotas(
        daily_downloads=body.quota_daily_downloads,
        storage_bytes=body.quota_storage_bytes,
        concurrent_jobs=body.quota_concurrent_jobs,
    )
    return accounts.create_user(
        session, body.name, admin=body.admin, password=body.password, quotas=quotas
    )


@router.get("/{user_id}", response_model=UserPublic, summary="One user (admin)")
def get_user(user_id: str, _: AdminUser, session: SessionDep) -> User:
    return accounts.get_user(session, user_id)


@router.patch(
    "/{user_id}", response_model=UserPublic, summary="Change role, quotas, password (admin)"
)
def update_user(
    user_id: str,
    body: UserUpdate,
    admin: AdminUser,
    session: WriteSessionDep,
    services: ServicesDep,
) -> User:
    user = accounts.get_user(session, user_id)
    changes = body.model_dump(exclude_unset=True)
    if user.id == admin.id and (changes.get("role") == "user" or changes.get("disabled")):
        raise ConflictError("an admin cannot demote or disable their own account")
    updated = accounts.update_user(session, user, **changes)
    services.auth_cache.clear()  # role, quotas and "disabled" apply to cached keys at once
    return updated


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a user (admin)"
)
def delete_user(
    user_id: str, admin: AdminUser, session: WriteSessionDep, services: ServicesDep
) -> None:
    user = accounts.get_user(session, user_id)
    if user.id == admin.id:
        raise ConflictError("an admin cannot delete their own account")
    session.delete(user)
    session.commit()
    services.auth_cache.clear()
    services.job_view.forget_all()  # their jobs went with them
