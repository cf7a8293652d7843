"""Facebook page feed: plain text, a configurable cap (none is documented).

63,206 characters is folklore rather than documentation, hence `FacebookOptions`. Counted
in UTF-16 code units, which is never less than what Facebook could count.
"""

from __future__ import annotations

from typing import ClassVar

from .base import NetworkRules, Request, video_alone_errors
from .model import Policy, RuleError
from .text import utf16_len

__all__ = ["FacebookRules"]


class FacebookRules(NetworkRules):
    """Facebook page post rules."""

    name: ClassVar[str] = "facebook"
    unit: ClassVar[str] = "characters"
    default_policy: ClassVar[Policy] = "truncate"

    @property
    def limit(self) -> int:
        """63,206 characters unless configured otherwise."""
        return self.options.facebook.max_characters

    def measure(self, text: str) -> int:
        """UTF-16 code units."""
        return utf16_len(text)

    def check(self, request: Request) -> list[RuleError]:
        """A video goes alone: the resumable upload publishes one video as its own post."""
        return video_alone_errors(self.name, request.media)
