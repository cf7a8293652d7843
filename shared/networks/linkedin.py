"""LinkedIn: commentary in the "little" text format, 3,000 characters.

In little text every reserved character (`\\ | { } @ [ ] ( ) < > # * _ ~`) must be
backslash-escaped to stay plain text: an unescaped `(` makes LinkedIn keep only what comes
before it while the API reports success (n8n-io/n8n#10179). One pass of escaping handles
the backslash first by construction. A real hashtag keeps its `#` so that it stays a
HashtagElement; mentions would need organisation URNs, so `@` is always escaped.

The 3,000 limit is only documented by secondary sources, and not whether it applies before
or after escaping: the escaped commentary is measured, in UTF-16 code units (LinkedIn's
Java backend), which over-counts rather than under-counts.
"""

from __future__ import annotations

from typing import ClassVar

import regex

from .base import NetworkRules, Request, media_errors, video_alone_errors
from .model import Entity, Policy, RuleError
from .text import utf16_len

__all__ = ["LinkedInRules", "escape_little_text", "linkedin_hashtags"]

_RESERVED = regex.compile(r"[\\|{}@\[\]()<>#*_~]")
# A LinkedIn hashtag: letters and digits (at least one letter), after a non-word character.
_HASHTAG = regex.compile(r"(?<![\w#])#(?=[\p{L}\p{M}\p{Nd}]*[\p{L}])[\p{L}\p{M}\p{Nd}]+")


def linkedin_hashtags(text: str) -> list[Entity]:
    """Hashtags LinkedIn turns into HashtagElements; `value` is the tag without `#`."""
    if "#" not in text:
        return []
    return [Entity("hashtag", m.start(), m.end(), m.group()[1:]) for m in _HASHTAG.finditer(text)]


def escape_little_text(text: str) -> str:
    """Escape `text` for a little-text commentary, keeping real hashtags as hashtags."""
    if not _RESERVED.search(text):
        return text
    keep = {entity.start for entity in linkedin_hashtags(text)}
    return str(_RESERVED.sub(lambda m: m.group() if m.start() in keep else "\\" + m.group(), text))


class LinkedInRules(NetworkRules):
    """LinkedIn post (commentary) rules."""

    name: ClassVar[str] = "linkedin"
    unit: ClassVar[str] = "characters"
    default_policy: ClassVar[Policy] = "truncate"

    @property
    def limit(self) -> int:
        """3,000 characters."""
        return self.options.linkedin.max_characters

    def measure(self, text: str) -> int:
        """UTF-16 length of the escaped commentary."""
        return utf16_len(escape_little_text(text))

    def encode(self, text: str) -> str:
        """The little-text commentary."""
        return escape_little_text(text)

    def check(self, request: Request) -> list[RuleError]:
        """≤20 images, or one video alone."""
        return media_errors(
            self.name, request.media, images=self.options.linkedin.max_images
        ) or video_alone_errors(self.name, request.media)
