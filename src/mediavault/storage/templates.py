"""Path templates: ``{uploader}/{upload_date} - {title} [{id}].{ext}`` -> a safe key.

A rendered key is relative, ``/``-separated, and each component is sanitised: no NUL or
control characters, no characters Windows refuses, no ``.``/``..``, no leading dots
(those names are reserved for internal files), no reserved device names (``CON``,
``NUL``, ``COM1``...), at most 255 UTF-8 bytes (the extension is kept when trimming).
Field values can never add directories: a ``/`` inside a title is just a character.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Mapping

from mediavault.errors import InvalidTemplateError
from mediavault.models import MediaItem

__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_COMPONENT_BYTES",
    "MISSING",
    "TEMPLATE_FIELDS",
    "fields_for",
    "render_template",
    "safe_title",
    "sanitize_component",
    "validate_template",
]

DEFAULT_TEMPLATE = "{uploader}/{upload_date} - {title} [{id}].{ext}"
MAX_COMPONENT_BYTES = 255
MAX_DEPTH = 32
MISSING = "NA"

TEMPLATE_FIELDS: dict[str, str] = {
    "id": "the item id on its platform",
    "title": "the title",
    "safe_title": "the title reduced to ASCII letters, digits, '-' and '_'",
    "ext": "the file extension",
    "uploader": "the uploader's name",
    "uploader_id": "the uploader's id",
    "upload_date": "upload date, YYYYMMDD",
    "year": "upload year, YYYY",
    "month": "upload month, MM",
    "day": "upload day, DD",
    "playlist": "the playlist/channel/feed title",
    "playlist_index": "position in the playlist (use {playlist_index:03d} to pad)",
    "platform": "the platform name (youtube, tiktok, ...)",
    "duration": "duration in whole seconds",
    "kind": "video, audio, image or other",
    "random": "8 random hex digits",
}

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_SPACES = re.compile(r"\s+")
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"com{i}" for i in "123456789¹²³"}
    | {f"lpt{i}" for i in "123456789¹²³"}
)
_EXT = re.compile(r"\.[A-Za-z0-9]{1,10}$")


def _truncate_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def sanitize_component(text: str, *, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """One safe path component (never empty, never ``.``/``..``, <= ``max_bytes``)."""
    name = unicodedata.normalize("NFC", str(text))
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    name = _FORBIDDEN.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name:
        return "_"
    if name.split(".", 1)[0].strip().lower() in _RESERVED:
        name = "_" + name
    if len(name.encode()) > max_bytes:
        match = _EXT.search(name)
        ext = match.group(0) if match else ""
        name = _truncate_bytes(name[: len(name) - len(ext)], max_bytes - len(ext)).rstrip(" .")
        name = (name or "_") + ext
    return name


def safe_title(title: str, *, max_chars: int = 120) -> str:
    """ASCII-only slug of ``title`` (letters, digits, ``-``, ``_``)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_text).strip("_-")
    slug = re.sub(r"_{2,}", "_", slug)[:max_chars].strip("_-")
    return slug or "untitled"


def fields_for(item: MediaItem, *, ext: str) -> dict[str, str]:
    """Template values for ``item`` (missing metadata becomes ``NA``)."""
    date = item.upload_date if item.upload_date and len(item.upload_date) == 8 else None
    return {
        "id": item.id or MISSING,
        "title": item.title or MISSING,
        "safe_title": safe_title(item.title or ""),
        "ext": ext.lstrip(".") or "bin",
        "uploader": item.uploader or item.uploader_id or MISSING,
        "uploader_id": item.uploader_id or MISSING,
        "upload_date": date or MISSING,
        "year": date[:4] if date else MISSING,
        "month": date[4:6] if date else MISSING,
        "day": date[6:] if date else MISSING,
        "playlist": item.playlist or MISSING,
        "playlist_index": str(item.playlist_index) if item.playlist_index is not None else MISSING,
        "platform": item.platform or MISSING,
        "duration": str(int(item.duration)) if item.duration is not None else MISSING,
        "kind": item.kind,
        "random": secrets.token_hex(4),
    }


def _parse(template: str) -> list[tuple[str, str | None, str]]:
    """(literal, field or None, format spec) triples; syntax errors become ours."""
    out: list[tuple[str, str | None, str]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidTemplateError(f"bad template {template!r}: {exc}") from exc
    for literal, name, spec, conversion in parsed:
        if name is None:
            out.append((literal, None, ""))
            continue
        if conversion is not None or not name.isidentifier():
            raise InvalidTemplateError(
                f"bad template field {{{name}}}: only plain names like {{title}} are allowed"
            )
        if spec and "{" in spec:
            raise InvalidTemplateError(f"nested fields are not allowed in {template!r}")
        out.append((literal, name, spec or ""))
    return out


def validate_template(template: str, fields: Mapping[str, object] | None = None) -> None:
    """Raise ``InvalidTemplateError`` unless ``template`` only names known fields."""
    known = TEMPLATE_FIELDS if fields is None else fields
    if not template.strip():
        raise InvalidTemplateError("empty template")
    for _literal, name, _spec in _parse(template):
        if name is not None and name not in known:
            raise InvalidTemplateError(
                f"unknown template field {{{name}}}; known: {', '.join(sorted(known))}"
            )


def _format_value(name: str, value: object, spec: str) -> str:
    if not spec:
        return str(value)
    candidates: list[object] = [value]
    if isinstance(value, str):
        for convert in (int, float):
            try:
                candidates.append(convert(value))
            except ValueError:
                continue
    for candidate in candidates:
        try:
            return format(candidate, spec)
        except (ValueError, TypeError):
            continue
    if value == MISSING:
        return MISSING
    raise InvalidTemplateError(f"format spec {spec!r} does not fit field {{{name}}}={value!r}")


def render_template(template: str, fields: Mapping[str, object]) -> str:
    """Render ``template`` into a safe relative key (``/``-separated).

    Only the template's own ``/`` (or ``\\``) make directories; a component holding a
    field value is always kept (sanitised), literal-only ``.``/``..``/empty ones drop.
    """
    validate_template(template, fields)
    components: list[tuple[str, bool]] = [("", False)]  # (text, holds a value)
    for literal, name, spec in _parse(template):
        pieces = literal.replace("\\", "/").split("/")
        text, has_value = components[-1]
        components[-1] = (text + pieces[0], has_value)
        components.extend((piece, False) for piece in pieces[1:])
        if name is not None:
            value = _format_value(name, fields[name], spec)
            text, _ = components[-1]
            # a value is never a path: its separators are plain characters
            components[-1] = (text + value.replace("/", "_").replace("\\", "_"), True)
    parts = [
        sanitize_component(text)
        for text, has_value in components
        if has_value or text.strip() not in ("", ".", "..")
    ]
    if not parts:
        raise InvalidTemplateError(f"template {template!r} renders to an empty path")
    if len(parts) > MAX_DEPTH:
        raise InvalidTemplateError(f"template {template!r} nests deeper than {MAX_DEPTH}")
    return "/".join(parts)
