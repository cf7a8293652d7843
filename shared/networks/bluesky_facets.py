"""Bluesky richtext facets: links, hashtags, cashtags and mentions with UTF-8 byte ranges.

Follows `@atproto/api`'s `detectFacets` (packages/api/src/rich-text/detection.ts, MIT or
Apache-2.0), checked against the 97 cases of its `rich-text-detection.test.ts`, except where a
link ends: there the official library leaves `…`, repeated marks and closing guillemets inside
the link, and does not link `«https://…»` (tests/networks/test_bluesky_link_ends.py). Its regexes
run on JavaScript strings, so JavaScript's `\\s` and ASCII `\\d`, `\\b` are spelt out here.
Facets must be computed on the exact text sent (after truncation or splitting): byte
offsets of the original would point into the wrong characters.

Mentions become facets only for handles the caller resolved to a DID.
"""

from __future__ import annotations

from collections.abc import Mapping

import regex

from .model import Entity
from .text import grapheme_count, utf8_len, utf8_offsets
from .tlds import is_known_tld

__all__ = ["detect", "detect_facets"]

_JS_SPACE = r"\t\n\x0B\x0C\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF"
_ASCII_WORD = "A-Za-z0-9_"
_MENTION = regex.compile(
    rf"(^|[{_JS_SPACE}]|\()@([a-zA-Z0-9.-]+)"
    rf"(?:(?<=[{_ASCII_WORD}])(?![{_ASCII_WORD}])|(?<![{_ASCII_WORD}])(?=[{_ASCII_WORD}]))"
)
# As `@atproto/api`, plus an opening guillemet before the URL (`«https://…»`, French quoting
# without spaces), which the official library does not link at all.
_LINK = regex.compile(
    rf"(^|[{_JS_SPACE}]|[(«‹])((https?://[^{_JS_SPACE}]+)|((?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)[^{_JS_SPACE}]*))",
    regex.IGNORECASE | regex.MULTILINE,
)
_TAG_STOP = r"\u00AD\u2060\u200A\u200B\u200C\u200D\u20E2"
_TAG = regex.compile(
    rf"(^|[{_JS_SPACE}])[#＃]((?![\uFE0F\u20E3])[^{_JS_SPACE}{_TAG_STOP}]*"
    rf"[^0-9{_JS_SPACE}\p{{P}}{_TAG_STOP}]+[^{_JS_SPACE}{_TAG_STOP}]*)?"
)
_CASHTAG = regex.compile(
    rf"(^|[{_JS_SPACE}]|\()\$([A-Za-z][A-Za-z0-9]{{0,4}})(?=[{_JS_SPACE}]|$|[.,;:!?)\"'\u2019])"
)
_TRAILING_PUNCT = regex.compile(r"\p{P}+$")
# What ends a sentence or closes a quotation after a URL, not the URL: punctuation (any number of
# marks, `...` included), the ellipsis, closing guillemets and quotes.
_LINK_TRAILING = frozenset('.,;:!?…»›”"')
_CLOSERS = {")": "(", "]": "["}  # dropped from a link's end unless balanced inside it
# app.bsky.richtext.facet#tag: maxGraphemes 64, maxLength 640.
_TAG_GRAPHEMES, _TAG_BYTES = 64, 640

_FEATURE = "app.bsky.richtext.facet#"


def _valid_domain(host: str) -> bool:
    label = host.rsplit(".", 1)[-1]
    return "." in host and is_known_tld(label)


