"""YouTube video snippet: description ≤5,000 UTF-8 bytes, title ≤100 characters, no `<` `>`.

The API rejects `<` and `>` in both fields, so they are replaced by the look-alike
single guillemets `‹` `›` (three bytes each in UTF-8, which the byte count includes). The
post's text is the description; `title` is checked and, unless the policy is `reject`,
shortened. A video is required.
"""

from __future__ import annotations

from typing import ClassVar

from . import fitting
from .base import NetworkRules, Request
from .model import Policy, RuleError
from .text import utf8_len, utf16_len

__all__ = ["YouTubeRules", "youtube_safe"]

_SAFE = str.maketrans({"<": "‹", ">": "›"})


def youtube_safe(text: str) -> str:
    """`text` without the `<` and `>` YouTube refuses."""
    return text.translate(_SAFE)


class YouTubeRules(NetworkRules):
    """YouTube video description and title rules."""

    name: ClassVar[str] = "youtube"
    unit: ClassVar[str] = "bytes"
    default_policy: ClassVar[Policy] = "truncate"

    @property
    def limit(self) -> int:
        """5,000 bytes of description."""
        return self.options.youtube.max_description_bytes

    def measure(self, text: str) -> int:
        """UTF-8 bytes of the description as sent."""
        return utf8_len(youtube_safe(text))

    def encode(self, text: str) -> str:
        """The description with `<` and `>` replaced."""
        return youtube_safe(text)

    def check(self, request: Request) -> list[RuleError]:
        """A video is required; the title must fit."""
        errors = []
        if "video" not in request.media:
            errors.append(RuleError("media_required", "youtube: a video is required"))
        if request.title is not None and not request.title:
            errors.append(RuleError("empty_title", "youtube: the title is empty"))
        return errors

    def render_title(self, title: str, policy: Policy) -> tuple[str | None, list[RuleError]]:
        """The title as sent, or the error that refuses it."""
        cap = self.options.youtube.max_title_characters
        safe = youtube_safe(title)
        if utf16_len(safe) <= cap:
            return safe, []
        if policy == "reject":
            message = f"youtube: title of {utf16_len(safe)} characters, at most {cap}"
            return None, [RuleError("title_too_long", message)]
        fitted = fitting.truncate(safe, lambda chunk: utf16_len(chunk) <= cap, [])
        if fitted.error:
            return None, [RuleError("title_too_long", f"youtube: {fitted.error}")]
        return fitted.chunks[0], []
