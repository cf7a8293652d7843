"""Text helpers every network needs: normalisation, grapheme clusters and offset units.

Networks count in different units (grapheme clusters, UTF-8 bytes, UTF-16 code units,
weighted code points) while Python indexes code points, so the conversions live here.
Grapheme clusters come from the `regex` module's `\\X`, which follows current Unicode (the
`grapheme` package stopped at Unicode 13).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from itertools import accumulate

import regex

__all__ = [
    "attaching_chars",
    "char_set",
    "grapheme_boundaries",
    "grapheme_count",
    "normalize",
    "utf8_len",
    "utf8_offsets",
    "utf16_len",
    "utf16_offsets",
]

# BOM and noncharacters (U+FFFE, U+FFFF, U+FDD0…) make an X post invalid and are invisible
# everywhere else; lone surrogates cannot be encoded at all.
_NONCHARACTERS = "".join(f"\\U{plane << 16 | 0xFFFE:08x}\\U{plane << 16 | 0xFFFF:08x}" for plane in range(17))
_INVALID = re.compile(f"[\\ufeff\\ufdd0-\\ufdef\\ud800-\\udfff{_NONCHARACTERS}]")
_GRAPHEME = regex.compile(r"\X")
# The characters that can glue to a neighbour in a grapheme cluster (UAX #29 rules GB3 to
# GB13 all involve one of them): without any, every code point is its own cluster.
_GLUE = (
    r"[\r\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=SpacingMark}"
    r"\p{Grapheme_Cluster_Break=Prepend}\p{Grapheme_Cluster_Break=ZWJ}"
    r"\p{Grapheme_Cluster_Break=Regional_Indicator}\p{Grapheme_Cluster_Break=L}"
    r"\p{Grapheme_Cluster_Break=V}\p{Grapheme_Cluster_Break=T}]"
)
# Where characters with such properties are assigned: the BMP, plane 1 (emoji, scripts)
# and the tags and variation selectors of plane 14; planes 2 and 3 hold only ideographs.
_SCANNED = ((0, 0xD800), (0xE000, 0x20000), (0xE0000, 0xE1000))
# The subset that attaches to the character before it (a mark after a space joins it).
_ATTACHING = regex.compile(
    r"[\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=ZWJ}\p{Grapheme_Cluster_Break=SpacingMark}]"
)


@functools.cache
def char_set(regex_class: str) -> frozenset[str]:
    """The characters a `regex` character class built on Unicode properties matches.

    Computed once by scanning the code points, so the properties stay those of the `regex`
    module (the Unicode version of its `\\X`); `frozenset.isdisjoint(text)` then tests a
    text several times faster than a regex search, which matters on every measured chunk.
    """
    members = regex.compile(regex_class + "+")
    found: set[str] = set()
    for low, high in _SCANNED:
        block = "".join(map(chr, range(low, high)))
        for match in members.finditer(block):
            found.update(match.group())
    return frozenset(found)


@functools.cache
def attaching_chars() -> frozenset[str]:
    """Characters that always belong to the grapheme cluster of the character before them."""
    return frozenset(ch for ch in char_set(_GLUE) if _ATTACHING.match(ch))


def normalize(text: str) -> str:
    """Return `text` as every network should receive it.

    NFC (an NFD `#AvecPôleEmploi` is another tag), LF line endings, invalid invisible
    characters removed, surrounding whitespace stripped.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():
        text = _INVALID.sub("", text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    return text.strip()


def grapheme_count(text: str) -> int:
    """Number of extended grapheme clusters (what people see as characters)."""
    if text.isascii():
        # In ASCII only CR LF forms a multi-character cluster.
        return len(text) - text.count("\r\n")
    if char_set(_GLUE).isdisjoint(text):
        return len(text)
    return len(_GRAPHEME.findall(text))


def grapheme_boundaries(text: str) -> list[int]:
    """Code-point offsets where a grapheme cluster starts, plus `len(text)`."""
    if (text.isascii() and "\r\n" not in text) or char_set(_GLUE).isdisjoint(text):
        return list(range(len(text) + 1))
    bounds = [m.start() for m in _GRAPHEME.finditer(text)]
    bounds.append(len(text))
    return bounds


def utf8_len(text: str) -> int:
    """Length in UTF-8 bytes (Bluesky's byte limit, YouTube's description limit)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's and JavaScript's idea of a length)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_offsets(text: str) -> list[int]:
    """`offsets[i]` is the UTF-8 byte offset of code point `i`; one extra entry for the end."""
    return [0, *accumulate(_utf8_width(ord(ch)) for ch in text)]


def _utf8_width(code: int) -> int:
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


def utf16_offsets(text: str) -> list[int]:
    """`offsets[i]` is the UTF-16 offset of code point `i`; one extra entry for the end."""
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]
