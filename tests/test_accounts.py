"""Accounts: users, hashed keys, JWT, passwords, storage quota, cookie sets; the CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from pydantic import SecretStr

from mediavault import accounts
from mediavault.errors import AuthError, ConflictError, NotFoundError
from mediavault.jobs.db import Database
from mediavault.jobs.tables import MediaFile


@pytest.fixture
def db(settings):
    database = Database(settings)
    yield database
    database.dispose()


def test_keys_are_stored_hashed_and_checked(db) -> None:
    with db.write_sessionmaker() as session:
        alice = accounts.create_user(session, "alice")
        key, plaintext = accounts.create_key(session, alice, name="cli")
        assert plaintext.startswith(f"mv_{key.prefix}_")
        assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext not in key.key_hash
        assert accounts.user_by_key(session, plaintext).id == alice.id
        for wrong in (plaintext + "x", plaintext[:-1], "mv_zzzz_abc", "", "nonsense"):
            with pytest.raises(AuthError):
                accounts.user_by_key(session, wrong)
        accounts.revoke_key(session, key.id)
        with pytest.raises(AuthError):
            accounts.user_by_key(session, plaintext)
        bob = accounts.create_user(session, "bob")
        with pytest.raises(NotFoundError):
            accounts.revoke_key(session, key.id, owner=bob)


def test_users_names_passwords_and_jwt(db, settings) -> None:
    with db.write_sessionmaker() as session:
        carol = accounts.create_user(session, "carol", password="hunter22!")
        with pytest.raises(ConflictError):
            accounts.create_user(session, "carol")
        assert carol.password_hash and "hunter22" not in carol.password_hash
        assert accounts.authenticate_password(session, "carol", "hunter22!").id == carol.id
        with pytest.raises(AuthError):
            accounts.authenticate_password(session, "carol", "wrong")
        with pytest.raises(AuthError):
            accounts.authenticate_password(session, "nobody", "hunter22!")
        token, ttl = accounts.issue_jwt(settings, carol)
        assert ttl == settings.jwt_ttl_seconds
        assert accounts.user_by_jwt(settings, session, token).id == carol.id
        other = settings.model_copy(update={"secret_key": SecretStr("another secret entirely")})
        with pytest.raises(AuthError):
            accounts.user_by_jwt(other, session, token)
        accounts.update_user(session, carol, disabled=True)
        with pytest.raises(AuthError):
            accounts.user_by_jwt(settings, session, token)
        assert accounts.local_admin(session).role == "admin"
        assert accounts.local_admin(session).id == accounts.ensure_user(session, "local").id


def test_storage_quota(db) -> None:
    with db.write_sessionmaker() as session:
        dan = accounts.create_user(session, "dan", quotas=accounts.Quotas(storage_bytes=100))
        accounts.enforce_storage_quota(session, dan)
        session.add(
            MediaFile(
                user_id=dan.id, platform="p", item_id="1", sha256="0" * 64, path="a", size=100
            )
        )
        session.commit()
        with pytest.raises(accounts.StorageQuotaError) as info:
            accounts.enforce_storage_quota(session, dan)
        assert info.value.http_status == 403 and info.value.detail["used"] == 100


def test_cookie_sets_are_encrypted_and_private(db, settings) -> None:
    with db.write_sessionmaker() as session:
        erin = accounts.create_user(session, "erin")
        frank = accounts.create_user(session, "frank")
        cred = accounts.store_cookies(
            settings, session, erin, "sid=TOPSECRET", name="a", platform="generic"
        )
        assert b"TOPSECRET" not in cred.data_enc
        assert accounts.load_cookies(settings, session, erin.id, cred.id) == "sid=TOPSECRET"
        with pytest.raises(NotFoundError):
            accounts.load_cookies(settings, session, frank.id, cred.id)
        again = accounts.store_cookies(
            settings, session, erin, "sid=NEW", name="a", platform="generic"
        )
        assert again.id == cred.id  # same name replaces
        assert [c.id for c in accounts.list_cookies(session, erin)] == [cred.id]
        with pytest.raises(NotFoundError):
            accounts.delete_cookies(session, frank, cred.id)
        accounts.delete_cookies(session, erin, cred.id)
        assert accounts.list_cookies(session, erin) == []


def _cli(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MEDIAVAULT_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", "from mediavault.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_users_and_keys(settings) -> None:
    created = _cli(settings, "users", "create", "gina", "--admin")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().endswith("gina\tadmin")
    assert _cli(settings, "users", "create", "gina").returncode != 0
    key = _cli(settings, "keys", "create", "--user", "hank")  # creates hank
    assert key.returncode == 0, key.stderr
    plaintext = key.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("mv_")
    listed = _cli(settings, "users", "list").stdout
    assert "gina\tadmin" in listed and "hank\tuser" in listed
    database = Database(settings)
    try:
        with database.sessionmaker() as session:
            user = accounts.user_by_key(session, plaintext)
            assert user.name == "hank"
            key_id = accounts.list_keys(session, user)[0].id
        revoked = _cli(settings, "keys", "revoke", key_id)
        assert revoked.returncode == 0 and key_id in revoked.stdout
        with database.sessionmaker() as session, pytest.raises(AuthError):
            accounts.user_by_key(session, plaintext)
    finally:
        database.dispose()
    missing = _cli(settings, "keys", "revoke", "nope")
    assert missing.returncode != 0 and "error: [not_found]" in missing.stderr
