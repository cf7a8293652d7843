"""Instagram: a caption of 2,200 characters under an image or video, few hashtags.

A post without media cannot exist. The API reference still says 30 hashtags while the
product allows 5 since December 2025: 5 by default, configurable. Too many hashtags or
mentions is an error rather than something to cut: which tags matter is the author's call.
Links in captions are not clickable but are kept as text.
"""

from __future__ import annotations

from typing import ClassVar

from .base import NetworkRules, Request
from .extract import extract_hashtags, extract_mentions
from .model import Policy, RuleError
from .text import utf16_len

__all__ = ["InstagramRules"]


class InstagramRules(NetworkRules):
    """Instagram caption rules."""

    name: ClassVar[str] = "instagram"
    unit: ClassVar[str] = "characters"
    default_policy: ClassVar[Policy] = "truncate"

    @property
    def limit(self) -> int:
        """2,200 characters."""
        return self.options.instagram.max_characters

    def measure(self, text: str) -> int:
        """UTF-16 code units (never less than Instagram's count)."""
        return utf16_len(text)

    def check(self, request: Request) -> list[RuleError]:
        """Media required (≤10 in a carousel); hashtag and mention caps."""
        options = self.options.instagram
        errors = []
        if not request.media:
            errors.append(RuleError("media_required", "instagram: a post needs an image or a video"))
        elif len(request.media) > options.max_carousel_items:
            message = f"instagram: {len(request.media)} media, at most {options.max_carousel_items}"
            errors.append(RuleError("too_many_media", message))
        tags = {entity.value.casefold() for entity in extract_hashtags(request.body)}
        if len(tags) > options.max_hashtags:
            message = f"instagram: {len(tags)} hashtags, at most {options.max_hashtags}"
            errors.append(RuleError("too_many_hashtags", message))
        mentions = {entity.value.casefold() for entity in extract_mentions(request.body)}
        if len(mentions) > options.max_mentions:
            message = f"instagram: {len(mentions)} mentions, at most {options.max_mentions}"
            errors.append(RuleError("too_many_mentions", message))
        return errors
