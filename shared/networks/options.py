"""Limits that vary by instance or that the networks document badly: configuration, with defaults.

Each default cites where it comes from (see `shared/design/network-rules.md`). A deployment
overrides them with `dataclasses.replace`, for example
`NetworkOptions(mastodon=MastodonOptions(max_characters=5000))` for an instance whose
`GET /api/v2/instance` reports `configuration.statuses.max_characters = 5000`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .weighted import TWITTER_V3, TwitterTextConfig

DEFAULT_MAX_THREAD_PARTS = 10

__all__ = [
    "DEFAULT_MAX_THREAD_PARTS",
    "BlueskyOptions",
    "FacebookOptions",
    "InstagramOptions",
    "LinkedInOptions",
    "MastodonOptions",
    "NetworkOptions",
    "SlideShareOptions",
    "TelegramOptions",
    "ThreadsOptions",
    "XOptions",
    "YouTubeOptions",
]


@dataclass(frozen=True, slots=True)
class XOptions:
    """X: twitter-text config v3 (280 weighted); ≤4 photos or 1 GIF or 1 video."""

    config: TwitterTextConfig = TWITTER_V3
    max_images: int = 4


@dataclass(frozen=True, slots=True)
class MastodonOptions:
    """Mastodon: per instance, from `/api/v2/instance` → `configuration.statuses`."""

    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4


@dataclass(frozen=True, slots=True)
class BlueskyOptions:
    """Bluesky: `app.bsky.feed.post` text is ≤300 graphemes and ≤3000 UTF-8 bytes; ≤4 images."""

    max_graphemes: int = 300
    max_bytes: int = 3000
    max_images: int = 4


@dataclass(frozen=True, slots=True)
class LinkedInOptions:
    """LinkedIn: 3000 characters of commentary (secondary sources); ≤20 images in a multi-image post."""

    max_characters: int = 3000
    max_images: int = 20


@dataclass(frozen=True, slots=True)
class FacebookOptions:
    """Facebook page feed: no documented cap; 63,206 is folklore, hence configurable."""

    max_characters: int = 63_206


@dataclass(frozen=True, slots=True)
class InstagramOptions:
    """Instagram: caption 2,200; 5 hashtags since Dec 2025 (the API reference still says 30)."""

    max_characters: int = 2200
    max_hashtags: int = 5
    max_mentions: int = 20
    max_carousel_items: int = 10


@dataclass(frozen=True, slots=True)
class ThreadsOptions:
    """Threads: 500 characters, counted here as grapheme clusters with a safety margin.

    Meta's wording about emoji is ambiguous, so `safety_margin` graphemes are kept free;
    ≤5 distinct links per post (enforced since 2025-12-22).
    """

    max_characters: int = 500
    safety_margin: int = 10
    max_links: int = 5
    max_carousel_items: int = 10


@dataclass(frozen=True, slots=True)
class TelegramOptions:
    """Telegram Bot API: message 4,096, caption 1,024, counted here in UTF-16 code units."""

    max_message: int = 4096
    max_caption: int = 1024


@dataclass(frozen=True, slots=True)
class YouTubeOptions:
    """YouTube video snippet: title ≤100 characters, description ≤5,000 UTF-8 bytes, tags ≤500
    characters in all."""

    max_title_characters: int = 100
    max_description_bytes: int = 5000
    max_tags_characters: int = 500


@dataclass(frozen=True, slots=True)
class SlideShareOptions:
    """SlideShare presentation: title, description and tags; no documented cap (U), so configurable."""

    max_title_characters: int = 255
    max_description_characters: int = 3000
    max_tags: int = 20


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """Every network's configurable limits, in one value a service builds once from its settings.

    `thread_numbering` is the suffix added to each part of a thread (`{i}` and `{n}` are
    replaced); it is kept on its own line so it never joins a link or a hashtag.
    `max_thread_parts` is the most parts a thread may have on any one network
    (`RELAIS_MAX_THREAD_PARTS`): a longer thread floods followers and spends the page's rate
    limit, so the post is refused (`too_many_parts`) rather than sent.
    """

    x: XOptions = field(default_factory=XOptions)
    mastodon: MastodonOptions = field(default_factory=MastodonOptions)
    bluesky: BlueskyOptions = field(default_factory=BlueskyOptions)
    linkedin: LinkedInOptions = field(default_factory=LinkedInOptions)
    facebook: FacebookOptions = field(default_factory=FacebookOptions)
    instagram: InstagramOptions = field(default_factory=InstagramOptions)
    threads: ThreadsOptions = field(default_factory=ThreadsOptions)
    telegram: TelegramOptions = field(default_factory=TelegramOptions)
    youtube: YouTubeOptions = field(default_factory=YouTubeOptions)
    slideshare: SlideShareOptions = field(default_factory=SlideShareOptions)
    thread_numbering: str = "\n{i}/{n}"
    max_thread_parts: int = DEFAULT_MAX_THREAD_PARTS
