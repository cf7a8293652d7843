"""Mastodon: the status length validator's cases, content warnings and per-instance limits."""

from __future__ import annotations

from typing import Any

import pytest

from shared.networks import NetworkOptions, render_for_network
from shared.networks.mastodon import MastodonRules, countable_text
from shared.networks.options import MastodonOptions

from .vectors import load_json


def _cases() -> list[Any]:
    data = load_json("mastodon/mastodon_status_length_vectors.json")
    return [pytest.param(case, id=case["id"]) for case in data["cases"]]


def test_all_10_cases_are_collected() -> None:
    assert len(_cases()) == 10


@pytest.mark.parametrize("case", _cases())
def test_status_length_validator(case: dict[str, Any]) -> None:
    rules = MastodonRules()
    assert rules.limit == 500
    assert (rules.measure(case["text"], case["spoiler_text"]) <= 500) is case["expected_valid"]


def test_links_with_scheme_count_23_scheme_less_in_full() -> None:
    text = (
        "Offres : https://candidat.francetravail.fr/offres/recherche?motsCles=cuisinier et francetravail.fr"
    )
    assert countable_text(text) == "Offres : " + "x" * 23 + " et francetravail.fr"


def test_remote_mention_counts_as_local_name() -> None:
    assert countable_text("Merci @conseil@emploi.social !") == "Merci @conseil !"


def test_content_warning_counts_in_every_part_of_a_thread() -> None:
    text = " ".join(["Atelier CV et lettre de motivation à l’agence de Nîmes."] * 20)
    warning = "Annonce longue : programme détaillé"
    rendering = render_for_network("mastodon", text, content_warning=warning)
    assert rendering.content_warning == warning
    assert rendering.length == len(text) + len(warning)
    assert len(rendering.parts) == 3
    rules = MastodonRules()
    for part in rendering.parts:
        assert part.length == rules.measure(part.text, warning) <= 500
        assert part.length > rules.measure(part.text)


def test_instance_limit_is_configuration() -> None:
    text = "é" * 600
    assert not render_for_network("mastodon", text, policy="reject").fits
    options = NetworkOptions(mastodon=MastodonOptions(max_characters=5000))
    rendering = render_for_network("mastodon", text, policy="reject", options=options)
    assert (rendering.limit, rendering.fits, rendering.errors) == (5000, True, [])


# Written from Mastodon's rules, not from output: a reply is sent as `@user <text>` (the author's
# local name of up to 30 characters, a space), so the text itself has 500 - 32 graphemes of room;
# a post has no mention added and keeps the whole 500.
def test_a_reply_leaves_room_for_the_authors_mention() -> None:
    room = 500 - 1 - 30 - 1
    fitting = render_for_network("mastodon", "é" * room, policy="reject", reply=True)
    over = render_for_network("mastodon", "é" * (room + 1), policy="reject", reply=True)
    post = render_for_network("mastodon", "é" * 500, policy="reject")

    assert (fitting.fits, fitting.limit, [e.code for e in fitting.errors]) == (True, room, [])
    assert not over.fits and over.errors and over.parts == []
    assert post.fits and post.limit == 500


def test_the_longest_reply_with_its_mention_is_within_the_instances_limit() -> None:
    rules = MastodonRules()
    room = render_for_network("mastodon", "x", reply=True).limit

    assert rules.measure(f"@{'u' * 30}@example.social " + "é" * room) == 500
