"""A Bluesky link facet ends where the URL ends, even where `@atproto/api` gets it wrong.

The policy, written by hand (French posts are full of these): a link keeps the parentheses that are
balanced inside it (Wikipedia's `P%C3%B4le_(emploi)`) and leaves out a sentence's closing one;
trailing `.` `,` `!` `?` `:` `;` (one or several), an ellipsis (`…` or `...`) and a closing
guillemet are the sentence's, not the URL's; a URL in guillemets, with or without (narrow)
no-break spaces, is linked. The official library keeps `…` and all but one trailing mark in the
link (a dead link on Bluesky) and does not link `«https://…»` at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.networks import render_for_network
from shared.networks.bluesky_facets import detect_facets

WIKI = "https://fr.wikipedia.org/wiki/P%C3%B4le_(emploi)"
OFFRE = "https://example.fr/offre"
NNBSP, NBSP = "\u202f", "\xa0"

# (text, the exact text the link must cover); the facet's URI is that text (with https:// added).
CASES: list[tuple[str, str]] = [
    (f"Voir {WIKI} pour l'histoire", WIKI),
    (f"Voir {WIKI}.", WIKI),
    (f"Voir {WIKI}, puis postulez", WIKI),
    (f"(voir {OFFRE})", OFFRE),
    (f"(voir {OFFRE}).", OFFRE),
    (f"(voir {WIKI})", WIKI),
    (f"(voir {WIKI}).", WIKI),
    (f"Postulez : {OFFRE}.", OFFRE),
    (f"Postulez : {OFFRE},", OFFRE),
    (f"Postulez : {OFFRE}!", OFFRE),
    (f"Postulez : {OFFRE}?", OFFRE),
    (f"Postulez : {OFFRE}:", OFFRE),
    (f"Postulez : {OFFRE};", OFFRE),
    (f"Postulez : {OFFRE}!!", OFFRE),
    (f"Vraiment {OFFRE}?!", OFFRE),
    (f"Et ensuite {OFFRE}…", OFFRE),
    (f"Et ensuite {OFFRE}...", OFFRE),
    (f"Et ensuite ({OFFRE}…)", OFFRE),
    (f"« {OFFRE} »", OFFRE),
    (f"«{NNBSP}{OFFRE}{NNBSP}»", OFFRE),
    (f"«{NBSP}{OFFRE}{NBSP}»", OFFRE),
    (f"«{OFFRE}»", OFFRE),
    (f"«{OFFRE}».", OFFRE),
    (f"Le site «{NNBSP}{WIKI}{NNBSP}» !", WIKI),
    ("Voir example.fr/offre.", "example.fr/offre"),
    ("(voir example.fr/offre)", "example.fr/offre"),
    ("« example.fr/offre »", "example.fr/offre"),
    ("Voir example.fr/offre…", "example.fr/offre"),
    (f"{OFFRE}?ref=bsky", f"{OFFRE}?ref=bsky"),  # a query stays: only a trailing mark goes
    (f"{OFFRE}#candidater.", f"{OFFRE}#candidater"),
]


def _linked(text: str) -> list[tuple[str, Any]]:
    data = text.encode()
    links = []
    for facet in detect_facets(text):
        feature = facet["features"][0]
        if feature["$type"].endswith("#link"):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            links.append((data[start:end].decode(), feature["uri"]))
    return links


@pytest.mark.parametrize(("text", "url"), CASES, ids=[text for text, _ in CASES])
def test_a_link_facet_covers_the_url_and_nothing_else(text: str, url: str) -> None:
    uri = url if url.startswith("https://") else f"https://{url}"
    assert _linked(text) == [(url, uri)]


def test_a_url_made_of_punctuation_only_is_not_a_link() -> None:
    assert _linked("https://... et la suite") == []


def test_the_sent_parts_carry_the_same_facets() -> None:
    """The renderer's facets for Bluesky, on the exact text sent, end where the URL ends."""
    text = f"Forum de l'emploi (inscriptions : {OFFRE}). Plus d'infos « {WIKI} »…"
    [part] = render_for_network("bluesky", text).parts
    ends = [
        part.text.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
        for f in part.facets or []
        if f["features"][0]["$type"].endswith("#link")
    ]
    assert ends == [OFFRE, WIKI]
