"""OnlyFans request signing from user-supplied "dynamic rules".

OnlyFans checks a ``sign`` header on its API: the SHA-1 of
``static_param \\n time \\n path?query \\n user_id``, a checksum over chosen characters of
that hex digest, and a prefix/suffix, all given by a rules JSON the user trusts
(``MEDIAVAULT_ONLYFANS_RULES``: a file path or a URL). mediavault never fetches rules from
anywhere on its own; without them the signed endpoints fail with
``signing_rules_missing``.

Accepted rule fields (the shapes the public rule files use): ``static_param``,
``checksum_indexes``, ``checksum_constant`` (older files: only a ``checksum_constants``
list, which is summed), either ``format`` / ``sign_format`` (``"123:{}:{:x}:abc"``, or
``"123:{}:{}:abc"`` taking the checksum already in hex) or ``prefix``/``suffix`` (also
``start``/``end``), and ``app_token`` / ``app-token``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediavault.errors import ConfigError, SigningRulesMissingError

if TYPE_CHECKING:
    from mediavault.net.session import HttpSession

__all__ = ["SigningRules", "load_rules"]


@dataclass(frozen=True, kw_only=True)
class SigningRules:
    static_param: str
    checksum_indexes: tuple[int, ...]
    checksum_constant: int
    app_token: str
    format: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SigningRules:
        try:
            indexes = tuple(int(i) for i in data["checksum_indexes"])
            static = str(data["static_param"])
            if data.get("checksum_constant") is None and "checksum_constants" in data:
                constant = sum(int(c) for c in data["checksum_constants"])
            else:
                constant = int(data["checksum_constant"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                "OnlyFans signing rules need static_param, checksum_indexes and "
                f"checksum_constant ({exc})"
            ) from exc
        app_token = data.get("app_token") or data.get("app-token")
        if not isinstance(app_token, str) or not app_token:
            raise ConfigError("OnlyFans signing rules lack app_token")
        fmt = data.get("format") or data.get("sign_format")
        if not isinstance(fmt, str) or "{}" not in fmt:
            prefix = data.get("prefix", data.get("start"))
            suffix = data.get("suffix", data.get("end"))
            if prefix is None or suffix is None:
                raise ConfigError("OnlyFans signing rules need format, or prefix and suffix")
            fmt = f"{prefix}:{{}}:{{:x}}:{suffix}"
        if any(i < 0 or i >= 40 for i in indexes):
            raise ConfigError("OnlyFans signing rules: checksum_indexes must be 0..39")
        return cls(
            static_param=static,
            checksum_indexes=indexes,
            checksum_constant=constant,
            app_token=app_token,
            format=fmt,
        )

    def sign(self, path: str, user_id: str, *, now_ms: int | None = None) -> dict[str, str]:
        """The ``sign``/``time``/``app-token`` headers for ``path`` (with its query)."""
        stamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
        message = "\n".join([self.static_param, stamp, path, user_id])
        digest = hashlib.sha1(message.encode(), usedforsecurity=False).hexdigest()
        checksum = sum(ord(digest[i]) for i in self.checksum_indexes) + self.checksum_constant
        # ``{:x}`` formats the checksum itself; a plain ``{}`` takes it in hex already
        value: int | str = abs(checksum) if "{:x}" in self.format else f"{abs(checksum):x}"
        return {
            "sign": self.format.format(digest, value),
            "time": stamp,
            "app-token": self.app_token,
        }


async def load_rules(source: str | None, session: HttpSession) -> SigningRules:
    """Rules from a file path or an http(s) URL the user configured."""
    if not source:
        raise SigningRulesMissingError(
            "OnlyFans requests must be signed; set MEDIAVAULT_ONLYFANS_RULES to the path "
            "or URL of a dynamic-rules JSON you trust"
        )
    if source.startswith(("http://", "https://")):
        data: Any = await session.get_json(source)
    else:
        try:
            text = await asyncio.to_thread(_read_text, source)
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read OnlyFans signing rules {source}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError("OnlyFans signing rules must be a JSON object")
    return SigningRules.from_mapping(data)


def _read_text(source: str) -> str:
    return Path(source).expanduser().read_text(encoding="utf-8")
