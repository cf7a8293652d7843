"""Reconciliation helpers: recognising a delivery among the posts a page shows.

Networks rewrite what they store: X wraps links in t.co, Mastodon returns HTML, some trim
whitespace. Texts are compared after normalising those differences away, and a thread is
recognised part by part, each part replying to the one before.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["CLOCK_SLACK", "Seen", "html_text", "match_reply", "match_thread", "normalize", "parse_time"]

# Servers' clocks and ours differ: look a little before the first call was sent.
CLOCK_SLACK = 120.0
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Seen:
    """One post as a network's read API shows it."""

    id: str
    text: str
    created_at: float | None  # Unix time, when the network says
    reply_to: str | None = None
    url: str = ""
    extra: str = ""  # a network-specific handle (Bluesky's cid)


def normalize(text: str) -> str:
    """The text with links, Unicode form and whitespace differences removed."""
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", _URL.sub("<url>", text)).strip()


def html_text(content: str) -> str:
    """Plain text of an HTML status (Mastodon's `content`)."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))


def parse_time(value: object) -> float | None:
    """A network's ISO 8601 time (`Z`, `+0000` or `+00:00`) as Unix time."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def match_thread(parts: Sequence[str], seen: Iterable[Seen], since: float) -> list[Seen]:
    """The longest prefix of `parts` found among `seen`, created since `since` (minus slack).

    The first part is the oldest matching post that replies to nothing of ours; each next part
    must reply to the previous one.
    """
    recent = [s for s in seen if s.created_at is None or s.created_at >= since - CLOCK_SLACK]
    recent.sort(key=lambda s: (s.created_at or 0.0, s.id))
    found: list[Seen] = []
    for index, part in enumerate(parts):
        wanted = normalize(part)
        parent = found[-1].id if found else None
        match = next(
            (
                s
                for s in recent
                if normalize(s.text) == wanted and (index == 0 or s.reply_to == parent) and s not in found
            ),
            None,
        )
        if match is None:
            break
        found.append(match)
    return found


def match_reply(text: str, answers: Iterable[Seen], since: float) -> Seen | None:
    """The oldest of `answers` (an item's answers, already narrowed to the page's own) whose text is
    `text`, created since `since` (minus slack): the reply an interrupted call may have made."""
    wanted = normalize(text)
    recent = [
        s
        for s in answers
        if (s.created_at is None or s.created_at >= since - CLOCK_SLACK) and normalize(s.text) == wanted
    ]
    return min(recent, key=lambda s: (s.created_at or 0.0, s.id), default=None)
