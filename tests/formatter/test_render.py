"""The formatter renders with the post's own policy, content warning and media, through the same
rules as intake's checks and the preview, and hands each part's facets on."""

from __future__ import annotations

from typing import Any

import msgspec

from services.formatter.render import render_post
from shared.networks.preview import render_variant
from shared.schemas import MediaRef, PageTarget, PostRendered, PostTargeted, Variant, decode, encode

TEXT = (
    "Job dating logistique jeudi 10 h à Lyon Part-Dieu\u202f! Plus de quarante entreprises recrutent "
    "des préparateurs de commandes, des caristes et des chauffeurs. Venez avec votre CV, des "
    "conseillers vous accueillent toute la journée, sans rendez-vous, et vous aident à préparer vos "
    "entretiens. #emploi https://www.francetravail.fr/lyon"
)
IMAGE = MediaRef(
    id="lyon-part-dieu-01M", content_type="image/png", size=2048, sha256="ab" * 32, alt="Affiche"
)


def page(network: str, name: str | None = None, **variables: str) -> PageTarget:
    return PageTarget(network, name or f"lyon-{network}", "lyon-part-dieu", "Europe/Paris", variables)


def targeted(text: str = TEXT, targets: list[PageTarget] | None = None, **fields: Any) -> PostTargeted:
    return PostTargeted(
        post_id="lyon-part-dieu-01P",
        agency="lyon-part-dieu",
        occurred_at="2026-03-02T09:00:00Z",
        author="claire",
        text=text,
        targets=targets or [page("x"), page("bluesky"), page("mastodon")],
        **fields,
    )


def by_network(variants: list[Variant]) -> dict[str, Variant]:
    return {v.network: v for v in variants}


def test_each_network_keeps_its_default_policy_unless_the_post_names_one() -> None:
    default, reasons = render_post(targeted())
    assert reasons == []
    assert len(by_network(default)["x"].parts) == 2  # X threads by default

    chosen, reasons = render_post(targeted(policy={"x": "truncate"}))
    assert reasons == []
    [x_part] = by_network(chosen)["x"].parts
    assert "…" in x_part and x_part.endswith("https://www.francetravail.fr/lyon")
    assert by_network(chosen)["bluesky"].parts == by_network(default)["bluesky"].parts


def test_reject_makes_the_post_invalid_with_the_reason() -> None:
    variants, reasons = render_post(targeted(policy={"x": "reject"}))
    assert variants == []
    assert reasons == [
        f"lyon-x: x: {render_variant('x', TEXT).length} weighted over the limit of 280 (too_long)"
    ]


def test_each_part_carries_its_own_facets() -> None:
    variants, _ = render_post(targeted())
    bluesky, x = by_network(variants)["bluesky"], by_network(variants)["x"]
    assert len(bluesky.facets) == len(bluesky.parts) and x.facets == [None] * len(x.parts)
    for text, facets in zip(bluesky.parts, bluesky.facets, strict=True):
        for facet in facets or []:
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            shown = text.encode()[start:end].decode()
            feature = facet["features"][0]
            assert shown == ("#" + feature["tag"] if "tag" in feature else feature["uri"])
    assert any(facets for facets in bluesky.facets)
    assert bluesky.facets == [p.facets for p in render_variant("bluesky", TEXT).parts]


def test_the_content_warning_counts_on_mastodon() -> None:
    text = "a " * 240  # 479 graphemes: fits in 500 alone
    plain, _ = render_post(targeted(text, [page("mastodon")]))
    warned, _ = render_post(targeted(text, [page("mastodon")], content_warning="Offre d'emploi, CDI, Lyon"))
    assert len(plain[0].parts) == 1 and len(warned[0].parts) == 2


def test_media_rules_apply_and_alt_text_is_required_unless_configured() -> None:
    without_alt = msgspec.structs.replace(IMAGE, alt="")
    variants, reasons = render_post(targeted(media=[without_alt]))
    assert variants == [] and any("(alt_text_required)" in r for r in reasons)
    variants, reasons = render_post(targeted(media=[without_alt]), require_alt=False)
    assert reasons == [] and len(variants) == 3
    _, reasons = render_post(targeted(targets=[page("youtube")], media=[IMAGE]))
    assert any("(unsupported_media_type)" in r for r in reasons)


