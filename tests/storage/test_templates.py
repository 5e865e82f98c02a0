from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediavault.errors import InvalidTemplateError
from mediavault.models import Format, MediaItem
from mediavault.storage import (
    DEFAULT_TEMPLATE,
    TEMPLATE_FIELDS,
    fields_for,
    render_template,
    sanitize_component,
    validate_template,
)
from mediavault.storage.templates import MAX_COMPONENT_BYTES, safe_title

RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {
    f"lpt{i}" for i in range(1, 10)
}


def item(**overrides: object) -> MediaItem:
    values: dict[str, object] = {
        "platform": "generic",
        "id": "abc123",
        "title": "My Clip: part 1/2",
        "url": "http://127.0.0.1/x",
        "formats": (Format(format_id="0", url="http://127.0.0.1/x.mp4"),),
        "uploader": "Some One",
        "upload_date": "20240131",
        "playlist": "Feed",
        "playlist_index": 7,
        "duration": 12.6,
    }
    values.update(overrides)
    return MediaItem.model_validate(values)


def test_default_template() -> None:
    key = render_template(DEFAULT_TEMPLATE, fields_for(item(), ext="mp4"))
    assert key == "Some One/20240131 - My Clip_ part 1_2 [abc123].mp4"


def test_all_documented_fields_render() -> None:
    fields = fields_for(item(), ext=".mkv")
    assert set(fields) == set(TEMPLATE_FIELDS)
    template = "/".join("{" + name + "}" for name in TEMPLATE_FIELDS)
    key = render_template(template, fields)
    parts = key.split("/")
    assert parts[0] == "abc123" and "mkv" in parts
    assert fields["year"] == "2024" and fields["month"] == "01" and fields["day"] == "31"
    assert fields["duration"] == "12"
    assert len(fields["random"]) == 8


def test_missing_metadata_becomes_na() -> None:
    fields = fields_for(item(uploader=None, upload_date=None, playlist=None, playlist_index=None),
                        ext="mp4")
    assert render_template("{uploader}/{upload_date}/{playlist}-{playlist_index:03d}.{ext}",
                           fields) == "NA/NA/NA-NA.mp4"


def test_format_specs() -> None:
    fields = fields_for(item(), ext="mp4")
    assert render_template("{playlist_index:03d} - {id}.{ext}", fields) == "007 - abc123.mp4"
    with pytest.raises(InvalidTemplateError):
        render_template("{title:d}", fields)


def test_safe_title() -> None:
    assert safe_title("Héllo, Wörld! — ★ 2024") == "Hello_World_2024"
    assert safe_title("★★★") == "untitled"
    assert render_template("{safe_title}.{ext}", fields_for(item(), ext="mp4")) == (
        "My_Clip_part_1_2.mp4"
    )


@pytest.mark.parametrize(
    "template",
    ["{nope}", "{title", "title}", "{title.__class__}", "{title[0]}", "{title!r}", "{}",
     "{0}", "   ", "{title:{id}}"],
)
def test_bad_templates(template: str) -> None:
    with pytest.raises(InvalidTemplateError):
        validate_template(template)
    with pytest.raises(InvalidTemplateError):
        render_template(template, fields_for(item(), ext="mp4"))


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("../../{id}", {"id": "x"}, "x"),
        ("/etc/{id}", {"id": "passwd"}, "etc/passwd"),
        ("{id}", {"id": "../../etc/passwd"}, "_.._etc_passwd"),
        ("{id}", {"id": ".."}, "_"),
        ("{a}/{b}", {"a": "..", "b": "x"}, "_/x"),
        ("{a}/{b}", {"a": "", "b": "x"}, "_/x"),
        ("{id}.{ext}", {"id": "CON", "ext": "mp4"}, "_CON.mp4"),
        ("{id}", {"id": "nul.txt"}, "_nul.txt"),
        ("{id}", {"id": "a\x00b\nc\td"}, "abcd"),
        ("{id}", {"id": 'a<b>c:d"e|f?g*h'}, "a_b_c_d_e_f_g_h"),
        ("{id}", {"id": "C:\\Windows\\system32"}, "C__Windows_system32"),
        ("a\\..\\{id}", {"id": "x"}, "a/x"),
        ("{id}", {"id": "  .hidden.  "}, "hidden"),
        ("{{literal}}/{id}", {"id": "x"}, "{literal}/x"),
    ],
)
def test_escapes_are_neutralised(template: str, values: dict[str, str], expected: str) -> None:
    assert render_template(template, values) == expected


def test_empty_result_is_an_error() -> None:
    with pytest.raises(InvalidTemplateError, match="empty"):
        render_template(".././/", {})


def test_long_names_keep_their_extension() -> None:
    key = render_template("{title}.{ext}", {"title": "é" * 300, "ext": "mp4"})
    assert key.endswith(".mp4")
    assert len(key.encode()) <= MAX_COMPONENT_BYTES
    key = render_template("{title}", {"title": "x" * 1000})
    assert len(key) == MAX_COMPONENT_BYTES


def test_sanitize_component_never_empty() -> None:
    assert sanitize_component("") == "_"
    assert sanitize_component(" . ") == "_"
    assert sanitize_component("ok name") == "ok name"


# property-based ---------------------------------------------------------------------

_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400
) | st.sampled_from(
    ["..", ".", "/", "\\", "../..", "CON", "nul", "com1.txt", "\x00", "/etc/passwd", "~", ""]
)
_literals = st.text(alphabet=st.sampled_from(list("ab./\\ \x00:-_")), max_size=12)


@st.composite
def templates(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    names = draw(st.lists(st.sampled_from(sorted(TEMPLATE_FIELDS)), min_size=1, max_size=5))
    parts = []
    for name in names:
        literal = draw(_literals).replace("{", "").replace("}", "")
        parts.append(literal + "{" + name + "}")
    parts.append(draw(_literals))
    values = {name: draw(_values) for name in TEMPLATE_FIELDS}
    return "".join(parts), values


def _check_key(key: str, root: Path) -> None:
    assert key and "\x00" not in key
    assert not key.startswith("/") and not PurePosixPath(key).is_absolute()
    assert "\\" not in key
    for part in key.split("/"):
        assert part not in ("", ".", "..")
        assert not part.startswith(".")
        assert len(part.encode()) <= MAX_COMPONENT_BYTES
        assert part.split(".")[0].strip().lower() not in RESERVED
        assert part == part.strip(" ") and not part.endswith(".")
    resolved = Path(os.path.normpath(root / key))
    assert resolved.is_relative_to(root)


@settings(max_examples=300, deadline=None)
@given(templates())
def test_rendered_keys_are_always_safe(case: tuple[str, dict[str, str]]) -> None:
    template, values = case
    try:
        key = render_template(template, values)
    except InvalidTemplateError as exc:
        pytest.fail(f"a template with fields must always render: {exc}")
    _check_key(key, Path("/srv/media"))
    with_values = [seg for seg in template.replace("\\", "/").split("/") if "{" in seg]
    assert len(key.split("/")) >= len(with_values)  # values never vanish


@settings(max_examples=300, deadline=None)
@given(_values)
def test_sanitized_components_are_always_safe(text: str) -> None:
    part = sanitize_component(text)
    _check_key(part, Path("/srv/media"))
    assert "/" not in part
