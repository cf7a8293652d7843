"""Telegram (channel posts through the Bot API): 4,096 characters, 1,024 in a caption.

Text is sent plain with an `entities` array (offsets and lengths in UTF-16 code units), so
nothing needs escaping; `escape_markdown_v2` is there for callers that prefer
`parse_mode=MarkdownV2`. Lengths are counted in UTF-16 code units, Telegram's own unit.
"""

from __future__ import annotations

from typing import ClassVar

import regex

from .base import NetworkRules, Request
from .extract import extract_entities
from .model import Policy
from .text import utf16_len, utf16_offsets

__all__ = ["TelegramRules", "escape_markdown_v2", "telegram_entities"]

_MARKDOWN_V2 = regex.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_ENTITY_TYPES = {"url": "url", "hashtag": "hashtag", "mention": "mention", "cashtag": "cashtag"}


def escape_markdown_v2(text: str) -> str:
    """Escape every character MarkdownV2 reserves (`_ * [ ] ( ) ~ ` > # + - = | { } . !` and `\\`)."""
    return str(_MARKDOWN_V2.sub(r"\\\1", text))


def telegram_entities(text: str) -> list[dict[str, object]]:
    """`MessageEntity` objects for the links, hashtags, mentions and cashtags of `text`."""
    found = extract_entities(text)
    if not found:
        return []
    offsets = utf16_offsets(text)
    return [
        {
            "type": _ENTITY_TYPES[entity.kind],
            "offset": offsets[entity.start],
            "length": offsets[entity.end] - offsets[entity.start],
        }
        for entity in found
    ]


class TelegramRules(NetworkRules):
    """Telegram channel message rules."""

    name: ClassVar[str] = "telegram"
    unit: ClassVar[str] = "utf16"
    default_policy: ClassVar[Policy] = "truncate"

    @property
    def limit(self) -> int:
        """4,096 for a text message."""
        return self.options.telegram.max_message

    def limit_for(self, request: Request) -> int:
        """1,024 when the text is the caption of a photo or video."""
        return self.options.telegram.max_caption if request.media else self.limit

    def measure(self, text: str) -> int:
        """UTF-16 code units."""
        return utf16_len(text)

    def facets(self, sent: str, request: Request) -> list[dict[str, object]] | None:
        """The message's `entities`."""
        return telegram_entities(sent) or None
