"""mediavault: a self-hosted media archiving engine.

::

    import mediavault

    async with mediavault.Client(output_dir="media") as mv:
        results = await mv.download("https://example.com/video")
"""

from mediavault import errors
from mediavault.client import Client, PlaylistItems
from mediavault.config import Settings, get_settings
from mediavault.errors import MediavaultError
from mediavault.models import (
    AudioFormat,
    Collection,
    CollectionEntry,
    Creator,
    DownloadOptions,
    DownloadResult,
    Format,
    ItemStatus,
    MediaItem,
    Post,
    Progress,
    Protocol,
    Subtitle,
    Thumbnail,
)

__version__ = "0.1.0"

__all__ = [
    "AudioFormat",
    "Client",
    "Collection",
    "CollectionEntry",
    "Creator",
    "DownloadOptions",
    "DownloadResult",
    "Format",
    "ItemStatus",
    "MediaItem",
    "MediavaultError",
    "PlaylistItems",
    "Post",
    "Progress",
    "Protocol",
    "Settings",
    "Subtitle",
    "Thumbnail",
    "__version__",
    "errors",
    "get_settings",
]
