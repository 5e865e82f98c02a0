"""OnlyFans adapter end to end against the emulated /api2/v2 (tests.emulators.onlyfans)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.errors import (
    CredentialsInvalidError,
    CredentialsMissingError,
    DRMProtectedError,
    RateLimitedError,
    SigningRulesMissingError,
)
from mediavault.models import MediaItem, Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms._signing import SigningRules
from mediavault.platforms.base import adapter_for
from mediavault.platforms.onlyfans import OnlyFansAdapter
from tests.emulators import onlyfans as of_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import (
    assert_emulated_bytes,
    collect,
    context,
    drm_requests,
    fetch_first_format,
    write_rules,
)
from tests.emulators.onlyfans import OnlyFansEmulator

URL = "https://onlyfans.com/alice"
CREDS = {"onlyfans": {"auth": dict(of_emu.AUTH)}}


@pytest.fixture
def emu(media_root: Path) -> Iterator[OnlyFansEmulator]:
    catalog = make_catalog(posts=25, drm_posts=(3,), locked_posts=(4,))
    with OnlyFansEmulator(media_root, catalog) as server:
        yield server


@pytest.fixture
def of_settings(make_settings, emu, tmp_path):
    return make_settings(
        onlyfans_api_base=emu.base_url, onlyfans_rules=str(write_rules(tmp_path)), max_retries=2
    )


def test_registry_picks_onlyfans_and_construction_makes_no_request(of_settings) -> None:
    assert adapter_for(URL) is OnlyFansAdapter
    assert adapter_for("https://onlyfans.com/alice/messages") is OnlyFansAdapter
    assert not OnlyFansAdapter.suitable("https://fansly.com/alice")


def test_signing_matches_independent_implementation() -> None:
    rules = SigningRules.from_mapping(of_emu.RULES)
    headers = rules.sign("/api2/v2/users/me?a=1", "777", now_ms=1_700_000_000_123)
    assert headers["sign"] == of_emu.expected_sign("/api2/v2/users/me?a=1", "1700000000123", "777")
    assert headers["app-token"] == of_emu.RULES["app_token"]
    prefix_rules = SigningRules.from_mapping(
        {**{k: v for k, v in of_emu.RULES.items() if k != "format"}, "prefix": "9", "suffix": "z"}
    )
    sign = prefix_rules.sign("/x", "1", now_ms=5)["sign"]
    assert sign.startswith("9:") and sign.endswith(":z")
    assert sign.split(":")[1] == hashlib.sha1(
        "\n".join([of_emu.RULES["static_param"], "5", "/x", "1"]).encode()
    ).hexdigest()


async def test_profile_and_all_feeds_paged(of_settings, emu) -> None:
    async with HttpSession(of_settings) as session:
        adapter = OnlyFansAdapter(URL, context(of_settings, session, CREDS))
        assert emu.api_requests() == 0  # construction is free
        collection = await adapter.extract()
        assert collection.kind == "profile" and collection.uploader == "alice"
        pairs = await collect(adapter)
    items = [item for item, _ in pairs]
    assert all(isinstance(i, MediaItem) for i in items)
    posts = [i for i in items if i.extra["feed"] == "posts"]
    # 25 videos + 5 photos; the locked video of post 4 is there, without formats
    assert len(posts) == 30
    assert emu.origin.requests["/api2/v2/users/424242/posts"] == 3  # 10 + 10 + 5
    ids = [i.id for i in posts]
    assert ids[:3] == ["100001", "100002", "100003"]
    locked = next(i for i in posts if i.id == "100004")  # this account cannot see it
    assert locked.formats == () and locked.extra["unavailable"]["code"] == "content_locked"
    newest = posts[0]
    assert {f.format_id for f in newest.formats} == {"source", "720p", "240p"}
    assert newest.upload_date == "20231114" and newest.uploader == "alice"
    drm = next(i for i in posts if i.id == "100003")
    assert drm.drm and all(f.drm for f in drm.formats)
    assert {f.protocol for f in drm.formats} == {Protocol.DASH, Protocol.HLS}
    feeds = [i.extra["feed"] for i in items]
    assert feeds.count("messages") == 3 and feeds.count("stories") == 2
    assert feeds.count("highlights") == 1
    photo = next(i for i in posts if i.id == "200005")
    assert photo.kind == "image" and {f.format_id for f in photo.formats} == {"source", "preview"}


async def test_resume_from_any_cursor_gives_the_rest(of_settings, emu) -> None:
    async with HttpSession(of_settings) as session:
        adapter = OnlyFansAdapter(URL, context(of_settings, session, CREDS))
        full = [item.id for item, _ in await collect(adapter)]
        for stop in (5, 11, 29, 30, 33):
            head = await collect(OnlyFansAdapter(URL, context(of_settings, session, CREDS)), limit=stop)
            cursor = head[-1][1]
            rest = await collect(OnlyFansAdapter(URL, context(of_settings, session, CREDS)), cursor)
            assert [i.id for i, _ in head] + [i.id for i, _ in rest] == full, stop


async def test_single_feed_url(of_settings, emu) -> None:
    async with HttpSession(of_settings) as session:
        adapter = OnlyFansAdapter(URL + "/messages", context(of_settings, session, CREDS))
        items = [i for i, _ in await collect(adapter)]
    assert [i.id for i in items] == ["300001", "300002", "300003"]
    assert emu.origin.requests["/api2/v2/users/424242/posts"] == 0


async def test_bad_session_is_401_with_platform_message(of_settings, emu) -> None:
    creds = {"onlyfans": {**of_emu.AUTH, "cookie": "auth_id=777; sess=expired"}}
    async with HttpSession(of_settings) as session:
        adapter = OnlyFansAdapter(URL, context(of_settings, session, creds))
        with pytest.raises(CredentialsInvalidError, match="Please refresh the page"):
            await adapter.extract()


async def test_missing_credentials_and_rules(of_settings, make_settings, emu) -> None:
    async with HttpSession(of_settings) as session:
        with pytest.raises(CredentialsMissingError):
            await OnlyFansAdapter(URL, context(of_settings, session, {})).extract()
        no_token = {"onlyfans": {"cookie": "auth_id=1", "user_agent": "x"}}
        with pytest.raises(CredentialsMissingError, match="token"):
            await OnlyFansAdapter(URL, context(of_settings, session, no_token)).extract()
    bare = make_settings(onlyfans_api_base=emu.base_url)
    async with HttpSession(bare) as session:
        with pytest.raises(SigningRulesMissingError):
            await OnlyFansAdapter(URL, context(bare, session, CREDS)).extract()
    assert emu.api_requests() == 0


async def test_429_is_retried_then_reported(of_settings, emu) -> None:
    emu.rate_limit("/api2/v2/users/me", times=1, retry_after=1)
    async with HttpSession(of_settings) as session:
        collection = await OnlyFansAdapter(URL, context(of_settings, session, CREDS)).extract()
    assert collection.id == "424242"
    assert emu.origin.requests["/api2/v2/users/me"] == 2
    emu.rate_limit("/api2/v2/users/me", times=5, retry_after=1)
    async with HttpSession(of_settings) as session:
        with pytest.raises(RateLimitedError) as info:
            await OnlyFansAdapter(URL, context(of_settings, session, CREDS)).extract()
    assert info.value.retry_after == 1


async def test_media_download_and_drm_skip(of_settings, emu, tmp_path) -> None:
    async with HttpSession(of_settings) as session:
        items = {i.id: i for i, _ in await collect(OnlyFansAdapter(URL, context(of_settings, session, CREDS)))}
        good = items["100001"]
        path = await fetch_first_format(good, of_settings, session, tmp_path)
        assert_emulated_bytes(emu, good.formats[0].url, path)
        with pytest.raises(DRMProtectedError):
            await fetch_first_format(items["100003"], of_settings, session, tmp_path)
    assert drm_requests(emu) == 0  # DRM media is never fetched, let alone decrypted


def test_auth_json_credentials_file(tmp_path) -> None:
    import json

    from mediavault.errors import InputError
    from mediavault.platforms._utils import PlatformAuth, load_credentials_file

    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"onlyfans": {"auth": {"cookie": "auth_id=1; sess=x", "user_agent": "UA", "x_bc": "t"}},
                                "fansly": {"cookie": "c", "user-agent": "UA2"}}))
    creds = load_credentials_file(path)
    auth = PlatformAuth.for_platform(creds, "onlyfans", need_token=True)
    assert auth.token == "t" and "sess=x" not in repr(auth)
    assert PlatformAuth.for_platform(creds, "fansly").user_agent == "UA2"
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"platform": "loyalfans", "auth": {"cookie": "c", "user_agent": "u"}}))
    assert set(load_credentials_file(single)) == {"loyalfans"}
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(InputError):
        load_credentials_file(tmp_path / "bad.json")
