"""Threads: 500 characters, at most 5 distinct links per post, threads of replies.

Meta's documentation is ambiguous about how emoji count, so text is counted in grapheme
clusters with a configurable safety margin. The 5-link cap (enforced since 2025-12-22)
applies to each post, so splitting a thread also spreads the links.
"""

from __future__ import annotations

from typing import ClassVar

from .base import NetworkRules, Request
from .extract import extract_urls
from .model import Limit, Policy, RuleError
from .text import grapheme_count

__all__ = ["ThreadsRules"]


class ThreadsRules(NetworkRules):
    """Threads post rules."""

    name: ClassVar[str] = "threads"
    unit: ClassVar[str] = "graphemes"
    can_thread: ClassVar[bool] = True
    default_policy: ClassVar[Policy] = "thread"

    @property
    def limit(self) -> int:
        """500 minus the safety margin."""
        options = self.options.threads
        return options.max_characters - options.safety_margin

    def measure(self, text: str) -> int:
        """Grapheme clusters."""
        return grapheme_count(text)

    def other_limits(self, text: str, request: Request) -> list[Limit]:
        """Distinct links in this post."""
        count = len({entity.value.casefold() for entity in extract_urls(text)})
        cap = self.options.threads.max_links
        return [Limit("links", cap, count, count <= cap)]

    def check(self, request: Request) -> list[RuleError]:
        """At most `max_carousel_items` media."""
        cap = self.options.threads.max_carousel_items
        if len(request.media) > cap:
            return [RuleError("too_many_media", f"threads: {len(request.media)} media, at most {cap}")]
        return []
