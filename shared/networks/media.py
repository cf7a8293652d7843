"""Media a network takes: file types, sizes per kind, and alt text.

The rules' own `check` counts attachments by kind (`image`, `gif`, `video`); what a kind alone
cannot tell is here: whether the network takes the file's type, whether the file is small
enough, and whether its alt text is there and short enough. Sizes are in bytes, as each
network documents them (see `shared/design/network-rules.md`); a network without a documented
cap gets none here, only the agency's own upload cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import MediaKind
from .facts import MEDIA_KINDS, MediaLimits
from .model import RuleError
from .registry import NETWORKS
from .text import normalize

__all__ = [
    "MEDIA_KINDS",
    "MediaItem",
    "MediaLimits",
    "MediaProblem",
    "media_limits",
    "media_problems",
]


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One attachment as the rules see it: its type, size in bytes, alt text and how many caption
    files (a video's) come with it."""

    content_type: str
    size: int
    alt: str = ""
    captions: int = 0

    @property
    def kind(self) -> MediaKind:
        """`image`, `gif` or `video` (an unknown type counts as an image; `media_problems` refuses it)."""
        return MEDIA_KINDS.get(self.content_type, "image")


_DEFAULT = MediaLimits()


def media_limits(network: str) -> MediaLimits:
    """The media limits of `network` (no type or size restriction beyond Relais's own if none known)."""
    entry = NETWORKS.get(network)
    return entry.media if entry is not None else _DEFAULT


@dataclass(frozen=True, slots=True)
class MediaProblem:
    """Why one attachment cannot go to a network, and which request field to point at."""

    field: str  # "media[0]" or "media[0].alt"
    error: RuleError


def media_problems(network: str, media: Sequence[MediaItem], *, require_alt: bool) -> list[MediaProblem]:
    """Every attachment `network` would refuse (type, size, alt text), in attachment order."""
    limits = media_limits(network)
    problems = []
    for index, item in enumerate(media):
        where = f"media[{index}]"
        if item.content_type not in limits.types:
            accepted = ", ".join(sorted(limits.types))
            message = f"{network}: {where} is {item.content_type}; {network} takes {accepted}"
            problems.append(MediaProblem(where, RuleError("unsupported_media_type", message)))
            continue
        cap = limits.max_bytes.get(item.kind)
        if cap is not None and item.size > cap:
            message = f"{network}: {where} is a {item.kind} of {item.size} bytes, at most {cap}"
            problems.append(MediaProblem(where, RuleError("media_too_large", message)))
        alt = normalize(item.alt)
        if require_alt and not alt:
            message = f"{network}: {where} needs alt text (a description for people who cannot see it)"
            problems.append(MediaProblem(f"{where}.alt", RuleError("alt_text_required", message)))
        elif limits.max_alt is not None and len(alt) > limits.max_alt:
            message = f"{network}: {where} alt text of {len(alt)} characters, at most {limits.max_alt}"
            problems.append(MediaProblem(f"{where}.alt", RuleError("alt_text_too_long", message)))
    return problems