def test_page_variables_and_the_x_identical_text_rule_still_apply() -> None:
    pages = [page("x", "x-lyon", ville="Lyon"), page("x", "x-rennes", ville="Rennes")]
    variants, reasons = render_post(targeted("Forum emploi à {ville} #emploi", pages))
    assert reasons == [] and [v.parts for v in variants] == [
        ["Forum emploi à Lyon #emploi"],
        ["Forum emploi à Rennes #emploi"],
    ]
    _, reasons = render_post(targeted("Forum emploi #emploi", pages))
    assert len(reasons) == 1 and "x forbids" in reasons[0]


def test_messages_without_the_new_fields_still_decode() -> None:
    old = (
        b'{"post_id":"p","agency":"a","occurred_at":"t","author":"c","text":"Bonjour",'
        b'"targets":[{"network":"x","page":"x-a","agency":"a","timezone":"Europe/Paris"}]}'
    )
    post = decode(old, PostTargeted)
    assert (post.policy, post.content_warning, post.media) == ({}, None, [])
    variant = msgspec.json.decode(b'{"network":"x","page":"x-a","parts":["Bonjour"]}', type=Variant)
    assert variant.facets == []
    rendered = PostRendered(
        post_id="p", agency="a", occurred_at="t", author="c", variants=[variant], media=[IMAGE]
    )
    assert decode(encode(rendered), PostRendered) == rendered


def test_each_variant_carries_the_title_and_tags_its_network_takes() -> None:
    """SlideShare and YouTube are sent the post's title and tags (YouTube's title without `<` `>`,
    at most 100 characters); networks without them get none, whatever the post gives."""
    video = MediaRef(
        id="lyon-part-dieu-02M", content_type="video/mp4", size=4096, sha256="cd" * 32, alt="Replay"
    )
    title = "Replay : les métiers qui recrutent " + "en Auvergne-Rhône-Alpes " * 5
    variants, reasons = render_post(
        targeted(
            "Replay du webinaire #emploi",
            [page("youtube"), page("bluesky"), page("x")],
            media=[video],
            title=title,
            tags=["emploi", "webinaire"],
        )
    )
    assert reasons == []
    shown = by_network(variants)
    assert shown["youtube"].title is not None and len(shown["youtube"].title) <= 100
    assert shown["youtube"].title.startswith("Replay : les métiers qui recrutent")
    assert shown["youtube"].tags == ["emploi", "webinaire"]
    for network in ("bluesky", "x"):
        assert (shown[network].title, shown[network].tags) == (None, [])
    # The bus carries them to the hub and the dispatcher.
    again = decode(
        encode(PostRendered(post_id="p", agency="a", occurred_at="t", author="c", variants=variants)),
        PostRendered,
    )
    assert by_network(again.variants)["youtube"].tags == ["emploi", "webinaire"]


def test_without_a_title_youtube_and_slideshare_take_the_first_line() -> None:
    document = MediaRef(
        id="lyon-part-dieu-03M", content_type="application/pdf", size=4096, sha256="ef" * 32, alt="Programme"
    )
    variants, reasons = render_post(
        targeted("Forum de l'emploi\nLe programme #forum", [page("slideshare")], media=[document])
    )
    assert reasons == []
    [slideshare] = variants
    assert (slideshare.title, slideshare.tags) == ("Forum de l'emploi", ["forum"])


def test_a_title_gets_each_page_s_variables() -> None:
    document = MediaRef(
        id="lyon-part-dieu-04M", content_type="application/pdf", size=4096, sha256="12" * 32, alt="Programme"
    )
    pages = [
        page("slideshare", "lyon-slideshare", ville="Lyon"),
        page("slideshare", "vienne-slideshare", ville="Vienne"),
    ]
    variants, reasons = render_post(
        targeted("Forum de l'emploi\nLe programme", pages, media=[document], title="Forum de {ville}")
    )
    assert reasons == []
    assert [v.title for v in variants] == ["Forum de Lyon", "Forum de Vienne"]
