"""The data the rules hand back: renderings, parts, limits and errors.

These are msgspec Structs so a service can put a `Rendering` straight on the bus or in a
preview response with `msgspec.json.encode`. `Entity` is internal (offsets into a Python
string) and is a plain dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

# What to do with a text that is too long (split it, cut it, or refuse it): defined once, with the
# post's contracts.
from shared.fitting_policy import FittingPolicy as Policy

__all__ = [
    "Entity",
    "EntityKind",
    "Limit",
    "Part",
    "Policy",
    "Rendering",
    "RuleError",
]

EntityKind = Literal["url", "hashtag", "mention", "cashtag"]


class RuleError(msgspec.Struct, frozen=True):
    """Why a post cannot be sent to a network as it is (`code` is stable, `message` is for people)."""

    code: str
    message: str


class Part(msgspec.Struct, frozen=True, omit_defaults=True):
    """One text exactly as it would be sent, its length in the network's unit, and its facets.

    `facets` holds Bluesky richtext facets (UTF-8 byte ranges) or Telegram message entities
    (UTF-16 ranges); it is absent for plain-text networks.
    """

    text: str
    length: int
    facets: list[dict[str, object]] | None = None


class Limit(msgspec.Struct, frozen=True):
    """A secondary limit of a network (bytes, links, hashtags, title…) measured on the text as written."""

    unit: str
    limit: int
    length: int
    fits: bool


class Rendering(msgspec.Struct, frozen=True):
    """What a network would receive for one post.

    `length` and `fits` describe the text as written (after normalisation, with the link);
    `parts` are the texts to send (several for a thread); a non-empty `errors` means the post
    must be refused for this network.
    """

    network: str
    unit: str
    limit: int
    length: int
    fits: bool
    parts: list[Part]
    errors: list[RuleError]
    other_limits: list[Limit] = msgspec.field(default_factory=list)
    policy: str | None = None
    content_warning: str | None = None
    title: str | None = None  # as sent, where the network takes one
    share_url: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)  # as sent, where the network takes them
    notices: list[RuleError] = msgspec.field(default_factory=list)  # what is not sent there, and why


@dataclass(frozen=True, slots=True)
class Entity:
    """A link, hashtag, mention or cashtag found in a text, as code-point offsets `[start, end)`.

    `value` is what the network keeps: the URL as written, the tag without its sign, the
    account name without its `@`.
    """

    kind: EntityKind
    start: int
    end: int
    value: str
