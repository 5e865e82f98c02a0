"""Downloads over HTTPS: the probe (httpx) and the connection threads (raw TLS sockets)
verify the origin's certificate against certifi's CAs plus ``SSL_CERT_FILE``'s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.download.rawhttp import RangeReader
from mediavault.models import Format
from mediavault.net.session import HttpSession
from mediavault.net.transport import tls_context
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Origin
from tests.support.tls import LocalCA, make_ca

MB = 1024 * 1024


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def tls_origin(origin_root: Path, test_ca: LocalCA) -> Iterator[Origin]:
    with Origin(origin_root, tls=test_ca.server_context()) as server:
        yield server


async def test_https_download_through_threads_with_a_trusted_private_ca(
    tls_origin: Origin, origin_root: Path, out_dir: Path, settings: Settings, test_ca: LocalCA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    seen: list[Any] = []
    original = RangeReader.request

    def spy(self: RangeReader, *args: Any, **kw: Any) -> Any:
        seen.append(self.tls)
        return original(self, *args, **kw)

    monkeypatch.setattr(RangeReader, "request", spy)
    digest = write_random(origin_root / "v.bin", 12 * MB + 5)
    assert tls_origin.url("/v.bin").startswith("https://127.0.0.1:")
    async with HttpSession(settings) as session:
        result = await fetch(Format(format_id="f", url=tls_origin.url("/v.bin")),
                             out_dir / "v.bin", session=session, settings=settings,
                             connections=4)
    assert sha256_of(result.path) == digest
    assert seen and all(seen), "the segments did not go over the threads' TLS sockets"
    assert tls_origin.requests["/v.bin"] == len(seen) + 1  # the probe, then the threads


async def test_an_untrusted_certificate_fails_at_once_with_its_own_code(
    tls_origin: Origin, origin_root: Path, out_dir: Path, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    write_random(origin_root / "v.bin", 1 * MB)
    started = time.monotonic()
    async with HttpSession(settings) as session:
        with pytest.raises(errors.TLSVerificationError) as caught:
            await fetch(Format(format_id="f", url=tls_origin.url("/v.bin")),
                        out_dir / "v.bin", session=session, settings=settings)
    assert caught.value.code == "tls_verification_failed"
    assert not errors.is_retryable(caught.value)
    assert "SSL_CERT_FILE" in caught.value.message
    assert time.monotonic() - started < 2  # not retried with backoff (max_retries=6)
    assert tls_origin.connections <= 1
    assert tls_origin.requests["/v.bin"] == 0


def test_an_unreadable_ca_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(bad))
    with pytest.raises(errors.ConfigError, match="SSL_CERT_FILE"):
        tls_context()


def test_the_context_is_built_once_per_ca_setting(
    test_ca: LocalCA, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    plain = tls_context()
    assert tls_context() is plain
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    private = tls_context()
    assert private is not plain and tls_context() is private
    subjects = [dict(x[0] for x in c["subject"]).get("commonName") for c in private.get_ca_certs()]
    assert "mediavault test CA" in subjects
    assert len(private.get_ca_certs()) > 1  # certifi's CAs are still there
