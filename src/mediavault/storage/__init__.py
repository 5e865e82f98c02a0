"""Storage: backends (local disk, S3), path templates, sanitising, dedupe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from mediavault.errors import ConfigError
from mediavault.storage.base import StorageBackend, StoredObject
from mediavault.storage.dedupe import DedupeIndex, FileArchive, sha256_file
from mediavault.storage.local import LocalStorage
from mediavault.storage.templates import (
    DEFAULT_TEMPLATE,
    TEMPLATE_FIELDS,
    fields_for,
    render_template,
    sanitize_component,
    validate_template,
)

if TYPE_CHECKING:
    from mediavault.config import Settings
    from mediavault.storage.sql_dedupe import SqlDedupeIndex


def __getattr__(name: str) -> object:
    # SqlDedupeIndex needs SQLAlchemy; the CLI's storage never does, so load it on demand
    if name == "SqlDedupeIndex":
        from mediavault.storage.sql_dedupe import SqlDedupeIndex

        return SqlDedupeIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DEFAULT_TEMPLATE",
    "TEMPLATE_FIELDS",
    "DedupeIndex",
    "FileArchive",
    "LocalStorage",
    "SqlDedupeIndex",
    "StorageBackend",
    "StoredObject",
    "fields_for",
    "open_storage",
    "render_template",
    "sanitize_component",
    "sha256_file",
    "validate_template",
]


def open_storage(url: str, settings: Settings) -> StorageBackend:
    """The backend for ``url``: ``file:///path`` (or a plain path) or ``s3://bucket/prefix``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"file storage URL must be local: {url!r}")
        return LocalStorage(Path(unquote(parts.path)))
    if scheme == "s3":
        from mediavault.storage.s3 import S3Storage

        return S3Storage(
            parts.netloc,
            unquote(parts.path).strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            scratch=settings.data_dir / "tmp",
        )
    if scheme == "" or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        return LocalStorage(Path(url))
    raise ConfigError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix")
