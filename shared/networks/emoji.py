"""Emoji sequences, recognised from Unicode properties rather than from a frozen emoji list.

X weighs every emoji sequence as one heavy character (twitter-text config v3,
`emojiParsingEnabled`). twitter-text builds its regex from an emoji list of its day, so
newer sequences (🧑‍💻, 🏳️‍⚧️) fall apart into their pieces there; Unicode properties
(UTS #51) keep up with the `regex` module's Unicode version instead.

A character whose default presentation is text (©, ®, ☺) is an emoji only when it asks for
emoji presentation (U+FE0F), carries a skin tone, or sits inside a ZWJ sequence: this is
what twitter-text does too, and it keeps a bare © at weight 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

from .text import char_set

__all__ = ["emoji_spans", "has_emoji_candidate"]

_PICTO = r"\p{Extended_Pictographic}"
_MOD = r"\p{Emoji_Modifier}"
# One element of a ZWJ sequence: any pictograph, optionally with a skin tone or VS16.
_ELEMENT = rf"{_PICTO}(?:{_MOD}|\uFE0F)?"
_EMOJI = regex.compile(
    r"\p{Regional_Indicator}{2}"  # flag
    r"|[0-9#*]\uFE0F?\u20E3"  # keycap, also without VS16 ("1⃣")
    r"|\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"  # subdivision flag (tag sequence)
    rf"|{_ELEMENT}(?:\u200D{_ELEMENT})+"  # ZWJ sequence
    rf"|\p{{Emoji_Presentation}}(?:{_MOD}|\uFE0F)?"  # emoji by default
    rf"|{_PICTO}(?:{_MOD}|\uFE0F)"  # text by default, asked to be emoji
)
# A cheap test first: most posts are ASCII or accented Latin without any emoji.
_CANDIDATE = r"[\p{Extended_Pictographic}\p{Emoji_Presentation}\u20E3]"


def has_emoji_candidate(text: str) -> bool:
    """True when `text` may hold an emoji sequence (false positives are fine, negatives are not)."""
    return not text.isascii() and not char_set(_CANDIDATE).isdisjoint(text)


def emoji_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield `(start, end)` code-point spans of the emoji sequences in `text`, left to right."""
    if not has_emoji_candidate(text):
        return
    for match in _EMOJI.finditer(text):
        yield match.span()
