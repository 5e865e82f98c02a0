from __future__ import annotations

import ssl

import httpx
import pytest

from mediavault import errors
from mediavault.net import translate_error

REQUEST = httpx.Request("GET", "http://127.0.0.1:1/x")


@pytest.mark.parametrize(
    ("exc", "expected", "code"),
    [
        (httpx.ConnectTimeout("t", request=REQUEST), errors.TimeoutError_, "timeout"),
        (httpx.ReadTimeout("t", request=REQUEST), errors.TimeoutError_, "timeout"),
        (httpx.PoolTimeout("t", request=REQUEST), errors.TimeoutError_, "timeout"),
        (httpx.ConnectError("refused", request=REQUEST), errors.ConnectFailedError, "network_error"),
        (ConnectionRefusedError(111, "refused"), errors.ConnectFailedError, "network_error"),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            errors.TLSVerificationError,
            "tls_verification_failed",
        ),
        (httpx.ReadError("reset", request=REQUEST), errors.NetworkError, "network_error"),
        (httpx.RemoteProtocolError("eof", request=REQUEST), errors.NetworkError, "network_error"),
        (httpx.ProxyError("bad proxy", request=REQUEST), errors.NetworkError, "network_error"),
        (httpx.TooManyRedirects("loop", request=REQUEST), errors.NetworkError, "network_error"),
        (httpx.DecodingError("gzip", request=REQUEST), errors.IntegrityError, "integrity_error"),
        (httpx.UnsupportedProtocol("ftp", request=REQUEST), errors.BlockedURLError, "url_blocked"),
        (httpx.InvalidURL("bad"), errors.InputError, "invalid_input"),
        (TimeoutError(), errors.TimeoutError_, "timeout"),
        (ConnectionResetError(104, "reset"), errors.NetworkError, "network_error"),
        (ssl.SSLError("handshake"), errors.NetworkError, "network_error"),
        (ValueError("surprise"), errors.MediavaultError, "internal_error"),
    ],
)
def test_translation(exc: BaseException, expected: type, code: str) -> None:
    translated = translate_error(exc)
    assert type(translated) is expected
    assert translated.code == code


def test_url_is_named_in_the_message() -> None:
    error = translate_error(httpx.ConnectError("refused", request=REQUEST))
    assert "http://127.0.0.1:1/x" in error.message


def test_status_errors_keep_status_and_retry_after() -> None:
    response = httpx.Response(429, headers={"Retry-After": "12"}, request=REQUEST)
    error = translate_error(httpx.HTTPStatusError("x", request=REQUEST, response=response))
    assert isinstance(error, errors.HTTPStatusError)
    assert (error.status_code, error.retry_after, error.url) == (429, 12.0, str(REQUEST.url))
    assert errors.is_retryable(error)


def test_ours_pass_through() -> None:
    original = errors.BlockedURLError("no")
    assert translate_error(original) is original