def detect(text: str, dids: Mapping[str, str] | None = None) -> list[tuple[Entity, dict[str, object]]]:
    """Entities Bluesky would link, with their facet feature, sorted and without overlaps.

    Mentions are kept (for protection when cutting) even without a DID; their feature then
    has no `did` and `detect_facets` leaves them out.
    """
    found: list[tuple[Entity, dict[str, object]]] = []
    for match in _LINK.finditer(text):
        found.extend(_link(match))
    if "@" in text:
        for match in _MENTION.finditer(text):
            handle = match.group(2)
            if _valid_domain(handle) or handle.endswith(".test"):
                did = dids.get(handle.lower()) if dids is not None else None
                feature: dict[str, object] = {"$type": _FEATURE + "mention"}
                if did:
                    feature["did"] = did
                found.append((Entity("mention", match.start(2) - 1, match.end(2), handle), feature))
    if "#" in text or "＃" in text:
        for match in _TAG.finditer(text):
            found.extend(_tag(match))
    if "$" in text:
        for match in _CASHTAG.finditer(text):
            tag = "$" + match.group(2).upper()
            entity = Entity("cashtag", match.start(2) - 1, match.end(2), tag)
            found.append((entity, {"$type": _FEATURE + "tag", "tag": tag}))
    kept: list[tuple[Entity, dict[str, object]]] = []
    for entity, feature in sorted(found, key=lambda pair: pair[0].start):
        if not kept or entity.start >= kept[-1][0].end:
            kept.append((entity, feature))
    return kept


def _link(match: regex.Match[str]) -> list[tuple[Entity, dict[str, object]]]:
    uri = match.group(2)
    start, end = match.span(2)
    if not uri.startswith("http"):
        if not match.group("domain") or not _valid_domain(match.group("domain")):
            return []
        uri = f"https://{uri}"
    kept = _url_length(uri)
    if kept <= uri.index("://") + 3:
        return []  # nothing left after the scheme (`https://...`)
    end -= len(uri) - kept
    uri = uri[:kept]
    entity = Entity("url", start, end, uri)
    return [(entity, {"$type": _FEATURE + "link", "uri": uri})]


def _url_length(uri: str) -> int:
    """How much of a whitespace-delimited run is the URL. From the end, drop the sentence's
    punctuation, ellipses and closing quotes, and a closing parenthesis or bracket that has no
    opening one inside the URL (`(voir https://example.fr/offre)`), until neither is left: a
    balanced pair stays (`https://fr.wikipedia.org/wiki/P%C3%B4le_(emploi)`). `@atproto/api`
    drops one mark and one parenthesis only, so `https://example.fr/offre…` links a page that
    does not exist."""
    end = len(uri)
    while end:
        last = uri[end - 1]
        if last in _LINK_TRAILING:
            end -= 1
        elif last in _CLOSERS and uri.count(last, 0, end) > uri.count(_CLOSERS[last], 0, end):
            end -= 1
        else:
            break
    return end


def _tag(match: regex.Match[str]) -> list[tuple[Entity, dict[str, object]]]:
    tag = match.group(2)
    if not tag:
        return []
    tag = _TRAILING_PUNCT.sub("", tag.strip(_JS_SPACE_CHARS))
    if not tag or grapheme_count(tag) > _TAG_GRAPHEMES or utf8_len(tag) > _TAG_BYTES:
        return []
    start = match.start() + len(match.group(1))
    entity = Entity("hashtag", start, start + 1 + len(tag), tag)
    return [(entity, {"$type": _FEATURE + "tag", "tag": tag})]


# The same set as a string, for str.strip (JavaScript's trim()).
_JS_SPACE_CHARS = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def detect_facets(text: str, dids: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """The `facets` of an `app.bsky.feed.post` whose text is exactly `text`.

    Each facet is `{"index": {"byteStart", "byteEnd"}, "features": [feature]}` with UTF-8
    byte offsets (end exclusive). `dids` maps lower-case handles to resolved DIDs.
    """
    detected = detect(text, dids)
    if not detected:
        return []
    offsets = utf8_offsets(text)
    facets: list[dict[str, object]] = []
    for entity, feature in detected:
        if entity.kind == "mention" and "did" not in feature:
            continue
        index = {"byteStart": offsets[entity.start], "byteEnd": offsets[entity.end]}
        facets.append({"index": index, "features": [feature]})
    return facets
