"""A creator's catalogue, platform-neutral: each emulation renders it in its own shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

EPOCH = 1_700_000_000  # newest post time; older posts are an hour apart


@dataclass
class Media:
    id: int
    kind: str = "video"  # video | photo
    drm: bool = False
    locked: bool = False  # paid content this account cannot see


@dataclass
class Entry:
    """A post, a message or a story."""

    id: int
    ts: int
    text: str
    media: list[Media] = field(default_factory=list)


@dataclass
class Catalog:
    user_id: int
    username: str
    name: str
    posts: list[Entry] = field(default_factory=list)  # newest first
    messages: list[Entry] = field(default_factory=list)
    stories: list[Entry] = field(default_factory=list)
    highlights: dict[int, tuple[str, list[Entry]]] = field(default_factory=dict)

    def all_media(self) -> list[Media]:
        entries = [*self.posts, *self.messages, *self.stories]
        entries += [e for _, stories in self.highlights.values() for e in stories]
        return [m for e in entries for m in e.media]

    def add_post(self, text: str, kinds: tuple[str, ...] = ("video",)) -> Entry:
        """A new newest post (for incremental-sync tests)."""
        newest = self.posts[0].ts if self.posts else EPOCH
        entry = Entry(self._next_id(), newest + 60, text, [Media(self._next_id(), k) for k in kinds])
        self.posts.insert(0, entry)
        return entry

    def _next_id(self) -> int:
        ids = [e.id for e in [*self.posts, *self.messages, *self.stories]]
        ids += [m.id for m in self.all_media()]
        return max(ids, default=1000) + 1


def make_catalog(
    *,
    posts: int = 25,
    messages: int = 3,
    stories: int = 2,
    highlights: int = 1,
    drm_posts: tuple[int, ...] = (),
    locked_posts: tuple[int, ...] = (),
    photo_every: int = 5,
    username: str = "alice",
    user_id: int = 424242,
) -> Catalog:
    """Posts numbered 1..n from newest; post i carries media id 100000+i (and a photo
    every ``photo_every`` posts); ``drm_posts``/``locked_posts`` flag their video."""
    cat = Catalog(user_id, username, username.capitalize() + " Example")
    for i in range(1, posts + 1):
        media = [Media(100_000 + i, "video", drm=i in drm_posts, locked=i in locked_posts)]
        if photo_every and i % photo_every == 0:
            media.append(Media(200_000 + i, "photo"))
        cat.posts.append(Entry(10_000 + i, EPOCH - i * 3600, f"Post number {i}", media))
    for i in range(1, messages + 1):
        cat.messages.append(
            Entry(30_000 + i, EPOCH - i * 1800, f"Message {i}", [Media(300_000 + i, "video")])
        )
    for i in range(1, stories + 1):
        cat.stories.append(Entry(40_000 + i, EPOCH - i * 600, "", [Media(400_000 + i, "photo")]))
    for h in range(1, highlights + 1):
        story = Entry(50_000 + h, EPOCH - h * 86400, "", [Media(500_000 + h, "video")])
        cat.highlights[60_000 + h] = (f"Highlight {h}", [story])
    return cat
