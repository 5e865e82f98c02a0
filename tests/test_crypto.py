"""Encryption at rest and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mediavault import crypto
from mediavault.errors import ConfigError


def test_roundtrip_and_tamper_detection(make_settings) -> None:
    settings = make_settings(secret_key="one secret")
    token = crypto.encrypt(settings, b"cookie=value")
    assert b"cookie" not in token
    assert crypto.decrypt(settings, token) == b"cookie=value"
    assert crypto.encrypt(settings, b"cookie=value") != token  # random IV
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        crypto.decrypt(make_settings(secret_key="another secret"), token)
    tampered = token[:-5] + (b"A" if token[-5:-4] != b"A" else b"B") + token[-4:]
    with pytest.raises(ConfigError):
        crypto.decrypt(settings, tampered)


def test_default_secret_is_a_private_file_in_the_data_dir(settings) -> None:
    token = crypto.encrypt(settings, b"x")
    key_file = settings.data_dir / ".secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert crypto.decrypt(settings, token) == b"x"


def test_derived_keys_differ_by_purpose(make_settings) -> None:
    settings = make_settings(secret_key="s")
    assert crypto.derive_key(settings, "a") != crypto.derive_key(settings, "b")
    assert len(crypto.derive_key(settings, "a", 16)) == 16


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"type":"job.completed"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert crypto.sign(b"k", body) == "sha256=" + expected
