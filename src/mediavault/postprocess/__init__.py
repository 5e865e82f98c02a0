"""Post-processing with ffmpeg: each operation a small unit, run as a cancellable child
process in its own process group, writing via a temporary name.

- ``merge`` / ``remux`` (:mod:`.merge`)
- ``extract_audio`` (:mod:`.audio`): mp3, m4a, opus, flac, wav, aac; 96k-320k
- ``convert_subtitle`` / ``embed_subtitles`` (:mod:`.subtitles`): srt, vtt, ass
- ``to_jpeg`` / ``embed_thumbnail`` (:mod:`.thumbnails`)
- ``embed_metadata`` (:mod:`.metadata`)
- ``probe`` (:mod:`.ffmpeg`): what ffprobe sees in a file
"""

from mediavault.postprocess.audio import AUDIO_TARGETS, extract_audio
from mediavault.postprocess.ffmpeg import MediaInfo, Stream, probe, run_ffmpeg
from mediavault.postprocess.merge import merge, merge_container, remux
from mediavault.postprocess.metadata import (
    embed_metadata,
    has_own_metadata,
    metadata_for,
    supports_metadata,
)
from mediavault.postprocess.subtitles import (
    SUBTITLE_FORMATS,
    can_embed_subtitles,
    convert_subtitle,
    embed_subtitles,
)
from mediavault.postprocess.thumbnails import can_embed_thumbnail, embed_thumbnail, to_jpeg

__all__ = [
    "AUDIO_TARGETS",
    "SUBTITLE_FORMATS",
    "MediaInfo",
    "Stream",
    "can_embed_subtitles",
    "can_embed_thumbnail",
    "convert_subtitle",
    "embed_metadata",
    "embed_subtitles",
    "embed_thumbnail",
    "extract_audio",
    "has_own_metadata",
    "merge",
    "merge_container",
    "metadata_for",
    "probe",
    "remux",
    "run_ffmpeg",
    "supports_metadata",
    "to_jpeg",
]
