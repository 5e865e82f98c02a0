"""The ``mediavault`` command line (Typer + Rich).

Each command group lives in its own module and registers on ``app``:
``get.py`` (get, info, formats), ``service.py`` (serve, worker, db),
``accounts.py`` (users, keys, credentials), ``subscriptions.py`` (subscriptions).
"""

from __future__ import annotations

import importlib
import sys

import typer

from mediavault.errors import MediavaultError

__all__ = ["app", "main"]

app = typer.Typer(
    name="mediavault",
    help="Self-hosted media archiving engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _group() -> None:
    """Self-hosted media archiving engine."""
    # A callback keeps ``app`` a command group even when only the invoked command's
    # module is loaded (Typer otherwise runs a lone command without its name).


_COMMAND_MODULES = ("get", "service", "accounts", "subscriptions", "bot")

# Which module registers each top-level command: a plain ``mediavault get`` then imports
# only what ``get`` needs (no SQLAlchemy, no web stack), so it starts transferring sooner.
_MODULE_OF = {
    "get": "get",
    "info": "get",
    "formats": "get",
    "serve": "service",
    "worker": "service",
    "db": "service",
    "users": "accounts",
    "keys": "accounts",
    "subscriptions": "subscriptions",
    "credentials": "subscriptions",
    "bot": "bot",
}


def _load_commands(argv: list[str] | None = None) -> None:
    command = next((arg for arg in (argv or []) if not arg.startswith("-")), None)
    names = (_MODULE_OF[command],) if command in _MODULE_OF else _COMMAND_MODULES
    for name in names:
        module = f"mediavault.cli.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def fail(exc: MediavaultError | str, *, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    if isinstance(exc, MediavaultError):
        message = f"error: [{exc.code}] {exc.message}"
    else:
        message = f"error: {exc}"
    print(message.replace("\n", " "), file=sys.stderr)
    return typer.Exit(code)


def main() -> None:
    _load_commands(sys.argv[1:])
    try:
        app()
    except MediavaultError as exc:
        print(f"error: [{exc.code}] {exc.message}".replace("\n", " "), file=sys.stderr)
        sys.exit(2 if exc.expected else 1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
