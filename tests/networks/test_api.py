"""The public API services rely on: names, fields, defaults, JSON encoding, normalisation."""

from __future__ import annotations

import msgspec

from shared.networks import (
    KNOWN_NETWORKS,
    RETIRED_NETWORKS,
    Part,
    Rendering,
    RuleError,
    get_rules,
    page_variants,
    render_for_network,
)


def test_known_and_retired_networks() -> None:
    assert KNOWN_NETWORKS == (
        "x",
        "mastodon",
        "bluesky",
        "linkedin",
        "facebook",
        "instagram",
        "threads",
        "telegram",
        "youtube",
        "slideshare",
    )
    assert set(RETIRED_NETWORKS) == {"google_plus", "viadeo", "xing"}


def test_existing_call_shape_still_works() -> None:
    rendering = render_for_network("mastodon", "Forum emploi à Pau", link="https://francetravail.fr/pau")
    assert (rendering.network, rendering.unit, rendering.limit) == ("mastodon", "graphemes", 500)
    assert rendering.length == 18 + 1 + 23 and rendering.fits
    assert rendering.parts == [Part("Forum emploi à Pau\nhttps://francetravail.fr/pau", 42)]
    assert rendering.errors == []


def test_link_already_in_the_text_is_not_repeated() -> None:
    text = "Inscriptions sur https://francetravail.fr/pau"
    assert render_for_network("x", text, link="https://francetravail.fr/pau").parts[0].text == text


def test_rendering_round_trips_through_json() -> None:
    rendering = render_for_network("bluesky", "Salon #Emploi à Pau https://francetravail.fr")
    data = msgspec.json.encode(rendering)
    assert msgspec.json.decode(data, type=Rendering) == rendering
    assert b'"byteStart":21' in data  # "à" takes two bytes


def test_text_is_normalised_before_counting_and_sending() -> None:
    nfd = "\ufeffRejoignez #AvecPo\u0302leEmploi\ufffe "
    rendering = render_for_network("x", nfd)
    assert rendering.parts[0].text == "Rejoignez #AvecPôleEmploi"
    assert rendering.length == 25


def test_empty_post_is_refused() -> None:
    assert render_for_network("x", "  \ufeff ").errors == [RuleError("empty", "x: nothing to post")]
    assert render_for_network("x", "", media=["image"]).errors == []


def test_unknown_network() -> None:
    rendering = render_for_network("myspace", "Bonjour")
    assert rendering.errors == [RuleError("unknown_network", "unknown network: myspace")]
    assert rendering.parts == []


def test_rules_interface() -> None:
    for network in KNOWN_NETWORKS:
        rules = get_rules(network)
        assert rules.name == network
        assert rules.limit > 0
        assert rules.measure("Bonjour") > 0
        assert any(e.kind == "url" for e in rules.extract("Voir https://francetravail.fr/offres"))
        assert rules.render("Bonjour", media=["video"]).network == network


def test_page_variants_refuse_identical_text_across_x_pages() -> None:
    variants = page_variants("Forum emploi jeudi !", ["x-bretagne", "x-rennes", "x-brest"])
    assert variants.texts == {"x-bretagne": "Forum emploi jeudi !"}
    assert [e.code for e in variants.errors["x-rennes"]] == ["duplicate_text"]
    assert "x-bretagne" in variants.errors["x-brest"][0].message


def test_page_variants_made_distinct_by_signatures() -> None:
    signatures = {"x-rennes": "📍 Agence de Rennes", "x-brest": "📍 Agence de Brest"}
    variants = page_variants("Forum emploi jeudi !", ["x-rennes", "x-brest"], signatures=signatures)
    assert variants.errors == {}
    assert variants.texts["x-brest"] == "Forum emploi jeudi !\n📍 Agence de Brest"


def test_page_variants_ignore_case_and_spacing_when_comparing() -> None:
    wordings = {"x-b": "forum   EMPLOI jeudi !"}
    variants = page_variants("Forum emploi jeudi !", ["x-a", "x-b"], wordings=wordings)
    assert list(variants.errors) == ["x-b"]
