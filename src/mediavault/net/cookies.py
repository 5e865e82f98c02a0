"""Cookies: Netscape ``cookies.txt`` files and ``a=b; c=d`` header strings."""

from __future__ import annotations

import http.cookiejar
import time
from pathlib import Path

from mediavault.errors import InputError

__all__ = ["cookie_header", "load_netscape_cookies", "parse_cookie_text"]

_HTTPONLY_PREFIX = "#HttpOnly_"


def load_netscape_cookies(path: str | Path) -> http.cookiejar.MozillaCookieJar:
    """Read a Netscape/Mozilla ``cookies.txt`` (as exported by browsers and yt-dlp)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"cookies file not found: {file}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read cookies file {file}: {exc}") from exc
    jar = _parse_netscape(text, source=str(file))
    jar.filename = str(file)
    return jar


def parse_cookie_text(text: str, *, domain: str = "") -> http.cookiejar.MozillaCookieJar:
    """Cookies from Netscape ``cookies.txt`` text or a ``Cookie:`` header (``a=b; c=d``).

    Header-form cookies carry no domain: they are scoped to ``domain`` (and its
    subdomains); with no ``domain`` they are sent with every request of the session that
    holds them, so only give those to a session dedicated to one site.
    """
    stripped = text.strip()
    if not stripped:
        raise InputError("empty cookies")
    if "\t" in stripped or stripped.startswith("#"):
        return _parse_netscape(stripped, source="cookie text")
    return _parse_header(stripped, domain=domain.strip().lower())


def cookie_header(jar: http.cookiejar.CookieJar) -> str:
    """All cookies of ``jar`` as one ``Cookie:`` header value (for non-httpx callers)."""
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.value is not None)


def _cookie(
    *,
    name: str,
    value: str,
    domain: str,
    path: str = "/",
    secure: bool = False,
    expires: int | None = None,
    http_only: bool = False,
) -> http.cookiejar.Cookie:
    dotted = domain.startswith(".")
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=dotted,
        domain_initial_dot=dotted,
        path=path or "/",
        path_specified=True,
        secure=secure,
        expires=expires,
        discard=expires is None,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": ""} if http_only else {},
    )


def _parse_netscape(text: str, *, source: str) -> http.cookiejar.MozillaCookieJar:
    jar = http.cookiejar.MozillaCookieJar()
    now = time.time()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip("\r\n")
        http_only = line.startswith(_HTTPONLY_PREFIX)
        if http_only:
            line = line[len(_HTTPONLY_PREFIX) :]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 6:  # a value-less cookie lost its trailing tab
            fields.append("")
        if len(fields) != 7:
            raise InputError(
                f"{source} line {number} is not a Netscape cookie line "
                f"(expected 7 tab-separated fields, got {len(fields)})"
            )
        domain, _flag, path, secure, expires_text, name, value = fields
        expires_text = expires_text.strip()
        if expires_text and not expires_text.lstrip("-").isdigit():
            raise InputError(f"{source} line {number}: bad expiry {expires_text!r}")
        expires = int(expires_text) if expires_text and int(expires_text) > 0 else None
        if expires is not None and expires < now:
            continue
        jar.set_cookie(
            _cookie(
                name=name,
                value=value,
                domain=domain.strip().lower(),
                path=path,
                secure=secure.strip().upper() == "TRUE",
                expires=expires,
                http_only=http_only,
            )
        )
    return jar


def _parse_header(text: str, *, domain: str) -> http.cookiejar.MozillaCookieJar:
    jar = http.cookiejar.MozillaCookieJar()
    scoped = "." + domain.lstrip(".") if domain else ""
    if text.lower().startswith("cookie:"):
        text = text[len("cookie:") :]
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise InputError(f"bad cookie {part.strip()!r}: expected name=value")
        jar.set_cookie(_cookie(name=name.strip(), value=value.strip(), domain=scoped))
    return jar
