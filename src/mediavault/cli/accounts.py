"""``mediavault users create|list`` and ``mediavault keys create|revoke|list``.

They work on the configured database directly (migrating it first), whether or not a
server is running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.orm import Session

from mediavault import accounts
from mediavault.cli import app, fail
from mediavault.config import get_settings
from mediavault.errors import MediavaultError
from mediavault.jobs.db import Database

__all__ = ["keys_app", "users_app"]

users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


@contextmanager
def _session() -> Iterator[Session]:
    try:
        database = Database(get_settings())
    except MediavaultError as exc:
        raise fail(exc) from exc
    try:
        with database.write_sessionmaker() as session:
            yield session
    except MediavaultError as exc:
        raise fail(exc) from exc
    finally:
        database.dispose()


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="User name."),
    admin: bool = typer.Option(False, "--admin", help="Give the admin role."),
    password: bool = typer.Option(
        False, "--password", help="Prompt for a password (for POST /auth/token)."
    ),
) -> None:
    """Create a user."""
    secret = (
        typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with _session() as session:
        user = accounts.create_user(session, name, admin=admin, password=secret)
        typer.echo(f"{user.id}\t{user.name}\t{user.role}")


@users_app.command("list")
def users_list() -> None:
    """List users: id, name, role, state."""
    with _session() as session:
        for user in accounts.list_users(session):
            state = "disabled" if user.disabled else "active"
            typer.echo(f"{user.id}\t{user.name}\t{user.role}\t{state}")


@keys_app.command("create")
def keys_create(
    user: str = typer.Option(..., "--user", "-u", help="Owner (created if missing)."),
    name: str | None = typer.Option(None, "--name", help="A label for the key."),
) -> None:
    """Create an API key; the key itself is printed alone on the last line."""
    with _session() as session:
        owner = accounts.ensure_user(session, user)
        key, plaintext = accounts.create_key(session, owner, name=name)
        typer.echo(f"key id {key.id} for user {owner.name} (shown once, store it now):", err=True)
        typer.echo(plaintext)


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="Key id (from `keys list`).")) -> None:
    """Revoke an API key."""
    with _session() as session:
        key = accounts.revoke_key(session, key_id)
        typer.echo(f"revoked {key.id}")


@keys_app.command("list")
def keys_list(user: str | None = typer.Option(None, "--user", "-u")) -> None:
    """List API keys: id, owner id, prefix, name, state."""
    with _session() as session:
        owner = accounts.get_user(session, user) if user else None
        for key in accounts.list_keys(session, owner):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.user_id}\tmv_{key.prefix}_…\t{key.name or ''}\t{state}")
