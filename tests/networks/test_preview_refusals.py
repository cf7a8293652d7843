"""The preview never says a post "fits" a network that would refuse it.

Instagram and YouTube take no post without media: previewing a text alone for them once said
`fits: true` with 0 parts. The policy, by hand: a network that needs media says `media_required`
in its errors, `fits` is false and it shows no parts; every variant that `fits` has parts to send
and no errors; the human table (`relais preview`) says "no" for it.
"""

from __future__ import annotations

import pytest

from relais.preview import table
from shared.networks import KNOWN_NETWORKS
from shared.networks.media import MediaItem
from shared.networks.preview import preview

TEXT = "Forum de l'emploi jeudi 14 h à Pau #emploi"


@pytest.mark.parametrize("network", ["instagram", "youtube"])
def test_a_network_that_needs_media_says_so_and_does_not_fit(network: str) -> None:
    [variant] = preview(TEXT, [network])["variants"]

    assert "media_required" in [error["code"] for error in variant["errors"]]
    assert variant["fits"] is False and variant["parts"] == []
    [row] = [line for line in table({"variants": [variant]}).splitlines() if line.startswith(network)]
    assert row.split()[4:6] == ["no", "0"]  # FITS, PARTS
    assert "video" in row  # the note says what is missing


@pytest.mark.parametrize(
    ("network", "media"),
    [
        ("instagram", MediaItem("image/jpeg", 50_000, "Affiche")),
        ("youtube", MediaItem("video/mp4", 10**6, "Visite de l'agence")),
    ],
)
def test_with_its_media_the_same_text_fits(network: str, media: MediaItem) -> None:
    [variant] = preview(TEXT, [network], media=[media])["variants"]

    assert (variant["fits"], variant["errors"], len(variant["parts"])) == (True, [], 1)


@pytest.mark.parametrize(
    "text",
    [TEXT, "", "x" * 70_000, "#a #b #c #d #e #f #g #h #i #j #k #l #m #n #o #p #q #r #s #t #u #v #w #x #y #z"],
)
@pytest.mark.parametrize("policy", ["thread", "truncate", "reject"])
def test_a_variant_fits_only_when_it_has_parts_and_no_errors(text: str, policy: str) -> None:
    for variant in preview(text, KNOWN_NETWORKS, policy=policy)["variants"]:  # type: ignore[arg-type]
        if variant["fits"]:
            assert variant["parts"] and not variant["errors"], variant["network"]
        if variant["errors"]:
            assert not variant["fits"] and variant["parts"] == [], variant["network"]
