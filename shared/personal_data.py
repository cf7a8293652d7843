"""Citizens' identifiers found in an incoming message, and the message with each one masked. Pure.

The inbox calls `mask` on every incoming item before it is published on the bus, so that neither the
bus, the audit (which records bus events) nor any view ever holds the values. What is masked and
what is not, and why, is the policy table of the README (« Personal data in incoming messages »);
in short:

- `nir`: the French social security number, 15 characters (13 + a 2-digit key, Corsica's 2A/2B),
  typed with or without spaces, dots or dashes between its groups; masked when its key is right
  (python-stdnum's `stdnum.fr.nir`) and its first digit is one the NIR uses (1, 2, 3, 4, 7, 8), or,
  with that first digit, when a word before it says so (« sécu », « NIR », « carte Vitale »…) even
  with a wrong key or none.
- `france_travail`: the France Travail identifier, 7 digits and a letter (the former Pôle emploi
  form) or 11 digits (the « numéro France Travail » of 2025); masked only when a word before it
  says so (« identifiant », « France Travail », « Pôle emploi »…), the bare patterns being offer
  numbers and references as often.
- `cin`: the Moroccan national identity card number, one or two Latin letters then 4 to 7 digits;
  masked only when a word before it says so (« CIN », « CNIE », « identité », « بطاقة »…).
- `phone`: French (mainland and overseas) and Moroccan numbers, national or international forms,
  found by `phonenumbers`' matcher and, where other digits follow a number, by the shapes people
  type it in; either way valid by libphonenumber's metadata (a number the plans allocate).
- `email`: e-mail addresses.

Digits in any script count: Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits are read as
0-9, so an identifier typed on an Arabic keyboard is masked too. Numbers inside a URL are not
identifiers (an offer's link keeps its digits); an e-mail address is masked wherever it is.

Each identifier becomes a token naming its kind and nothing of its value, `⟦nir⟧`, `⟦phone⟧`…,
that views render in the reader's words (`in_words`, with `shared.i18n`'s
`Words.masked_identifier`).
Masking is idempotent: a token holds no digit, no `@` and no cue word, so a masked text masks to
itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

import phonenumbers
from stdnum.fr import nir as stdnum_nir

__all__ = ["KINDS", "Found", "Masked", "find_identifiers", "in_words", "mask", "token"]

# In the order the notice names them; the same keys as shared/i18n's IDENTIFIER_KINDS.
KINDS: Final = ("nir", "france_travail", "cin", "phone", "email")
# When two findings overlap, the more specific kind wins (a NIR's digits also look like a phone's).
PRECEDENCE: Final = {"nir": 0, "email": 1, "france_travail": 2, "cin": 3, "phone": 4}

TOKEN_OPEN, TOKEN_CLOSE = "⟦", "⟧"
TOKEN: Final = re.compile(f"{TOKEN_OPEN}({'|'.join(KINDS)}){TOKEN_CLOSE}")

# Arabic-Indic and Eastern Arabic-Indic (Persian, Urdu) digits read as ASCII, one character for one,
# so that offsets found in the translated text are the original text's.
ASCII_DIGITS: Final = str.maketrans(
    {**{chr(0x0660 + n): str(n) for n in range(10)}, **{chr(0x06F0 + n): str(n) for n in range(10)}}
)

# How people separate a number's groups: a space (also no-break), a dot or a dash.
SEP = r"[ .\-\u00a0\u202f]?"
# The NIR's printed groups: sex, year, month, department (2A/2B in Corsica), commune, order, then
# the key, also as people set it apart (« … 084 clé 91 », « … 084 (91) », « … 084 / 91 »), or none.
# Digits glued to it, or joined to it by a dot or a dash, make it part of a longer number; a space
# only ends it (« sécu 2 95 10 99 126 111 93 06 12 34 56 78 »: a NIR, then a phone).
NIR_CANDIDATE: Final = re.compile(
    rf"(?<![0-9A-Za-z])(?<![0-9][.\-])"
    rf"(?P<body>[0-9]{SEP}[0-9]{{2}}{SEP}[0-9]{{2}}{SEP}(?:[0-9]{{2}}|2[ABab]){SEP}[0-9]{{3}}{SEP}[0-9]{{3}})"
    rf"(?:(?:{SEP}|\s*(?:/|\(|cl[ée]\s*:?|key\s*:?|المفتاح\s*:?)\s*)(?P<key>[0-9]{{2}})\)?)?"
    rf"(?![0-9A-Za-z])(?![.\-][0-9])"
)
NIR_FIRST_DIGITS: Final = frozenset("123478")  # 1/2: born in France; 3/4, 7/8: other registrations

FRANCE_TRAVAIL_CANDIDATE: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9]{7} ?[A-Za-z]|[0-9]{11})(?![0-9A-Za-z])"
)
# One or two letters (the issuing office) then digits; lower case only when glued to the digits,
# so that « le 2024 » is never a card number.
CIN_CANDIDATE: Final = re.compile(
    r"(?<![0-9A-Za-zÀ-ÿ])(?:[A-Z]{1,2}[ \-]?|[A-Za-z]{1,2})[0-9]{4,7}(?![0-9A-Za-z])"
)

EMAIL: Final = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?![\w\-])")
# A link's digits are not a person's: an offer's or a page's address keeps them.
# Possessive groups and a lookbehind: a long « a.a.a… » or « 1-1-1… » is read once, not once per start.
URL: Final = re.compile(
    r"(?:https?://|www\.)\S+|(?<![\w.\-@])(?:[\w\-]++\.)++(?:fr|ma|com|org|net|eu)/\S*", re.IGNORECASE
)

# What a word before a number says it is. The nearest cue within CUE_WINDOW characters before the
# number (on its line) decides: an identity cue masks it, an offer cue (« offre n° … ») keeps it.
CUE_WINDOW: Final = 60
FRANCE_TRAVAIL_CUES: Final = re.compile(
    r"france\s?travail|p[ôo]le[\s\-]?emploi|\bidentifiant|\bid\b|\bft\b|\bpe\b|demandeur\s+d.emploi"
    r"|معرف|مُعرّف|رقم\s+التسجيل|فرانس\s?ترافاي|بول\s?أمبلوا",
    re.IGNORECASE,
)
NIR_CUES: Final = re.compile(
    r"s[ée]cu|\bnir\b|carte\s+vitale|\binsee\b|assurance\s+maladie|\bam[ée]li\b|ضمان", re.IGNORECASE
)
CIN_CUES: Final = re.compile(
    r"\bc\.?\s?i\.?\s?n\b|\bcnie?\b|carte\s+nationale|\bidentit[ée]|بطاق|تعريف|هوي",
    re.IGNORECASE,
)
OFFER_CUES: Final = re.compile(
    r"\boffres?\b|\bannonces?\b|\br[ée]f(?:[ée]rence)?\b|\bvol\b|\bcommande\b|\bdossier\b|عرض|إعلان",
    re.IGNORECASE,
)

# Mainland France, Morocco, then the overseas departments whose numbers France's metadata does not
# cover (La Réunion and Mayotte share +262; Guadeloupe, Martinique, French Guiana).
PHONE_REGIONS: Final = ("FR", "MA", "RE", "GP", "MQ", "GF")
PHONE_MIN_DIGITS: Final = 8  # no valid French or Moroccan number has fewer: skip the matcher
# The shapes people type a number in, for when the matcher reads it together with the digits next
# to it (« 06 12 34 56 78 07 98 76 54 32 », « 06 12 34 56 78 12 mai »): national forms with one
# separator throughout (2-2-2-2-2, 4-2-2-2, 4-3-3, 4-6), and international ones; each is kept only
# when libphonenumber finds it valid.
PHONE_SHAPE: Final = re.compile(
    r"(?<![0-9+])(?:"
    r"0[0-9](?P<a>[ .\-]?)[0-9]{2}(?:(?P=a)[0-9]{2}){3}"
    r"|0[0-9]{3}(?P<b>[ .\-]?)[0-9]{2}(?:(?P=b)[0-9]{2}){2}"
    r"|0[0-9]{3}(?P<c>[ .\-]?)[0-9]{3}(?P=c)[0-9]{3}"
    r"|0[0-9]{3}[ .\-][0-9]{6}"
    r"|(?:\+|00)(?:33|212|262|590|594|596)[ .\-]?(?:\(0\)[ .\-]?)?[0-9](?:[ .\-]?[0-9]){8}"
    r")(?![0-9])(?![.\-][0-9])"
)


@dataclass(frozen=True, slots=True)
class Found:
    """One identifier: its kind and where it is (`text[start:end]`)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Masked:
    """The text with every identifier replaced by its kind's token, and the kinds of its tokens (in
    KINDS' order, each once): what the agent is told to move to a private channel for."""

    text: str
    kinds: tuple[str, ...]


