"""Links that measure (issue #16 item 4): the formatter tags every link of a share per network before
rendering, so each network's counting rules see the link as it is sent.

The policy, written by hand from the issue: on each of X, LinkedIn, Mastodon and Bluesky, the
rendered text's links (the story's `link` and every link written with its scheme in the text) carry
`utm_source=<network>`, `utm_medium=advocacy`, `utm_campaign=<story>`, `utm_content=<agency>`, keep
their other parameters in order and their fragment last, and lose any `utm_*` they had; a post that
is not a share is untouched; a share whose text fits with the bare link but not with Bluesky's full
count of the tagged one is invalid on Bluesky."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

from services.formatter.render import render_post
from shared.advocacy.accounts import ShareOf
from shared.networks.extract import extract_urls
from shared.schemas import PageTarget, PostTargeted

AGENCY = "lyon-part-dieu"
ADVOCATE = "adv-abcdefghijklmnopqrst"
STORY = "01JEZ0000000000000000000ST"
LINK = "https://www.francetravail.fr/salon?ville=Lyon%2069&utm_source=ancien&offre=12#plan"
IN_TEXT = "https://example.org/jobs?utm_campaign=old&id=7"
NETWORKS = ("x", "linkedin", "mastodon", "bluesky")


def share(text: str, networks: tuple[str, ...] = NETWORKS, *, thread: bool = False) -> PostTargeted:
    return PostTargeted(
        post_id=f"{AGENCY}-01P",
        agency=AGENCY,
        occurred_at="2026-12-05T09:00:00Z",
        author=ADVOCATE,
        text=text,
        targets=[PageTarget(n, f"{ADVOCATE}-{n}", AGENCY, "Europe/Paris", {}) for n in networks],
        link=LINK,
        policy={n: "thread" if thread else "reject" for n in networks},
    )


def links_of(parts: list[str]) -> list[str]:
    """The links as a reader sees them (LinkedIn's little text escapes `_` and `#`: unescaped)."""
    shown = [re.sub(r"\\(.)", r"\1", part) for part in parts]
    return [url.value for part in shown for url in extract_urls(part, without_protocol=False)]


@pytest.mark.parametrize("network", NETWORKS)
def test_every_link_of_a_share_is_tagged_for_its_network(network: str) -> None:
    # Two tagged links are longer than Bluesky's 300 graphemes with the text: a thread of two there.
    post = share(f"Le salon de Lyon, et les offres : {IN_TEXT} #AvecPoleEmploi", (network,), thread=True)
    [variant], reasons = render_post(msgspec_replace(post, share=ShareOf(story=STORY, advocate=ADVOCATE)))
    assert reasons == []
    found = links_of(variant.parts)
    assert len(found) == 2, variant.parts
    expected_tags = [
        ("utm_source", network),
        ("utm_medium", "advocacy"),
        ("utm_campaign", STORY),
        ("utm_content", AGENCY),
    ]
    for url, kept in ((found[0], [("id", "7")]), (found[1], [("ville", "Lyon 69"), ("offre", "12")])):
        parts = urlsplit(url)
        assert parse_qsl(parts.query) == kept + expected_tags, url
    assert urlsplit(found[1]).fragment == "plan"
    assert "ville=Lyon%2069" in found[1]  # the other parameters byte for byte
    assert "ancien" not in " ".join(variant.parts) and "old" not in " ".join(variant.parts)


def test_a_post_that_is_not_a_share_keeps_its_links() -> None:
    variants, reasons = render_post(share(f"Les offres : {IN_TEXT}"))
    assert reasons == []
    for variant in variants:
        assert links_of(variant.parts) == [IN_TEXT, LINK]


def test_the_tagged_link_is_what_each_network_counts() -> None:
    """Bluesky counts a link in full (300 graphemes), X as 23: a text that fits with the bare link
    but not with the UTM tail is refused on Bluesky only."""
    room = 300 - len(LINK) - 1
    text = "a" * (room - 10)
    plain = share(text, ("x", "bluesky"))
    assert render_post(plain)[1] == []
    variants, reasons = render_post(msgspec_replace(plain, share=ShareOf(story=STORY, advocate=ADVOCATE)))
    assert variants == [] and len(reasons) == 1 and reasons[0].startswith(f"{ADVOCATE}-bluesky:"), reasons


def msgspec_replace(post: PostTargeted, **changes: Any) -> PostTargeted:
    return msgspec.structs.replace(post, **changes)
