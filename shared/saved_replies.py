"""Saved replies (issue #15 item 4): answers the hub team writes once, in French and in Arabic, that an
advisor picks and completes. A saved reply is plain text with variables in braces, filled in when it
is used; every variable is one of `VARIABLES`, checked when the reply is saved, so a typo is refused
with its place instead of reaching a citizen as `{agnce}`. `{{` and `}}` write a brace.

The result is an ordinary reply: it goes through the formatter like any text the advisor typed.
The hub keeps the catalogue (`GET`/`POST /v1/saved-replies`) and replicates it to every node through
the `SAVED_REPLIES_BUCKET` key-value bucket (key: the reply's id), so advisors use it offline too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import msgspec

__all__ = [
    "LANGUAGES",
    "SAVED_REPLIES_BUCKET",
    "VARIABLES",
    "Language",
    "SavedReply",
    "SavedReplyError",
    "SavedReplyRecord",
    "fill",
    "parse",
]

Language = Literal["fr", "ar"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
VARIABLES: Mapping[str, str] = {
    "auteur": "the name the person shows on the network",
    "agence": "the agency's name",
    "conseiller": "the advisor's first name",
    "telephone": "the agency's public phone number",
    "lien": "a link the advisor gives (an offer, a form, the private channel)",
    "horaires": "the agency's opening hours, in words",
}
MAX_LENGTH = 5_000
SAVED_REPLIES_BUCKET = "saved_replies"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class SavedReplyError(ValueError):
    """What is wrong with a saved reply, and where (`field`, and the character offset when known)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SavedReply:
    reply_id: str
    language: str
    title: str
    body: str
    variables: tuple[str, ...]  # in order of first use


class SavedReplyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A saved reply as the hub replicates it (each node checks it again with `parse`)."""

    id: str
    language: str
    title: str
    body: str
    version: int  # raised at each change: a node keeps the latest


def parse(reply_id: str, language: str, title: str, body: str) -> SavedReply:
    """A saved reply, checked: its language, a title, a body within bounds and known variables."""
    if language not in LANGUAGES:
        raise SavedReplyError("language", f"a saved reply is in {' or '.join(LANGUAGES)}, not {language!r}")
    if not title.strip():
        raise SavedReplyError("title", "a saved reply needs a title")
    if not body.strip():
        raise SavedReplyError("body", "a saved reply needs a text")
    if len(body) > MAX_LENGTH:
        raise SavedReplyError(
            "body", f"a saved reply has at most {MAX_LENGTH} characters, this one {len(body)}"
        )
    used: list[str] = []
    for match in _TOKEN.finditer(body):
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            continue
        if name is None:
            raise SavedReplyError(
                "body", f"a lone {token!r} at character {match.start()}: write {token * 2} for a brace"
            )
        if name not in VARIABLES:
            known = ", ".join(f"{{{v}}}" for v in VARIABLES)
            raise SavedReplyError(
                "body", f"unknown variable {{{name}}} at character {match.start()}; known: {known}"
            )
        if name not in used:
            used.append(name)
    return SavedReply(reply_id, language, title.strip(), body, tuple(used))


def fill(reply: SavedReply, values: Mapping[str, str]) -> str:
    """The reply's text with its variables filled in. A variable without a value is refused naming
    it: a half-filled answer is never sent."""
    missing = [name for name in reply.variables if not values.get(name, "").strip()]
    if missing:
        raise SavedReplyError("values", "no value for " + ", ".join(f"{{{name}}}" for name in missing))

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values[match.group(1)].strip()

    return _TOKEN.sub(replace, reply.body)