def token(kind: str) -> str:
    return f"{TOKEN_OPEN}{kind}{TOKEN_CLOSE}"


def find_identifiers(text: str) -> list[Found]:
    """Every identifier in `text`, in reading order, none overlapping another.

    Found in rounds until none is left: masking one identifier can bring a cue word within reach of
    the next number (the token is shorter than the value), and the text `mask` returns must hold
    nothing a further round would find (masking is idempotent)."""
    found: list[Found] = []
    current = text
    while fresh := find_once(current):
        found = sorted([*found, *(in_original(identifier, found) for identifier in fresh)], key=start_of)
        current = replaced(text, found)
    return found


def mask(text: str) -> Masked:
    masked = replaced(text, find_identifiers(text))
    # The kinds are read from the tokens, so that a masked text masks to itself, kinds included.
    kinds = set(TOKEN.findall(masked))
    return Masked(text=masked, kinds=tuple(kind for kind in KINDS if kind in kinds))


def find_once(text: str) -> list[Found]:
    readable = text.translate(ASCII_DIGITS)
    links = [(match.start(), match.end()) for match in URL.finditer(readable)]
    candidates = [*emails(readable)]
    numeric = [*nirs(readable), *france_travail_ids(readable), *cins(readable), *phones(text, readable)]
    candidates += [found for found in numeric if not overlaps_any(found, links)]
    return without_overlaps(candidates)


