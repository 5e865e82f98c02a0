"""``/keys``: API keys of the caller (admins may manage anyone's)."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from mediavault import accounts
from mediavault.api.deps import CurrentUser, ServicesDep, SessionDep, WriteSessionDep
from mediavault.api.schemas.accounts import KeyCreate, KeyCreated, KeyPublic
from mediavault.errors import ForbiddenError
from mediavault.jobs.tables import ApiKey

router = APIRouter(prefix="/keys", tags=["users"])


@router.get("", response_model=list[KeyPublic], summary="List API keys")
def list_keys(
    user: CurrentUser,
    session: SessionDep,
    all_users: bool = Query(False, alias="all", description="admin: every user's keys"),
) -> list[ApiKey]:
    if all_users and user.role != "admin":
        raise ForbiddenError("admin role required to list every user's keys")
    return accounts.list_keys(session, None if all_users else user)


@router.post(
    "", response_model=KeyCreated, status_code=status.HTTP_201_CREATED, summary="Create an API key"
)
def create_key(body: KeyCreate, user: CurrentUser, session: WriteSessionDep) -> KeyCreated:
    owner = user
    if body.user is not None and body.user not in (user.id, user.name):
        if user.role != "admin":
            raise ForbiddenError("admin role required to create keys for another user")
        owner = accounts.get_user(session, body.user)
    key, plaintext = accounts.create_key(session, owner, name=body.name)
    return KeyCreated.model_validate(
        {**KeyPublic.model_validate(key).model_dump(), "key": plaintext}
    )


@router.delete("/{key_id}", response_model=KeyPublic, summary="Revoke an API key")
def revoke_key(
    key_id: str, user: CurrentUser, session: WriteSessionDep, services: ServicesDep
) -> ApiKey:
    key = accounts.revoke_key(session, key_id, owner=None if user.role == "admin" else user)
    services.auth_cache.clear()  # this process stops accepting it now, others within the TTL
    return key
