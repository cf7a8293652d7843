"""Thread, truncate and reject policies: where texts are cut and what is kept."""

from __future__ import annotations

import pytest

from shared.networks import NetworkOptions, get_rules, render_for_network
from shared.networks.text import grapheme_count
from shared.networks.weighted import weighted_length

PARAGRAPHS = (
    "📍 Job dating à Rennes ce jeudi\u202f! Plus de 40 entreprises recrutent dans la logistique.\n\n"
    "Venez avec votre CV\u202f: des conseillers vous accueillent de 9 h à 17 h, sans rendez-vous. "
    "Les offres sont aussi consultables en ligne\u202f; pensez à activer vos alertes.\n\n"
    "Accès en bus (lignes C1 et C3), parking gratuit sur place. Les personnes en situation de "
    "handicap peuvent demander un accompagnement adapté.\n\n#AvecPôleEmploi #FranceTravail"
)
LINK = "https://mesevenementsemploi.francetravail.fr/mes-evenements-emploi/evenement/123456"


def test_a_fitting_text_is_sent_whole_without_numbering() -> None:
    rendering = render_for_network("x", "Bonjour\u202f! #FranceTravail")
    assert [p.text for p in rendering.parts] == ["Bonjour\u202f! #FranceTravail"]
    assert rendering.fits and rendering.policy is None


def test_thread_is_numbered_and_prefers_paragraphs() -> None:
    rendering = render_for_network("x", PARAGRAPHS, link=LINK)
    texts = [p.text for p in rendering.parts]
    assert [t.rsplit("\n", 1)[1] for t in texts] == ["1/2", "2/2"]
    # The first part ends where a paragraph ended (two paragraphs fit, not three).
    assert texts[0].startswith("📍 Job dating") and texts[0].endswith("vos alertes.\n1/2")
    assert texts[1].startswith("Accès en bus")
    assert texts[1].endswith(f"#AvecPôleEmploi #FranceTravail\n{LINK}\n2/2")
    assert all(weighted_length(t) <= 280 for t in texts)
    assert rendering.policy == "thread" and rendering.length == weighted_length(PARAGRAPHS + "\n" + LINK)


def test_thread_falls_back_to_sentences_then_words() -> None:
    sentence = "Les offres sont en ligne et les conseillers répondent à vos questions toute la semaine. "
    rendering = render_for_network("bluesky", sentence * 8)
    texts = [p.text.rsplit("\n", 1)[0] for p in rendering.parts]
    assert len(texts) > 1
    assert all(t.endswith("semaine.") for t in texts)
    words = render_for_network("bluesky", "emploi " * 100)
    assert all(p.text.rsplit("\n", 1)[0].endswith("emploi") for p in words.parts)


def test_text_without_spaces_is_cut_between_graphemes() -> None:
    text = "ⵜⴰⵡⵓⵔⵉ" * 100 + "👷🏽\u200d♀\ufe0f" * 50
    rendering = render_for_network("mastodon", text)
    assert len(rendering.parts) == 2
    assert "".join(p.text.rsplit("\n", 1)[0] for p in rendering.parts) == text
    assert all(grapheme_count(p.text) <= 500 for p in rendering.parts)


def test_a_url_is_never_cut() -> None:
    long_url = "https://www.francetravail.fr/" + "a" * 400
    rendering = render_for_network("bluesky", "Voir " + long_url)
    assert rendering.parts == []
    assert rendering.errors[0].code == "cannot_fit"


def test_truncate_keeps_link_and_hashtags_and_adds_ellipsis() -> None:
    rendering = render_for_network("x", PARAGRAPHS, link=LINK, policy="truncate")
    (text,) = [p.text for p in rendering.parts]
    assert text.endswith(f"…\n\n#AvecPôleEmploi #FranceTravail\n{LINK}")
    assert text.startswith("📍 Job dating à Rennes")
    cut = text.split("…")[0]
    # Cut after a whole word; the dangling "\u202f;" before the cut is dropped.
    assert PARAGRAPHS.startswith(cut) and cut.endswith("en ligne")
    assert PARAGRAPHS[len(cut) :].startswith("\u202f; pensez")
    assert weighted_length(text) <= 280


def test_truncate_drops_tags_before_the_link_when_both_do_not_fit() -> None:
    tags = " ".join(f"#Métier{i}" for i in range(60))
    rendering = render_for_network(
        "x", f"Nos offres de la semaine sont en ligne. {tags}", link=LINK, policy="truncate"
    )
    (text,) = [p.text for p in rendering.parts]
    assert text.endswith(LINK) and "#Métier59" not in text
    assert weighted_length(text) <= 280


def test_truncate_puts_a_space_before_the_ellipsis_after_a_link() -> None:
    body = "Voir https://francetravail.fr/offres " + "et encore des offres " * 30
    rules = get_rules("bluesky")
    rendering = rules.render(body, policy="truncate")
    (text,) = [p.text for p in rendering.parts]
    assert grapheme_count(text) <= 300 and text.endswith("…")
    facets = rendering.parts[0].facets or []
    assert facets[0]["features"] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://francetravail.fr/offres"}
    ]


def test_reject_names_network_length_and_limit() -> None:
    rendering = render_for_network("x", "é" * 300, policy="reject")
    assert rendering.parts == [] and not rendering.fits
    assert [(e.code, e.message) for e in rendering.errors] == [
        ("too_long", "x: 300 weighted over the limit of 280")
    ]


@pytest.mark.parametrize("network", ["linkedin", "facebook", "telegram", "instagram", "youtube"])
def test_networks_without_threads_truncate(network: str) -> None:
    text = "Offre d’emploi à Pau. " * 3000
    rendering = render_for_network(
        network, text, policy="thread", media=["video"] if network == "youtube" else ["image"]
    )
    assert rendering.policy == "truncate"
    assert len(rendering.parts) == 1 and rendering.parts[0].text.endswith("…")
    assert rendering.parts[0].length <= rendering.limit


def test_no_breaking_at_a_no_break_space() -> None:
    text = ("Êtes-vous prêt\u202f? " * 40).strip()
    rendering = render_for_network("x", text)
    for part in rendering.parts:
        body = part.text.rsplit("\n", 1)[0]
        assert not body.startswith("?") and body.endswith("\u202f?")


def test_no_cut_between_a_space_and_the_mark_it_carries() -> None:
    text = "mot \u0301x " * 150  # U+0301 after a space belongs to the space's cluster
    rendering = render_for_network("mastodon", text)
    assert len(rendering.parts) > 1
    assert not any(part.text.startswith("\u0301") for part in rendering.parts)


def test_numbering_grows_a_digit_past_nine_parts() -> None:
    text = " ".join(f"Offre n°{i}\u202f: agent·e d’accueil à Nîmes, CDI, 1 900 € brut." for i in range(60))
    # More parts than a post may have by default (RELAIS_MAX_THREAD_PARTS): the fitting itself still works.
    options = NetworkOptions(max_thread_parts=100)
    parts = [p.text for p in render_for_network("x", text, options=options).parts]
    assert len(parts) >= 10
    assert [p.rsplit("\n", 1)[1] for p in parts] == [f"{i}/{len(parts)}" for i in range(1, len(parts) + 1)]
    assert all(weighted_length(p) <= 280 for p in parts)
    assert all(p.rsplit("\n", 1)[0].endswith("brut.") for p in parts)
