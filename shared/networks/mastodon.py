"""Mastodon: grapheme clusters over content warning plus text, links at 23, per-instance limit.

As `StatusLengthValidator` does: URLs with a scheme (found with Mastodon's widened
twitter-text grammar, `config/initializers/twitter_regex.rb`) count as 23 characters
(`characters_reserved_per_url`), `@user@domain` counts as `@user`, and the content warning
is counted together with the text. Scheme-less domains count in full: Mastodon does not
link them. The limit is the instance's `configuration.statuses.max_characters`.
"""

from __future__ import annotations

from typing import ClassVar

import regex

from .base import NetworkRules, Request, media_errors
from .extract import (
    LATIN_ACCENTS,
    WHITE_SPACE,
    UrlGrammar,
    extract_hashtags,
    extract_urls,
    remove_overlapping,
)
from .model import Entity, Policy, RuleError
from .text import grapheme_count

__all__ = ["MASTODON_GRAMMAR", "MastodonRules", "countable_text", "extract_mastodon_mentions"]

_UCHARS = (
    r"\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF\U00010000-\U0001FFFD\U00020000-\U0002FFFD"
    r"\U00030000-\U0003FFFD\U00040000-\U0004FFFD\U00050000-\U0005FFFD\U00060000-\U0006FFFD"
    r"\U00070000-\U0007FFFD\U00080000-\U0008FFFD\U00090000-\U0009FFFD\U000A0000-\U000AFFFD"
    r"\U000B0000-\U000BFFFD\U000C0000-\U000CFFFD\U000D0000-\U000DFFFD\U000E1000-\U000EFFFD"
    r"\uE000-\uF8FF\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"
)
MASTODON_GRAMMAR = UrlGrammar(
    name="mastodon",
    schemes="(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://",
    path_char=rf"[^{WHITE_SPACE}<>()?]",
    path_ending=rf"[^{WHITE_SPACE}()?!*\"'「」<>;:=,.$%\[\]~&|@]",
    query_char=rf"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@\^{_UCHARS}]",
    query_ending=rf"[a-z0-9_&=#/\-{_UCHARS}]",
)

# Account::MENTION_RE: a local name, optionally @domain.
_MENTION = regex.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@(\w+(?:[.-]+\w+)*))?)", regex.IGNORECASE
)
_END_MENTION = regex.compile(rf"[@＠]|[{LATIN_ACCENTS}]|://")
_MAX_DOMAIN = 253


def extract_mastodon_mentions(text: str) -> list[Entity]:
    """`@user` and `@user@domain` mentions; `value` is the local name (what Mastodon counts)."""
    if "@" not in text:
        return []
    found = []
    for match in _MENTION.finditer(text):
        domain = match.group(3) or ""
        if _END_MENTION.match(text, match.end()) or len(domain) > _MAX_DOMAIN:
            continue
        found.append(Entity("mention", match.start(), match.end(), match.group(2)))
    return found


def countable_text(text: str, url_length: int = 23) -> str:
    """`text` with each linkable URL replaced by `url_length` x's and each `@user@domain` by `@user`."""
    if not text.strip():
        return ""
    urls = extract_urls(text, without_protocol=False, grammar=MASTODON_GRAMMAR)
    entities = remove_overlapping([*urls, *extract_mastodon_mentions(text)])
    if not entities:
        return text
    pieces, cursor = [], 0
    for entity in entities:
        pieces.append(text[cursor : entity.start])
        pieces.append("x" * url_length if entity.kind == "url" else f"@{entity.value}")
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces)


class MastodonRules(NetworkRules):
    """Mastodon status rules for one instance's configuration."""

    name: ClassVar[str] = "mastodon"
    unit: ClassVar[str] = "graphemes"
    can_thread: ClassVar[bool] = True
    default_policy: ClassVar[Policy] = "thread"
    # A reply starts with `@user ` (services/dispatcher/adapters/mastodon.py), counted without its
    # domain: `@`, a name of up to 30 characters (Mastodon's `Account::USERNAME_LENGTH_LIMIT`; a
    # longer remote name makes the network refuse the reply in words), a space.
    reply_room: ClassVar[int] = 32

    @property
    def limit(self) -> int:
        """The instance's `max_characters` (500 by default)."""
        return self.options.mastodon.max_characters

    def measure(self, text: str, content_warning: str = "") -> int:
        """Graphemes of the content warning plus the countable text."""
        url_length = self.options.mastodon.characters_reserved_per_url
        return grapheme_count(content_warning + countable_text(text, url_length))

    def measure_request(self, text: str, request: Request) -> int:
        """Every status of a thread carries the content warning, so every chunk counts it."""
        return self.measure(text, request.content_warning)

    def extract(self, text: str) -> list[Entity]:
        """Linkable URLs (with scheme), hashtags and mentions."""
        urls = extract_urls(text, without_protocol=False, grammar=MASTODON_GRAMMAR)
        tags = extract_hashtags(text, check_url_overlap=False)
        return remove_overlapping([*urls, *tags, *extract_mastodon_mentions(text)])

    def check(self, request: Request) -> list[RuleError]:
        """At most `max_media_attachments` attachments, one of them a video."""
        limit = self.options.mastodon.max_media_attachments
        errors = media_errors(self.name, request.media, images=limit)
        if len(request.media) > limit:
            message = f"mastodon: {len(request.media)} attachments, at most {limit}"
            errors.append(RuleError("too_many_media", message))
        return errors
