"""Platform adapters. The explicit order matters: native adapters first, yt-dlp last."""

from __future__ import annotations

import importlib

__all__ = ["ADAPTER_MODULES", "load_adapters"]

# Each module registers its adapter class(es) on import, in this order.
ADAPTER_MODULES = (
    "mediavault.platforms.onlyfans",
    "mediavault.platforms.fansly",
    "mediavault.platforms.loyalfans",
    "mediavault.platforms.tiktok",
    "mediavault.platforms.direct",  # plain media files, without yt-dlp
    "mediavault.platforms.ytdlp",  # generic: always last
)

_loaded = False


def load_adapters() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in ADAPTER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real import error inside the module
                raise
