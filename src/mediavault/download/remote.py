"""What a server says about a file: size, validators, range support."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from mediavault.errors import IntegrityError

from .state import TransferState

__all__ = ["Remote", "check_length", "parse_content_range"]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Remote:
    """What the server told us about the file."""

    url: str
    size: int | None
    etag: str | None
    last_modified: str | None
    ranges: bool

    @classmethod
    def from_response(cls, response: httpx.Response, *, size: int | None, ranges: bool) -> Remote:
        return cls(
            url=str(response.url),
            size=size,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            ranges=ranges,
        )

    def same_as(self, state: TransferState) -> bool:
        """Whether ``state`` describes this very file (a changed one restarts cleanly)."""
        if state.size != self.size:
            return False
        if state.etag and self.etag and state.etag != self.etag:
            return False
        return not (
            state.last_modified and self.last_modified and state.last_modified != self.last_modified
        )

    def if_range(self) -> dict[str, str]:
        if self.etag and not self.etag.startswith("W/"):
            return {"If-Range": self.etag}
        if self.last_modified:
            return {"If-Range": self.last_modified}
        return {}


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    match = _CONTENT_RANGE.match(value or "")
    if not match:
        return None
    first, last, total = match.groups()
    return int(first), int(last), None if total == "*" else int(total)


def check_length(response: httpx.Response, expected: int) -> None:
    length = response.headers.get("content-length")
    if length is not None and length.strip() != str(expected):
        raise IntegrityError(
            f"Content-Length {length} does not match the range length {expected}"
        )
