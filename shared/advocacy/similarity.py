"""Near-identical shares (issue #16 item 3): X treats identical texts from many accounts as spam, so
no two advocates may publish near-identical texts for the same story.

Two texts are compared as sets of normalised words: links and the story's own hashtag are left out
(every share carries them), case, accents and Arabic vowel marks and tatweel are ignored, and so are
punctuation and emoji. They are near-identical when their Jaccard similarity (shared words over all
words) is at least `NEAR_DUPLICATE`, or when they are the same after normalisation (two texts made of
nothing but the link and the hashtag are the same text).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import regex

from shared.networks.extract import extract_hashtags, extract_urls

__all__ = ["NEAR_DUPLICATE", "Match", "closest", "jaccard", "near_duplicate", "normalised_words"]

NEAR_DUPLICATE = 0.8
_WORD = regex.compile(r"[\p{L}\p{N}]+")
_TATWEEL = "\u0640"


@dataclass(frozen=True)
class Match:
    """The most similar other share: its id and how similar it is (1.0: the same words)."""

    share_id: str
    score: float


def normalised_words(text: str, *, story_hashtag: str = "") -> list[str]:
    """The words of `text` that tell shares apart, in order (see the module's docstring)."""
    return list(_normalised(text, story_hashtag))


# The hub compares each share on X with every other share of its story: without this memo it
# normalised all of them again for each new one (1,500 shares at once: ~28 s of the hub's time,
# bench_advocacy_share). Pure, so memoised; bounded (about 2 KB per entry at most).
@functools.lru_cache(maxsize=20_000)
def _normalised(text: str, story_hashtag: str) -> tuple[str, ...]:
    tag = _fold(story_hashtag.lstrip("#＃"))
    cuts = [(e.start, e.end) for e in extract_urls(text)]
    if tag:
        cuts += [(e.start, e.end) for e in extract_hashtags(text) if _fold(e.value) == tag]
    kept = text
    for start, end in sorted(cuts, reverse=True):
        kept = kept[:start] + " " + kept[end:]
    return tuple(_WORD.findall(_fold(kept)))


def _fold(text: str) -> str:
    """Case, accents, Arabic vowel marks and tatweel removed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c != _TATWEEL)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Shared words over all words; two empty sets are the same (1.0)."""
    first, second = set(a), set(b)
    union = first | second
    return len(first & second) / len(union) if union else 1.0


def near_duplicate(text: str, other: str, *, story_hashtag: str = "") -> bool:
    first = normalised_words(text, story_hashtag=story_hashtag)
    second = normalised_words(other, story_hashtag=story_hashtag)
    return first == second or jaccard(first, second) >= NEAR_DUPLICATE


def closest(text: str, others: Iterable[tuple[str, str]], *, story_hashtag: str = "") -> Match | None:
    """The other share (id, text) most similar to `text`, if it is near-identical; else None."""
    words = normalised_words(text, story_hashtag=story_hashtag)
    best: Match | None = None
    for share_id, other in others:
        other_words = normalised_words(other, story_hashtag=story_hashtag)
        score = 1.0 if other_words == words else jaccard(words, other_words)
        if score >= NEAR_DUPLICATE and (best is None or score > best.score):
            best = Match(share_id, score)
    return best
