"""Links, hashtags, mentions and cashtags as X finds them (the twitter-text grammar).

A port of twitter-text 3's extractor grammar (Apache-2.0, `js/src/regexp/*`), checked
against its `conformance/extract.yml`. Mastodon reuses the same grammar with wider path
characters and more schemes (its `config/initializers/twitter_regex.rb`), hence
`UrlGrammar`.

Patterns are compiled on first use (the TLD list is large). URLs never contain white space
and a domain always ends with a known TLD, so the URL pattern only runs over the
white-space-free runs where a TLD follows a dot: same matches, a fraction of the work.
The URL patterns need no Unicode properties and use the stdlib `re`, several times faster
than `regex` when the engine backtracks; labels are matched atomically and a domain has at
most 127 labels (the DNS maximum), which keeps pathological runs of dots linear.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import regex

from .model import Entity
from .tlds import tld_pattern

__all__ = [
    "TWITTER_GRAMMAR",
    "UrlGrammar",
    "extract_cashtags",
    "extract_entities",
    "extract_hashtags",
    "extract_mentions",
    "extract_urls",
    "remove_overlapping",
]

MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
_MAX_LABEL = 63
_MAX_SUBDOMAINS = 15

# Character groups of twitter-text, verbatim.
_PUNCT = r"!'#%&'()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL = r"\u202A-\u202E\u061C\u200E\u200F\u2066\u2067\u2068\u2069"
LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC = r"\u0400-\u04FF"
# Unicode White_Space, spelt out for the stdlib `re`.
WHITE_SPACE = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"


@dataclass(frozen=True, slots=True)
class UrlGrammar:
    """The parts of the URL grammar that differ between twitter-text and Mastodon."""

    name: str
    schemes: str
    path_char: str
    path_ending: str
    query_char: str
    query_ending: str


TWITTER_GRAMMAR = UrlGrammar(
    name="twitter",
    schemes="https?://",
    path_char=rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{LATIN_ACCENTS}]",
    path_ending=rf"[+\-a-z{_CYRILLIC}0-9=_#/{LATIN_ACCENTS}]",
    query_char=r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]",
    query_ending=r"[a-z0-9\-_&=#/]",
)


def _domain_pattern() -> str:
    char = rf"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
    # Bounds keep runs of dots and dashes linear: 63 characters a label (DNS; twitter-text
    # rejects longer ones after matching them anyway, see `_inside_long_label`) and 16 labels
    # before the TLD (no real host has more; missing such a link only over-counts). A label
    # can only end at the next dot, so matching it atomically changes no result.
    subdomain = rf"(?>(?:{char}(?:[_-]|{char}){{0,61}})?{char}\.)"
    name = rf"(?>(?:{char}(?:-|{char}){{0,61}})?{char}\.)"
    return rf"(?:{subdomain}{{0,{_MAX_SUBDOMAINS}}}{name}{_tld_pattern()})"


def _tld_pattern() -> str:
    end = r"(?=[^0-9a-z@+-]|$)"
    generic = f"(?:(?:{tld_pattern('generic')}){end})"
    country = f"(?:(?:{tld_pattern('country')}){end})"
    return rf"(?:{generic}|{country}|(?:xn--[\-0-9a-z]+))"


@functools.cache
def url_pattern(grammar: UrlGrammar) -> re.Pattern[str]:
    """The compiled URL pattern: groups are before, url, scheme, domain, port, path, query."""
    g = grammar.path_char
    parens = rf"\((?:{g}+|(?:{g}*\({g}+\){g}*))\)"
    ending = rf"(?:{grammar.path_ending}|{parens})"
    path = rf"(?:(?:{g}*(?:{parens}{g}*)*{ending})|(?:@{g}+/))"
    before = rf"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
    return re.compile(
        rf"({before})(({grammar.schemes})?({_domain_pattern()})(?::([0-9]+))?"
        rf"(/{path}*)?(\?{grammar.query_char}*{grammar.query_ending})?)",
        re.IGNORECASE,
    )


@functools.cache
def _tld_after_dot() -> re.Pattern[str]:
    return re.compile(rf"\.{_tld_pattern()}", re.IGNORECASE)


@functools.cache
def _ascii_domain() -> re.Pattern[str]:
    return re.compile(rf"(?:(?:[\-a-z0-9{LATIN_ACCENTS}]+)\.)+{_tld_pattern()}", re.IGNORECASE)


@functools.cache
def _tco() -> re.Pattern[str]:
    g = TWITTER_GRAMMAR
    return re.compile(rf"^https?://t\.co/([a-z0-9]+)(?:\?{g.query_char}*{g.query_ending})?", re.IGNORECASE)


_DOTTED_RUN = re.compile(rf"(?<![^{WHITE_SPACE}])[^{WHITE_SPACE}]*\.[^{WHITE_SPACE}]+")
_BAD_BEFORE_SCHEMELESS = re.compile(r"[-_./]$")
_LABEL_CHAR = re.compile(rf"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]|[-_]")
_LABEL_RUN = re.compile(rf"(?:[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]|[-_])*")
_IDN_SEPARATORS = re.compile(r"[.\u3002\uFF0E\uFF61]")


def _label_ok(label: str) -> bool:
    # As twitter-text's idna.toAscii: every label, punycoded, must be 1 to 63 characters.
    for part in _IDN_SEPARATORS.split(label):
        size = len(part) if part.isascii() else 4 + len(part.encode("punycode"))
        if not 0 < size <= 63:
            return False
    return True


def _valid_length(url: str, scheme: str, domain: str, grammar: UrlGrammar) -> bool:
    if domain[:4] == "xn--" and not _ascii_domain().search(domain):
        return False
    if not all(_label_ok(label) for label in domain.split(".")):
        return False
    # twitter-text (JS) adds the scheme's length even when the URL already holds it; the
    # Ruby gem behind Mastodon adds it only when the URL has none.
    extra = len(scheme) if grammar is TWITTER_GRAMMAR or not url.startswith(scheme) else 0
    return extra + len(url) <= MAX_URL_LENGTH


def _inside_long_label(text: str, start: int) -> bool:
    """Whether a scheme-less match starts inside a label longer than DNS allows.

    twitter-text would have matched the whole label from its start and then rejected it;
    the bounded pattern can only match its tail, which must be rejected too.
    """
    if start == 0 or not _LABEL_CHAR.match(text, start - 1):
        return False
    back = start
    while back > 0 and start - back <= _MAX_LABEL and _LABEL_CHAR.match(text, back - 1):
        back -= 1
    forward = _LABEL_RUN.match(text, start)
    return start - back + (len(forward.group()) if forward else 0) > _MAX_LABEL


def extract_urls(
    text: str, *, without_protocol: bool = True, grammar: UrlGrammar = TWITTER_GRAMMAR
) -> list[Entity]:
    """URLs in `text` as twitter-text finds them (`x.com/jack` too unless `without_protocol=False`)."""
    if not text or ("." not in text if without_protocol else ":" not in text):
        return []
    pattern, tld = url_pattern(grammar), _tld_after_dot()
    found: list[Entity] = []
    for run in _DOTTED_RUN.finditer(text):
        run_start, run_end = run.span()
        if not tld.search(text, run_start, run_end):
            continue  # no domain can end in this run
        # Start one character early: the white space before the run is a valid "before".
        for match in pattern.finditer(text, max(run_start - 1, 0), run_end):
            found.extend(_url_entities(text, match, without_protocol, grammar))
    return found


def _url_entities(
    text: str, match: re.Match[str], without_protocol: bool, grammar: UrlGrammar
) -> list[Entity]:
    before, url, scheme, domain, path = match.group(1, 2, 3, 4, 6)
    start, end = match.span(2)
    if not _valid_length(url, scheme or "https://", domain, grammar):
        return []
    if scheme:
        if grammar is TWITTER_GRAMMAR and (tco := _tco().match(url)):
            if len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                return []
            end = start + len(tco.group(0))
        return [Entity("url", start, end, text[start:end])]
    if not without_protocol or _BAD_BEFORE_SCHEMELESS.search(before) or _inside_long_label(text, start):
        return []
    # A scheme-less domain counts only for its ASCII part ("日本語example.com" → "example.com").
    spans: list[list[int]] = []
    cursor = 0
    for ascii_match in _ascii_domain().finditer(domain):
        ascii_start = domain.index(ascii_match.group(), cursor)
        cursor = ascii_start + len(ascii_match.group())
        spans.append([start + ascii_start, start + cursor])
    if spans and path:
        spans[-1][1] = end
    return [Entity("url", s, e, text[s:e]) for s, e in spans]


_HASHTAG_SPECIAL = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)
_TAG_ALPHA = r"[\p{L}\p{M}]"
_TAG_ALNUM = rf"[\p{{L}}\p{{M}}\p{{Nd}}{_HASHTAG_SPECIAL}]"
_HASHTAG = regex.compile(
    rf"(^|\uFE0E|\uFE0F|$|(?!{_TAG_ALNUM}|&)[\s\S])([#＃])(?![\uFE0F\u20E3])"
    rf"({_TAG_ALNUM}*{_TAG_ALPHA}{_TAG_ALNUM}*)"
)
_END_HASHTAG = regex.compile(r"[#＃]|://")

_MENTION = regex.compile(
    r"(^|[^a-zA-Z0-9_!#$%&*@＠]|(?:^|[^a-zA-Z0-9_+~.-])(?:rt|RT|rT|Rt):?)"
    r"([@＠])([a-zA-Z0-9_]{1,20})(/[a-zA-Z][a-zA-Z0-9_-]{0,24})?"
)
_END_MENTION = regex.compile(rf"[@＠]|[{LATIN_ACCENTS}]|://")

_CASHTAG = regex.compile(
    rf"(^|[{_SPACES}])\$([a-z]{{1,6}}(?:[._][a-z]{{1,2}})?)(?=$|\s|[{_PUNCT}])", regex.IGNORECASE
)


def extract_hashtags(text: str, *, check_url_overlap: bool = True) -> list[Entity]:
    """Hashtags (`#café`, `＃タグ`); `value` is the tag without its sign."""
    if "#" not in text and "＃" not in text:
        return []
    tags: list[Entity] = []
    for match in _HASHTAG.finditer(text):
        if _END_HASHTAG.match(text, match.end()):
            continue
        start = match.start(2)
        tags.append(Entity("hashtag", start, match.end(), match.group(3)))
    if check_url_overlap and tags:
        urls = extract_urls(text)
        if urls:
            tags = [e for e in remove_overlapping([*tags, *urls]) if e.kind == "hashtag"]
    return tags


def extract_mentions(text: str) -> list[Entity]:
    """`@name` mentions (not `@name/list`); `value` is the name without `@`."""
    if "@" not in text and "＠" not in text:
        return []
    found: list[Entity] = []
    for match in _MENTION.finditer(text):
        if _END_MENTION.match(text, match.end()) or match.group(4):
            continue
        found.append(Entity("mention", match.start(2), match.end(3), match.group(3)))
    return found


def extract_cashtags(text: str) -> list[Entity]:
    """`$TICKER` cashtags; `value` is the symbol without `$`."""
    if "$" not in text:
        return []
    return [Entity("cashtag", m.start(2) - 1, m.end(2), m.group(2)) for m in _CASHTAG.finditer(text)]


def extract_entities(text: str) -> list[Entity]:
    """Every URL, hashtag, mention and cashtag, overlaps resolved left to right."""
    return remove_overlapping(
        [
            *extract_urls(text),
            *extract_hashtags(text, check_url_overlap=False),
            *extract_mentions(text),
            *extract_cashtags(text),
        ]
    )


def remove_overlapping(entities: Iterable[Entity]) -> list[Entity]:
    """Sort by start and drop any entity that starts inside the one kept before it."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: e.start):
        if not kept or entity.start >= kept[-1].end:
            kept.append(entity)
    return kept
