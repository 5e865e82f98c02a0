"""The mediavault exception tree.

Every error carries a stable ``code`` (used in API error bodies and CLI output), an
``expected`` flag (True: the user's input or the outside world is at fault; False: a bug)
and the HTTP status the API answers with.

::

    MediavaultError (internal_error, 500)
     +-- ConfigError (config_invalid, 500)
     +-- InputError (invalid_input, 422)
     |    +-- UnsupportedURLError (unsupported_url, 422)
     |    +-- FormatNotAvailableError (format_unavailable, 422)
     |    +-- InvalidTemplateError (invalid_template, 422)
     |    +-- BlockedURLError (url_blocked, 422)
     +-- NotFoundError (not_found, 404)
     +-- ConflictError (conflict, 409)
     +-- AuthError (unauthorized, 401)
     |    +-- ForbiddenError (forbidden, 403)
     |    +-- CredentialsInvalidError (credentials_invalid, 401)
     |    +-- CredentialsMissingError (credentials_missing, 401)
     +-- QuotaExceededError (quota_exceeded, 429)
     +-- RateLimitedError (rate_limited, 429)
     +-- ExtractionError (extraction_failed, 502)
     |    +-- NoMediaError (no_media, 422)
     |    +-- SigningRulesMissingError (signing_rules_missing, 422)
     |    +-- BotDetectedError (bot_detected, 502)
     +-- SkippedError (skipped, 200)
     |    +-- DRMProtectedError (drm_protected, 200)
     |    +-- AlreadyArchivedError (already_archived, 200)
     |    +-- ContentLockedError (content_locked, 200)
     +-- NetworkError (network_error, 502)          retryable
     |    +-- HTTPStatusError (http_error, 502)     retryable for 5xx/429/408
     |    +-- TimeoutError_ (timeout, 504)          retryable
     |    +-- IntegrityError (integrity_error, 502) retryable: short/corrupt transfer
     |    +-- RemoteChangedError (remote_changed, 502) retryable
     |    +-- ConnectFailedError (network_error, 502) retryable; 3 tries per request
     |    +-- TLSVerificationError (tls_verification_failed, 502) not retryable
     +-- StorageError (storage_error, 500)
     |    +-- PathNotWritableError (path_not_writable, 422)
     +-- PostProcessError (postprocess_failed, 500)
     |    +-- FFmpegMissingError (ffmpeg_missing, 500)
     +-- CancelledError_ (cancelled, 409)
     +-- JobError (job_error, 500)
          +-- LeaseLostError (lease_lost, 409)
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyArchivedError",
    "AuthError",
    "BlockedURLError",
    "BotDetectedError",
    "CancelledError_",
    "ConfigError",
    "ConflictError",
    "ConnectFailedError",
    "ContentLockedError",
    "CredentialsInvalidError",
    "CredentialsMissingError",
    "DRMProtectedError",
    "ExtractionError",
    "FFmpegMissingError",
    "ForbiddenError",
    "FormatNotAvailableError",
    "HTTPStatusError",
    "InputError",
    "IntegrityError",
    "InvalidTemplateError",
    "JobError",
    "LeaseLostError",
    "MediavaultError",
    "NetworkError",
    "NoMediaError",
    "NotFoundError",
    "PathNotWritableError",
    "PostProcessError",
    "QuotaExceededError",
    "RateLimitedError",
    "RemoteChangedError",
    "SigningRulesMissingError",
    "SkippedError",
    "StorageError",
    "TLSVerificationError",
    "TimeoutError_",
    "UnsupportedURLError",
    "error_for_code",
]


class MediavaultError(Exception):
    """Base of every error mediavault raises on purpose."""

    code: ClassVar[str] = "internal_error"
    expected: ClassVar[bool] = False
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", *, detail: Any = None) -> None:
        super().__init__(message or self.code.replace("_", " "))
        self.message = message or self.code.replace("_", " ")
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class ConfigError(MediavaultError):
    code = "config_invalid"
    expected = True


class InputError(MediavaultError):
    code = "invalid_input"
    expected = True
    http_status = 422


class UnsupportedURLError(InputError):
    code = "unsupported_url"


class FormatNotAvailableError(InputError):
    code = "format_unavailable"


class InvalidTemplateError(InputError):
    code = "invalid_template"


class BlockedURLError(InputError):
    code = "url_blocked"


class NotFoundError(MediavaultError):
    code = "not_found"
    expected = True
    http_status = 404


class ConflictError(MediavaultError):
    code = "conflict"
    expected = True
    http_status = 409


class AuthError(MediavaultError):
    code = "unauthorized"
    expected = True
    http_status = 401


class ForbiddenError(AuthError):
    code = "forbidden"
    http_status = 403


class CredentialsInvalidError(AuthError):
    code = "credentials_invalid"


class CredentialsMissingError(AuthError):
    code = "credentials_missing"


class QuotaExceededError(MediavaultError):
    code = "quota_exceeded"
    expected = True
    http_status = 429


class RateLimitedError(MediavaultError):
    code = "rate_limited"
    expected = True
    http_status = 429
    retryable = True

    def __init__(
        self, message: str = "", *, retry_after: float | None = None, detail: Any = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class ExtractionError(MediavaultError):
    code = "extraction_failed"
    expected = True
    http_status = 502


class NoMediaError(ExtractionError):
    code = "no_media"
    http_status = 422


class SigningRulesMissingError(ExtractionError):
    code = "signing_rules_missing"
    http_status = 422


class BotDetectedError(ExtractionError):
    code = "bot_detected"
    retryable = True


class SkippedError(MediavaultError):
    """The item is deliberately not downloaded; not a failure."""

    code = "skipped"
    expected = True
    http_status = 200


class DRMProtectedError(SkippedError):
    code = "drm_protected"


class AlreadyArchivedError(SkippedError):
    code = "already_archived"


class ContentLockedError(SkippedError):
    """Paid or locked content this account cannot see (a creator platform said so)."""

    code = "content_locked"


class NetworkError(MediavaultError):
    code = "network_error"
    expected = True
    http_status = 502
    retryable = True


class HTTPStatusError(NetworkError):
    code = "http_error"

    def __init__(
        self,
        message: str = "",
        *,
        status_code: int,
        url: str = "",
        retry_after: float | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message or f"HTTP {status_code} from {url}", detail=detail)
        self.status_code = status_code
        self.url = url
        self.retry_after = retry_after

    @property
    def is_retryable(self) -> bool:
        return self.status_code >= 500 or self.status_code in (408, 425, 429)


class TimeoutError_(NetworkError):  # noqa: N801, N818 - avoid shadowing the builtin
    code = "timeout"
    http_status = 504


class IntegrityError(NetworkError):
    code = "integrity_error"


class ConnectFailedError(NetworkError):
    """No connection could be made (refused, unreachable): nothing was exchanged yet."""


class TLSVerificationError(NetworkError):
    """The server's certificate is not trusted (or not for that host): trying again will
    not change it. A private CA can be trusted with ``SSL_CERT_FILE``."""

    code = "tls_verification_failed"
    retryable = False


class RemoteChangedError(NetworkError):
    code = "remote_changed"


class StorageError(MediavaultError):
    code = "storage_error"


class PathNotWritableError(StorageError):
    code = "path_not_writable"
    expected = True
    http_status = 422


class PostProcessError(MediavaultError):
    code = "postprocess_failed"


class FFmpegMissingError(PostProcessError):
    code = "ffmpeg_missing"
    expected = True


class CancelledError_(MediavaultError):  # noqa: N801, N818 - avoid shadowing asyncio's
    code = "cancelled"
    expected = True
    http_status = 409


class JobError(MediavaultError):
    code = "job_error"


class LeaseLostError(JobError):
    code = "lease_lost"
    expected = True
    http_status = 409


def _all_subclasses(cls: type[MediavaultError]) -> list[type[MediavaultError]]:
    out: list[type[MediavaultError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_for_code(code: str) -> type[MediavaultError]:
    """The error class whose ``code`` is ``code`` (MediavaultError when unknown)."""
    candidates: list[type[MediavaultError]] = [MediavaultError]
    candidates += _all_subclasses(MediavaultError)
    for cls in candidates:
        if cls.code == code:
            return cls
    return MediavaultError


def is_retryable(exc: BaseException) -> bool:
    """Whether a job that failed with ``exc`` should be tried again later."""
    if isinstance(exc, HTTPStatusError):
        return exc.is_retryable
    return isinstance(exc, MediavaultError) and exc.retryable
