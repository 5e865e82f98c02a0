from __future__ import annotations

import time
from pathlib import Path

import pytest

from mediavault.errors import InputError
from mediavault.net import cookie_header, load_netscape_cookies, parse_cookie_text

FUTURE = int(time.time()) + 86400
PAST = int(time.time()) - 86400


def test_load_netscape_file(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        "# a comment\n"
        "\n"
        f".example.com\tTRUE\t/\tTRUE\t{FUTURE}\tsid\tS1\n"
        f"#HttpOnly_www.example.com\tFALSE\t/app\tFALSE\t{FUTURE}\tauth\tA B\n"
        f".example.com\tTRUE\t/\tFALSE\t{PAST}\told\tgone\n"
        "example.org\tFALSE\t/\tFALSE\t0\tempty\t\n"
    )
    jar = load_netscape_cookies(path)
    cookies = {c.name: c for c in jar}
    assert set(cookies) == {"sid", "auth", "empty"}  # the expired one is dropped
    assert cookies["sid"].secure and cookies["sid"].domain == ".example.com"
    assert cookies["auth"].path == "/app" and cookies["auth"].has_nonstandard_attr("HttpOnly")
    assert cookies["auth"].value == "A B"
    assert cookies["empty"].value == "" and cookies["empty"].expires is None


def test_file_without_header_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text(f"example.com\tFALSE\t/\tFALSE\t{FUTURE}\tk\tv\n")
    assert [c.name for c in load_netscape_cookies(path)] == ["k"]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_netscape_cookies(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a cookie file\n")
    with pytest.raises(InputError, match="line 1"):
        load_netscape_cookies(bad)
    expiry = tmp_path / "expiry.txt"
    expiry.write_text("example.com\tFALSE\t/\tFALSE\tsoon\tk\tv\n")
    with pytest.raises(InputError, match="bad expiry"):
        load_netscape_cookies(expiry)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError):
        load_netscape_cookies(binary)


def test_header_form() -> None:
    jar = parse_cookie_text("Cookie: a=1; b=x=y;  c= 3 ", domain="example.com")
    assert {c.name: c.value for c in jar} == {"a": "1", "b": "x=y", "c": "3"}
    assert {c.domain for c in jar} == {".example.com"}
    assert cookie_header(jar) in ("a=1; b=x=y; c=3",)


def test_text_in_netscape_form() -> None:
    jar = parse_cookie_text(f"example.com\tFALSE\t/\tFALSE\t{FUTURE}\tk\tv")
    assert [(c.name, c.value) for c in jar] == [("k", "v")]


@pytest.mark.parametrize("text", ["", "   ", "novalue", "=x"])
def test_bad_cookie_text(text: str) -> None:
    with pytest.raises(InputError):
        parse_cookie_text(text)