def replaced(text: str, found: list[Found]) -> str:
    parts: list[str] = []
    position = 0
    for identifier in found:
        parts += [text[position : identifier.start], token(identifier.kind)]
        position = identifier.end
    parts.append(text[position:])
    return "".join(parts)


def in_original(identifier: Found, earlier: list[Found]) -> Found:
    """Where an identifier found in the text masked with `earlier` is in the original text (it lies
    between tokens, in text copied verbatim)."""
    shift = 0
    for previous in earlier:
        if previous.start - shift >= identifier.start:
            break
        shift += (previous.end - previous.start) - len(token(previous.kind))
    return Found(identifier.kind, identifier.start + shift, identifier.end + shift)


def start_of(identifier: Found) -> int:
    return identifier.start


def in_words(text: str, word: Callable[[str], str]) -> str:
    """A masked text with each token written as `word(kind)` says (e.g. shared.i18n's
    `Words.masked_identifier`): what a view shows."""
    return TOKEN.sub(lambda match: word(match.group(1)), text)


def nirs(text: str) -> Iterable[Found]:
    """NIRs whose key is right, and, after a word that says so (« sécu », « NIR »…), NIR-shaped
    numbers whatever their key: the citizen said what it is (a typo in the key or no key at all
    leaves the 13 digits that identify them)."""
    for match in NIR_CANDIDATE.finditer(text):
        body = re.sub(r"[^0-9A-Za-z]", "", match.group("body")).upper()
        if body[0] not in NIR_FIRST_DIGITS:
            continue
        key = match.group("key")
        if (key and stdnum_nir.is_valid(body + key)) or said_before(text, match.start(), NIR_CUES):
            yield Found("nir", match.start(), match.end())


def france_travail_ids(text: str) -> Iterable[Found]:
    for match in FRANCE_TRAVAIL_CANDIDATE.finditer(text):
        if said_before(text, match.start(), FRANCE_TRAVAIL_CUES):
            yield Found("france_travail", match.start(), match.end())


def cins(text: str) -> Iterable[Found]:
    for match in CIN_CANDIDATE.finditer(text):
        if said_before(text, match.start(), CIN_CUES):
            yield Found("cin", match.start(), match.end())


def phones(text: str, readable: str) -> Iterable[Found]:
    if sum(character.isdigit() for character in readable) < PHONE_MIN_DIGITS:
        return
    for region in PHONE_REGIONS:
        # libphonenumber reads digits of any script itself; the original text keeps its offsets.
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            yield Found("phone", match.start, match.end)
    for shape in PHONE_SHAPE.finditer(readable):
        if any(valid_phone(shape.group(), region) for region in PHONE_REGIONS):
            yield Found("phone", shape.start(), shape.end())


def valid_phone(number: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def emails(text: str) -> Iterable[Found]:
    for match in EMAIL.finditer(text):
        yield Found("email", match.start(), match.end())


def said_before(text: str, start: int, cues: re.Pattern[str]) -> bool:
    """Whether the nearest cue in the window before `start` (on the same line) is one of `cues`
    rather than an offer's or a reference's."""
    line_start = text.rfind("\n", 0, start) + 1
    # A token is no cue: « ⟦cin⟧ » says a card number was there, not that the next number is one.
    window = TOKEN.sub(
        lambda token: " " * len(token.group()), text[max(line_start, start - CUE_WINDOW) : start]
    )
    identity = [match.end() for match in cues.finditer(window)]
    if not identity:
        return False
    offer = [match.end() for match in OFFER_CUES.finditer(window)]
    return max(identity) > max(offer, default=-1)


def overlaps_any(found: Found, spans: list[tuple[int, int]]) -> bool:
    return any(start < found.end and found.start < end for start, end in spans)


def without_overlaps(candidates: list[Found]) -> list[Found]:
    """The findings kept when some overlap: the more specific kind first, then the longer span."""
    kept: list[Found] = []
    for candidate in sorted(candidates, key=lambda f: (PRECEDENCE[f.kind], f.start - f.end, f.start)):
        if not any(candidate.start < other.end and other.start < candidate.end for other in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda f: f.start)
