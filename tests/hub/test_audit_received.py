"""The `received` audit entry names the networks a post goes to, however its pages were given.

An agency node resolves the advisor's networks into explicit pages (`targets`) and sends no
`networks` list; the audit once showed `"networks": []` for every agency post.
"""

from __future__ import annotations

from services.hub.audit import audit_fields
from shared.ids import utc_now
from shared.schemas import PostReceived, Target


def received(**fields: object) -> PostReceived:
    common = {"post_id": "lyon-part-dieu-01K", "agency": "lyon-part-dieu", "occurred_at": utc_now()}
    return PostReceived(**common, author="advisor@lyon-part-dieu", text="Forum", **fields)  # type: ignore[arg-type]


def test_an_agency_post_with_pages_names_their_networks_once_each_in_order() -> None:
    post = received(
        targets=[
            Target("x", "lyon-part-dieu-x"),
            Target("mastodon", "lyon-part-dieu-mastodon"),
            Target("x", "lyon-part-dieu-x-2"),
        ]
    )

    detail = audit_fields(post).detail

    assert detail["networks"] == ["x", "mastodon"]
    assert detail["targets"] == [
        "x:lyon-part-dieu-x",
        "mastodon:lyon-part-dieu-mastodon",
        "x:lyon-part-dieu-x-2",
    ]


def test_a_campaign_with_selectors_names_its_chosen_networks() -> None:
    post = received(selectors=["region:bretagne"], networks=["bluesky", "linkedin"])

    assert audit_fields(post).detail["networks"] == ["bluesky", "linkedin"]
