"""SlideShare presentation: one document (PDF, PPTX, ODP), a title, a description and tags.

API v2 `upload_slideshow` takes `slideshow_title` (required), `slideshow_description` and
`slideshow_tags` (comma-separated); its documentation gives no length for any of them (U), so the
caps are configuration (`SlideShareOptions`). The post's text is the description; the title is the
post's `title` or, without one, the text's first line (`presentation_title`). The tags are the
post's `tags` or, without them, the text's hashtags without `#` (`presentation_tags`); more tags
given than `max_tags` are refused. A presentation is required, and only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from . import fitting
from .base import NetworkRules, Request
from .extract import extract_entities
from .model import Policy, RuleError

__all__ = ["SlideShareRules", "presentation_tags", "presentation_title"]

_FALLBACK_TITLE = "Présentation"


def presentation_title(description: str, cap: int = 255) -> str:
    """The description's first non-blank line, at most `cap` characters (an ellipsis if cut)."""
    line = next((line.strip() for line in description.splitlines() if line.strip()), _FALLBACK_TITLE)
    return line if len(line) <= cap else line[: cap - 1].rstrip() + "…"


def presentation_tags(description: str, cap: int = 20) -> list[str]:
    """The description's hashtags without `#`, once each in order, at most `cap`; no commas (the
    separator of `slideshow_tags`)."""
    tags: list[str] = []
    for entity in extract_entities(description):
        tag = entity.value.replace(",", "")
        if entity.kind == "hashtag" and tag and tag not in tags:
            tags.append(tag)
    return tags[:cap]


class SlideShareRules(NetworkRules):
    """SlideShare upload rules."""

    name: ClassVar[str] = "slideshare"
    unit: ClassVar[str] = "characters"
    default_policy: ClassVar[Policy] = "truncate"
    takes_title: ClassVar[bool] = True
    takes_tags: ClassVar[bool] = True

    @property
    def limit(self) -> int:
        """The description's cap (3,000 characters by default, U)."""
        return self.options.slideshare.max_description_characters

    def measure(self, text: str) -> int:
        """Code points, the stricter reading of an undocumented limit."""
        return len(text)

    def check(self, request: Request) -> list[RuleError]:
        """One presentation and nothing else; a given title must not be blank."""
        errors = []
        documents = sum(1 for kind in request.media if kind == "document")
        if documents == 0:
            errors.append(
                RuleError("media_required", "slideshare: a presentation (PDF, PPTX, ODP) is required")
            )
        elif documents > 1 or len(request.media) > documents:
            errors.append(RuleError("too_many_media", "slideshare: one presentation per post, nothing else"))
        if request.title is not None and not request.title.strip():
            errors.append(RuleError("empty_title", "slideshare: the title is empty"))
        return errors

    def derived_title(self, body: str) -> str | None:
        """The title is required: the text's first line."""
        return presentation_title(body, self.options.slideshare.max_title_characters)

    def derived_tags(self, body: str) -> list[str]:
        """The text's hashtags."""
        return presentation_tags(body, self.options.slideshare.max_tags)

    def render_tags(self, tags: Sequence[str]) -> tuple[list[str], list[RuleError]]:
        """At most `max_tags` tags (U: SlideShare documents no cap)."""
        cap = self.options.slideshare.max_tags
        if len(tags) > cap:
            return [], [RuleError("too_many_tags", f"slideshare: {len(tags)} tags, at most {cap}")]
        return list(tags), []

    def render_title(self, title: str, policy: Policy) -> tuple[str | None, list[RuleError]]:
        """The title as sent, or the error that refuses it."""
        cap = self.options.slideshare.max_title_characters
        if len(title) <= cap:
            return title, []
        if policy == "reject":
            return None, [
                RuleError("title_too_long", f"slideshare: title of {len(title)} characters, at most {cap}")
            ]
        fitted = fitting.truncate(title, lambda chunk: len(chunk) <= cap, [])
        if fitted.error:
            return None, [RuleError("title_too_long", f"slideshare: {fitted.error}")]
        return fitted.chunks[0], []
