"""Bluesky: 300 grapheme clusters and 3000 UTF-8 bytes, links and tags as facets.

`app.bsky.feed.post` limits its text twice (`maxGraphemes` 300, `maxLength` 3000 bytes);
both must hold for every part. Links, hashtags and cashtags are only clickable through
facets, computed per part on its exact text (`bluesky_facets.py`).
"""

from __future__ import annotations

from typing import ClassVar

from .base import NetworkRules, Request, media_errors
from .bluesky_facets import detect, detect_facets
from .model import Entity, Limit, Policy, RuleError
from .text import grapheme_count, utf8_len

__all__ = ["BlueskyRules"]


class BlueskyRules(NetworkRules):
    """Bluesky post rules."""

    name: ClassVar[str] = "bluesky"
    unit: ClassVar[str] = "graphemes"
    can_thread: ClassVar[bool] = True
    default_policy: ClassVar[Policy] = "thread"
    takes_captions: ClassVar[bool] = True  # `app.bsky.embed.video` captions: WebVTT blobs

    @property
    def limit(self) -> int:
        """300 graphemes."""
        return self.options.bluesky.max_graphemes

    def measure(self, text: str) -> int:
        """Grapheme clusters."""
        return grapheme_count(text)

    def extract(self, text: str) -> list[Entity]:
        """Links (with or without scheme), hashtags, cashtags and handles, as Bluesky detects them."""
        return [entity for entity, _ in detect(text)]

    def other_limits(self, text: str, request: Request) -> list[Limit]:
        """The byte limit of the record's `text` field."""
        size, limit = utf8_len(text), self.options.bluesky.max_bytes
        return [Limit("bytes", limit, size, size <= limit)]

    def check(self, request: Request) -> list[RuleError]:
        """≤4 images, or one video."""
        return media_errors(self.name, request.media, images=self.options.bluesky.max_images)

    def facets(self, sent: str, request: Request) -> list[dict[str, object]] | None:
        """Facets of this exact part; mentions only for handles in `request.mentions`."""
        dids = {handle.lower().lstrip("@"): did for handle, did in request.mentions.items()}
        return detect_facets(sent, dids) or None
