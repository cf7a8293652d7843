"""X: 280 weighted characters (twitter-text config v3), threads, one wording per page.

Every URL the extractor finds weighs 23, with or without scheme; every emoji sequence weighs
2; see `weighted.py`. X's rules forbid posting identical text from several accounts, so a
national post fanned out to regional pages needs a distinct wording per page:
`page_variants` builds them and refuses the duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import regex

from .base import NetworkRules, Request, media_errors
from .model import Policy, RuleError
from .text import normalize
from .weighted import weighted_length

__all__ = ["PageVariants", "XRules", "page_variants"]


class XRules(NetworkRules):
    """X (formerly Twitter) post rules."""

    name: ClassVar[str] = "x"
    unit: ClassVar[str] = "weighted"
    can_thread: ClassVar[bool] = True
    default_policy: ClassVar[Policy] = "thread"

    @property
    def limit(self) -> int:
        """280 under config v3."""
        return self.options.x.config.max_weighted_tweet_length

    def measure(self, text: str) -> int:
        """twitter-text weighted length."""
        return weighted_length(text, self.options.x.config)

    def check(self, request: Request) -> list[RuleError]:
        """≤4 photos, or one GIF or video."""
        return media_errors(self.name, request.media, images=self.options.x.max_images)


@dataclass(frozen=True, slots=True)
class PageVariants:
    """The text each X page will post, and the pages refused because their text is a duplicate."""

    texts: dict[str, str]
    errors: dict[str, list[RuleError]] = field(default_factory=dict)


_SPACES = regex.compile(r"\s+")


def _duplicate_key(text: str) -> str:
    # X treats near-identical posts as duplicates: ignore case and spacing differences.
    return str(_SPACES.sub(" ", normalize(text))).casefold()


def page_variants(
    text: str,
    pages: Sequence[str],
    *,
    wordings: Mapping[str, str] | None = None,
    signatures: Mapping[str, str] | None = None,
) -> PageVariants:
    """Give each X page its own text, refusing pages whose text would duplicate another's.

    A page posts `wordings[page]` if given, else `text`; `signatures[page]` (for example
    "📍 Agence de Rennes #FranceTravailBretagne") is added on its own line. The first page
    with a given text keeps it; every later page with the same text (ignoring case and
    spacing) gets a `duplicate_text` error instead of a text.
    """
    wordings = wordings or {}
    signatures = signatures or {}
    texts: dict[str, str] = {}
    errors: dict[str, list[RuleError]] = {}
    owner: dict[str, str] = {}
    for page in pages:
        body = wordings.get(page, text)
        if signatures.get(page):
            body = f"{body}\n{signatures[page]}"
        key = _duplicate_key(body)
        if key in owner:
            message = f"x: page {page} would post the same text as page {owner[key]}; give it its own wording"
            errors[page] = [RuleError("duplicate_text", message)]
            continue
        owner[key] = page
        texts[page] = body
    return PageVariants(texts, errors)
