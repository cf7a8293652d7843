"""Bluesky: the 97 facet-detection cases of @atproto/api, and facets computed per sent part."""

from __future__ import annotations

from typing import Any

import pytest

from shared.networks import Limit, NetworkOptions, render_for_network
from shared.networks.bluesky_facets import detect_facets
from shared.networks.options import BlueskyOptions

from .vectors import load_json


class AnyHandle(dict[str, str]):
    """The test suite's mocked resolver: every handle resolves to did:fake:<handle>."""

    def get(self, key: str, default: Any = None) -> str:
        return f"did:fake:{key}"


def _cases(group: str) -> list[Any]:
    cases = load_json("bluesky/bsky_detect_facets_vectors.json")[group]
    return [pytest.param(case, id=f"{group}-{i}") for i, case in enumerate(cases)]


def test_all_97_cases_are_collected() -> None:
    assert len(_cases("segments") + _cases("tags") + _cases("cashtags")) == 97


def _segments(text: str, facets: list[dict[str, Any]]) -> list[list[str]]:
    data, cursor, segments = text.encode(), 0, []
    for facet in facets:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        if start > cursor:
            segments.append([data[cursor:start].decode()])
        feature = facet["features"][0]
        segments.append(
            [data[start:end].decode(), feature.get("uri") or feature.get("did") or feature["tag"]]
        )
        cursor = end
    if cursor < len(data):
        segments.append([data[cursor:].decode()])
    return segments


@pytest.mark.parametrize("case", _cases("segments"))
def test_segments(case: dict[str, Any]) -> None:
    facets = detect_facets(case["input"], AnyHandle())
    assert _segments(case["input"], facets) == case["expected_segments"]


@pytest.mark.parametrize("case", _cases("tags") + _cases("cashtags"))
def test_tags_and_cashtags(case: dict[str, Any]) -> None:
    found: list[dict[str, Any]] = detect_facets(case["input"])
    facets = [f for f in found if f["features"][0]["$type"].endswith("#tag")]
    assert [f["features"][0]["tag"] for f in facets] == case["tags"]
    assert [f["index"] for f in facets] == case["indices"]


def test_facet_has_the_lexicon_shape() -> None:
    facets = detect_facets("Offres : https://francetravail.fr/offres #Emploi")
    assert facets == [
        {
            "index": {"byteStart": 9, "byteEnd": 40},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://francetravail.fr/offres"}],
        },
        {
            "index": {"byteStart": 41, "byteEnd": 48},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Emploi"}],
        },
    ]


def test_mentions_only_with_a_resolved_did() -> None:
    text = "Merci @francetravail.bsky.social !"
    assert render_for_network("bluesky", text).parts[0].facets is None
    resolved = render_for_network("bluesky", text, mentions={"francetravail.bsky.social": "did:plc:abc"})
    assert resolved.parts[0].facets == [
        {
            "index": {"byteStart": 6, "byteEnd": 32},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:abc"}],
        }
    ]


def test_facets_are_computed_on_each_parts_exact_text() -> None:
    intro = "Épreuve d’été à Besançon\u202f: « métiers de l’hôtellerie » 🇫🇷 " * 6
    text = f"{intro}\n\nInscriptions : https://www.francetravail.fr/evenements #AvecPôleEmploi"
    rendering = render_for_network("bluesky", text)
    assert len(rendering.parts) > 1
    for part in rendering.parts:
        data = part.text.encode()
        facets: list[dict[str, Any]] = part.facets or []
        for facet in facets:
            index, feature = facet["index"], facet["features"][0]
            shown = data[index["byteStart"] : index["byteEnd"]].decode()
            if feature["$type"].endswith("#link"):
                assert shown == feature["uri"]
            else:
                assert shown == "#" + feature["tag"]
    assert any(part.facets for part in rendering.parts)


def test_both_limits_apply_bytes_and_graphemes() -> None:
    # Six Tifinagh letters (3 bytes each) and a space: 7 graphemes, 19 bytes.
    text = " ".join(["ⵜⴰⵡⵓⵔⵉ"] * 170)
    rendering = render_for_network("bluesky", text, policy="reject")
    assert rendering.length == 1189
    assert rendering.other_limits == [Limit("bytes", 3000, 3229, False)]
    assert rendering.errors[0].code == "too_long"
    assert rendering.errors[0].message == (
        "bluesky: 1189 graphemes over the limit of 300; 3229 bytes over the limit of 3000"
    )
    assert rendering.parts == []


def test_the_byte_limit_alone_splits_a_thread() -> None:
    options = NetworkOptions(bluesky=BlueskyOptions(max_bytes=400))
    text = " ".join(["ⵜⴰⵡⵓⵔⵉ"] * 40)  # 279 graphemes fit, 759 bytes do not
    rendering = render_for_network("bluesky", text, options=options)
    assert (rendering.length, rendering.fits) == (279, False)
    assert len(rendering.parts) == 2
    assert all(len(part.text.encode()) <= 400 for part in rendering.parts)
