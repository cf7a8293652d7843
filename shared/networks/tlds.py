"""Top-level domains that make a scheme-less `example.fr` a link.

The list is twitter-text's (`conformance/tld_lib.yml`, Apache-2.0), kept in `tlds.json`
next to this module and read once, on first use, not at import.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import regex

__all__ = ["country_tlds", "generic_tlds", "is_known_tld", "tld_pattern"]


@functools.cache
def _data() -> tuple[tuple[str, ...], tuple[str, ...]]:
    raw = resources.files(__package__).joinpath("tlds.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    return tuple(data["country"]), tuple(data["generic"])


def country_tlds() -> tuple[str, ...]:
    """Country-code TLDs, internationalised ones included (`fr`, `ma`, `المغرب`)."""
    return _data()[0]


def generic_tlds() -> tuple[str, ...]:
    """Generic TLDs (`com`, `org`, `emploi`…)."""
    return _data()[1]


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(tld.casefold() for tld in (*country_tlds(), *generic_tlds()))


def is_known_tld(label: str) -> bool:
    """True when `label` (without its dot, any case) is a TLD in the list."""
    return label.casefold() in _known()


@functools.cache
def tld_pattern(kind: str) -> str:
    """A regex alternation of the `"country"` or `"generic"` TLDs, longest first.

    Longest first so that `.community` is not read as `.com` followed by `munity`.
    """
    tlds = country_tlds() if kind == "country" else generic_tlds()
    ordered = sorted(tlds, key=lambda tld: (-len(tld), tld))
    return "|".join(regex.escape(tld) for tld in ordered)
