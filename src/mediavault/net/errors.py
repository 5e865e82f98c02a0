"""The one place where HTTP-client exceptions become mediavault errors."""

from __future__ import annotations

import ssl

import httpx

from mediavault import errors
from mediavault.net.retry import parse_retry_after

__all__ = ["status_error", "translate_error"]


def status_error(response: httpx.Response) -> errors.HTTPStatusError:
    """The error for a 4xx/5xx ``response`` (with its ``Retry-After``, if any)."""
    try:
        url = str(response.request.url)
    except RuntimeError:  # a response built without a request
        url = ""
    reason = response.reason_phrase or ""
    return errors.HTTPStatusError(
        f"HTTP {response.status_code} {reason} from {url}".replace("  ", " "),
        status_code=response.status_code,
        url=url,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def _url_of(exc: httpx.HTTPError) -> str:
    try:
        return str(exc.request.url)
    except RuntimeError:  # no request attached
        return ""


def translate_error(exc: BaseException) -> errors.MediavaultError:
    """Map ``exc`` (httpx, OS, asyncio) onto our error tree; ours pass through unchanged."""
    if isinstance(exc, errors.MediavaultError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        return status_error(exc.response)
    if isinstance(exc, httpx.HTTPError):
        return _translate_httpx(exc)
    if isinstance(exc, httpx.InvalidURL):
        return errors.InputError(f"invalid URL: {exc}")
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError too
        return errors.TimeoutError_("timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _untrusted(exc)
    if isinstance(exc, ssl.SSLError):
        return errors.NetworkError(f"TLS error: {exc}")
    if isinstance(exc, ConnectionRefusedError):
        return errors.ConnectFailedError(f"cannot connect: {exc.strerror or exc}")
    if isinstance(exc, OSError):
        return errors.NetworkError(f"network error: {exc.strerror or exc}")
    return errors.MediavaultError(f"unexpected {type(exc).__name__}: {exc}")


def _translate_httpx(exc: httpx.HTTPError) -> errors.MediavaultError:
    url = _url_of(exc)
    where = f" ({url})" if url else ""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return errors.TimeoutError_(f"{kind}{where}", detail=detail)
    if isinstance(exc, httpx.ProxyError):
        return errors.NetworkError(f"proxy error{where}: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return errors.BlockedURLError(f"unsupported URL scheme{where}")
    if isinstance(exc, httpx.TooManyRedirects):
        return errors.NetworkError(f"too many redirects{where}")
    if isinstance(exc, httpx.ConnectError):
        cause = _cause(exc, ssl.SSLCertVerificationError)
        if cause is not None:
            return _untrusted(cause, where)
        return errors.ConnectFailedError(f"cannot connect{where}: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return errors.NetworkError(f"connection broken{where}: {detail}")
    if isinstance(exc, httpx.DecodingError):
        return errors.IntegrityError(f"undecodable response body{where}: {detail}")
    if isinstance(exc, httpx.TransportError):
        return errors.NetworkError(f"network error{where}: {detail}")
    return errors.NetworkError(f"HTTP error{where}: {detail}")



def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s cause/context chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _untrusted(exc: BaseException, where: str = "") -> errors.MediavaultError:
    reason = getattr(exc, "verify_message", "") or str(exc)
    return errors.TLSVerificationError(
        f"untrusted TLS certificate{where}: {reason} (a private CA can be added with SSL_CERT_FILE)"
    )
