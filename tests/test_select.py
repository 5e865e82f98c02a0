"""Format selection over hand-built items (yt-dlp's selector and sorter do the work)."""

from __future__ import annotations

import pytest

from mediavault.errors import DRMProtectedError, FormatNotAvailableError, InputError
from mediavault.models import Format, MediaItem, Protocol
from mediavault.select import resolve_spec, select_formats


def fmt(format_id: str, **kw: object) -> Format:
    return Format(format_id=format_id, url=f"http://127.0.0.1/{format_id}", **kw)  # type: ignore[arg-type]


V360 = fmt(
    "v360", height=360, width=640, vcodec="avc1", acodec="none", tbr=500, protocol=Protocol.DASH
)
V720 = fmt(
    "v720", height=720, width=1280, vcodec="avc1", acodec="none", tbr=1500, protocol=Protocol.DASH
)
V1080 = fmt(
    "v1080", height=1080, width=1920, vcodec="avc1", acodec="none", tbr=4000, protocol=Protocol.DASH
)
A128 = fmt("a128", vcodec="none", acodec="mp4a", abr=128, ext="m4a", protocol=Protocol.DASH)
A64 = fmt("a64", vcodec="none", acodec="mp4a", abr=64, ext="m4a", protocol=Protocol.DASH)
C240 = fmt("c240", height=240, width=426, vcodec="avc1", acodec="mp4a", tbr=300)


def item(*formats: Format, drm: bool = False) -> MediaItem:
    return MediaItem(
        platform="test", id="1", title="t", url="http://127.0.0.1/", formats=formats, drm=drm
    )


def ids(formats: list[Format]) -> list[str]:
    return [f.format_id for f in formats]


FULL = item(V360, V720, V1080, A64, A128, C240)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("best", ["v1080", "a128"]),
        ("1080p", ["v1080", "a128"]),
        ("720p", ["v720", "a128"]),
        ("480p", ["v360", "a128"]),
        ("360P", ["v360", "a128"]),
        ("144p", ["c240"]),  # nothing that small: the smallest there is
        ("audio", ["a128"]),
        ("worst", ["c240"]),
        ("c240", ["c240"]),  # a format id
        ("bv[height<=720]+wa", ["v720", "a64"]),  # a yt-dlp spec
        ("b[height<=300]", ["c240"]),
    ],
)
def test_specs(spec: str, expected: list[str]) -> None:
    assert ids(select_formats(FULL, spec)) == expected


def test_audio_only_prefers_audio_formats_then_combined() -> None:
    assert ids(select_formats(FULL, "best", audio_only=True)) == ["a128"]
    assert ids(select_formats(item(C240, V720), "best", audio_only=True)) == ["c240"]


def test_single_direct_file_with_unknown_codecs() -> None:
    direct = item(fmt("mp4"))
    assert ids(select_formats(direct, "best")) == ["mp4"]
    assert ids(select_formats(direct, "720p")) == ["mp4"]


def test_drm_formats_are_never_chosen() -> None:
    locked = V1080.model_copy(update={"drm": True})
    chosen = select_formats(item(V360, locked, A128), "best")
    assert ids(chosen) == ["v360", "a128"]
    with pytest.raises(FormatNotAvailableError):
        select_formats(item(V360, locked, A128), "v1080")


def test_all_drm_is_drm_protected() -> None:
    locked = [f.model_copy(update={"drm": True}) for f in (V720, A128)]
    with pytest.raises(DRMProtectedError) as info:
        select_formats(item(*locked), "best")
    assert info.value.code == "drm_protected"
    with pytest.raises(DRMProtectedError):
        select_formats(item(V720, drm=True), "best")


@pytest.mark.parametrize("spec", ["bv*[height<=", "best[", "", "   ", "b+"])
def test_invalid_specs_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError) as info:
        select_formats(FULL, spec)
    assert info.value.expected


def test_unmatched_spec_names_what_exists() -> None:
    with pytest.raises(FormatNotAvailableError, match="available: v360"):
        select_formats(FULL, "best[ext=webm]")


def test_resolve_spec_shorthands() -> None:
    assert resolve_spec("best") == "bv*+ba/b"
    assert resolve_spec("720p").startswith("bv*[height<=720]+ba")
    assert resolve_spec("best", audio_only=True) == "ba/b"
    assert resolve_spec("18") == "18"
