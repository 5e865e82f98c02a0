"""``/auth/cookies``: the caller's cookie sets, stored encrypted, never returned."""

from __future__ import annotations

from fastapi import APIRouter, status

from mediavault import accounts
from mediavault.api.deps import CurrentUser, ServicesDep, SessionDep, WriteSessionDep
from mediavault.api.schemas.accounts import CookiesCreate, CookiesPublic
from mediavault.jobs.tables import Credential
from mediavault.net.cookies import parse_cookie_text

router = APIRouter(prefix="/auth/cookies", tags=["auth"])


@router.get("", response_model=list[CookiesPublic], summary="List cookie sets (no values)")
def list_cookies(user: CurrentUser, session: SessionDep) -> list[Credential]:
    return accounts.list_cookies(session, user)


@router.post(
    "",
    response_model=CookiesPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Upload cookies (Netscape cookies.txt or a Cookie header); same name replaces",
)
def upload_cookies(
    body: CookiesCreate, user: CurrentUser, session: WriteSessionDep, services: ServicesDep
) -> CookiesPublic:
    jar = parse_cookie_text(body.cookies, domain=body.domain or "")
    count = len(list(jar))
    text = accounts.netscape_text(jar) if body.domain else body.cookies
    cred = accounts.store_cookies(
        services.settings, session, user, text, name=body.name, platform=body.platform
    )
    public = CookiesPublic.model_validate(cred)
    return public.model_copy(update={"cookie_count": count})


@router.delete("/{cookies_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete cookies")
def delete_cookies(cookies_id: str, user: CurrentUser, session: WriteSessionDep) -> None:
    accounts.delete_cookies(session, user, cookies_id)
