"""The one place errors become HTTP responses: ``{"error": {code, message, detail}}``.

Domain errors (``MediavaultError``) answer with their own ``http_status``; request
validation errors answer 422 in the same shape; anything unexpected answers 500 with a
generic body (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediavault.errors import MediavaultError, RateLimitedError

__all__ = ["ERROR_RESPONSES", "ErrorBody", "ErrorInfo", "error_response", "install_handlers"]

log = structlog.get_logger("mediavault.api")


class ErrorInfo(BaseModel):
    code: str
    message: str
    detail: Any = None


class ErrorBody(BaseModel):
    error: ErrorInfo


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


#: error responses every route can give (auth, validation, rate limit, server error)
ERROR_RESPONSES = _responses(400, 401, 403, 404, 409, 413, 422, 429, 500)
#: extra statuses for routes that reach the outside world (extraction, fetching)
UPSTREAM_RESPONSES = _responses(502, 504)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "detail": jsonable_encoder(detail)}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MediavaultError)
    status = exc.http_status if exc.http_status >= 400 else 422
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mediavault", ApiKey header="X-API-Key"'
    if not exc.expected:
        log.error("request_failed", path=request.url.path, code=exc.code, error=exc.message)
    return error_response(status, exc.code, exc.message, exc.detail, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return error_response(422, "invalid_input", f"{where}: {first['msg']}", errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return error_response(500, "internal_error", "internal server error")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MediavaultError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
