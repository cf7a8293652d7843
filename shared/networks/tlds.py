"""Top-level domains that make a scheme-less `example.fr` a link.

The list is twitter-text's (`conformance/tld_lib.yml`, Apache-2.0), kept in `tlds.json`
next to this module and read once, on first use, not at import.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

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
    """A regex matching the `"country"` or `"generic"` TLDs, as a trie, longest match first.

    A plain alternation of 1,500 names costs the regex engine ~15 µs at every position it
    tries a domain; the trie (`c(?:o(?:m|op)?|…)`) costs well under one. Longest first so
    that `.community` is not read as `.com` followed by `munity`.
    """
    tlds = country_tlds() if kind == "country" else generic_tlds()
    trie: dict[str, dict[str, Any]] = {}
    for tld in tlds:
        node = trie
        for char in tld:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_regex(trie)


def _trie_regex(node: dict[str, dict[str, Any]]) -> str:
    branches = [re.escape(char) + _trie_regex(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    if len(branches) == 1 and "" not in node:
        return branches[0]
    group = "(?:" + "|".join(branches) + ")"
    # A name may end here: the longer names are tried first, then this one (greedy `?`).
    return group + "?" if "" in node else group
