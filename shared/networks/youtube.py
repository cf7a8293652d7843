"""YouTube video snippet: description ≤5,000 UTF-8 bytes, title ≤100 characters, no `<` `>`,
tags ≤500 characters in all.

The API rejects `<` and `>` in the description and title, so they are replaced by the look-alike
single guillemets `‹` `›` (three bytes each in UTF-8, which the byte count includes). The
post's text is the description; the title is the post's `title` (checked and, unless the policy
is `reject`, shortened) or, without one, the text's first line (`video_title`). `snippet.tags`
are the post's `tags` only ("Videos" resource: the list counts at most 500 characters, commas
between tags included, a tag with a space counted with the quotes around it). A video is required.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from . import fitting
from .base import NetworkRules, Request
from .model import Policy, RuleError
from .text import utf8_len, utf16_len

__all__ = ["YouTubeRules", "tags_length", "video_title", "youtube_safe"]

_SAFE = str.maketrans({"<": "‹", ">": "›"})


def youtube_safe(text: str) -> str:
    """`text` without the `<` and `>` YouTube refuses."""
    return text.translate(_SAFE)


def video_title(description: str) -> str:
    """The title of a video posted without one: the description's first line, at most 100
    characters, without `<` `>`."""
    line = next((line.strip() for line in description.splitlines() if line.strip()), "Vidéo")
    line = youtube_safe(line)
    return line if len(line) <= 100 else line[:99].rstrip() + "…"


def tags_length(tags: Sequence[str]) -> int:
    """`snippet.tags` as YouTube counts it: commas between tags, quotes around a tag with a space."""
    return sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(len(tags) - 1, 0)


class YouTubeRules(NetworkRules):
    """YouTube video description and title rules."""

    name: ClassVar[str] = "youtube"
    unit: ClassVar[str] = "bytes"
    default_policy: ClassVar[Policy] = "truncate"
    takes_title: ClassVar[bool] = True
    takes_tags: ClassVar[bool] = True

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

    def derived_title(self, body: str) -> str | None:
        """The title is required: the text's first line."""
        return video_title(body)

    def render_tags(self, tags: Sequence[str]) -> tuple[list[str], list[RuleError]]:
        """At most 500 characters in all, counted as YouTube does (`tags_length`)."""
        cap = self.options.youtube.max_tags_characters
        length = tags_length(tags)
        if length > cap:
            return [], [
                RuleError("tags_too_long", f"youtube: tags of {length} characters in all, at most {cap}")
            ]
        return list(tags), []

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
