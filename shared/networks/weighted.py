"""X's weighted length (twitter-text `parseTweet`), for config v2 and v3.

Code points in the configured ranges weigh 100, all others 200, on a scale of 100; every URL
the extractor finds weighs `transformedURLLength` (23); with `emojiParsingEnabled` (v3)
every emoji sequence weighs 200 whatever its length. The text is NFC-normalised first, as
X does. Invalid characters (U+FFFE, U+FEFF, U+FFFF) are counted but make the text invalid.

Rather than walking code points in Python, the base weight is computed by deleting the
light characters in C (`str.translate`) and only entities are corrected one by one.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .emoji import emoji_spans
from .extract import extract_urls

__all__ = ["TWITTER_V2", "TWITTER_V3", "TwitterTextConfig", "WeightedLength", "weighted_length"]

_INVALID = frozenset("\ufffe\ufeff\uffff")


@dataclass(frozen=True, slots=True)
class TwitterTextConfig:
    """A twitter-text configuration (`config/v2.json`, `config/v3.json`)."""

    version: int
    max_weighted_tweet_length: int
    scale: int
    default_weight: int
    transformed_url_length: int
    ranges: tuple[tuple[int, int, int], ...]
    emoji_parsing_enabled: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> TwitterTextConfig:
        """Build a configuration from twitter-text's JSON form (camelCase keys)."""
        ranges = data.get("ranges", [])
        assert isinstance(ranges, list)
        return cls(
            version=_int(data, "version"),
            max_weighted_tweet_length=_int(data, "maxWeightedTweetLength"),
            scale=_int(data, "scale"),
            default_weight=_int(data, "defaultWeight"),
            transformed_url_length=_int(data, "transformedURLLength"),
            ranges=tuple((int(r["start"]), int(r["end"]), int(r["weight"])) for r in ranges),
            emoji_parsing_enabled=bool(data.get("emojiParsingEnabled", False)),
        )


def _int(data: Mapping[str, object], key: str) -> int:
    value = data[key]
    assert isinstance(value, int)
    return value


_LIGHT_RANGES = ((0, 4351, 100), (8192, 8205, 100), (8208, 8223, 100), (8242, 8247, 100))
TWITTER_V2 = TwitterTextConfig(2, 280, 100, 200, 23, _LIGHT_RANGES)
"""twitter-text config v2: weighted characters, emoji counted code point by code point."""
TWITTER_V3 = TwitterTextConfig(3, 280, 100, 200, 23, _LIGHT_RANGES, emoji_parsing_enabled=True)
"""twitter-text config v3 (what X uses): v2 plus every emoji sequence weighing 2."""


@dataclass(frozen=True, slots=True)
class WeightedLength:
    """The result of measuring a text for X: its weighted length and whether X accepts it."""

    weighted_length: int
    valid: bool


@functools.cache
def _weight_tables(config: TwitterTextConfig) -> dict[int, dict[int, None]]:
    # One deletion table per distinct weight: translate() drops those code points in C,
    # so the length difference counts them. The first range that holds a code point wins.
    tables: dict[int, dict[int, None]] = {}
    seen: set[int] = set()
    for start, end, weight in config.ranges:
        fresh = [code for code in range(start, end + 1) if code not in seen]
        seen.update(fresh)
        if weight != config.default_weight:
            tables.setdefault(weight, {}).update(dict.fromkeys(fresh))
    return tables


@functools.cache
def _ascii_weight(config: TwitterTextConfig) -> int | None:
    # Every config so far weighs all of ASCII alike; take the fast path only when that holds.
    for start, end, weight in config.ranges:
        if start <= 0 and end >= 127:
            return weight
        if start <= 127:
            return None
    return config.default_weight


def _raw_weight(text: str, config: TwitterTextConfig) -> int:
    """Sum of per-code-point weights, ignoring URLs and emoji."""
    if text.isascii() and (ascii_weight := _ascii_weight(config)) is not None:
        return ascii_weight * len(text)
    total = config.default_weight * len(text)
    for weight, table in _weight_tables(config).items():
        counted = len(text) - len(text.translate(table))
        total += (weight - config.default_weight) * counted
    return total


def weighted_length(text: str, config: TwitterTextConfig = TWITTER_V3) -> int:
    """X's weighted length of `text` (what the composer shows as used of 280)."""
    return parse_weighted(text, config).weighted_length


def parse_weighted(text: str, config: TwitterTextConfig = TWITTER_V3) -> WeightedLength:
    """Weighted length and validity of `text`, as twitter-text's `parseTweet` computes them."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    total = _raw_weight(text, config)
    # Entities replace the weight of the characters they cover; a later entity that starts
    # inside an earlier one is skipped, exactly as parseTweet's left-to-right walk does.
    entities = [(e.start, 0, e.end) for e in extract_urls(text)]
    if config.emoji_parsing_enabled:
        entities.extend((start, 1, end) for start, end in emoji_spans(text))
    if entities:
        url_weight = config.transformed_url_length * config.scale
        cursor = 0
        for start, kind, end in sorted(entities):
            if start < cursor:
                continue
            replaced = url_weight if kind == 0 else config.default_weight
            total += replaced - _raw_weight(text[start:end], config)
            cursor = end
    length = total // config.scale
    valid = 0 < length <= config.max_weighted_tweet_length and _INVALID.isdisjoint(text)
    return WeightedLength(length, valid)
