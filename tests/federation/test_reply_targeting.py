"""A reply's targeting (issue #15 item 4), whatever its writer put in it (an agency's NATS user can
publish any body on its own subjects). The policy, written by hand: a reply goes to exactly one
page, the one its `reply_to` names, by explicit target (never selectors), and that page is its
author agency's own; the hub (campaigns) has no page of its own to answer from. Anything else is
`invalid` with the reason; a valid reply keeps its `reply_to` all the way to the formatter."""

from __future__ import annotations

from typing import Any

import pytest

from relais.system import DEMO_CSV
from services.federation.targeting import target_post
from shared.schemas import PostReceived, ReplyTo, Target
from shared.targeting import CAMPAIGN_AGENCY
from tests.federation.test_registry_and_targeting import records

LYON, RENNES = "lyon-part-dieu", "rennes-sud"


def reply_to(page: str = f"{LYON}-mastodon", network: str = "mastodon") -> ReplyTo:
    return ReplyTo(
        conversation="mastodon-0123456789abcdef01234567",
        network=network,
        page=page,
        item_id="114000001",
        root_id="113000001",
        kind="comment",
    )


def reply(agency: str = LYON, **fields: Any) -> PostReceived:
    return PostReceived(
        **{
            "post_id": f"{agency}-01J",
            "agency": agency,
            "occurred_at": "2026-12-07T10:00:00Z",
            "author": "claire",
            "text": "Oui, de 9 h à 13 h.",
            "targets": [Target("mastodon", f"{LYON}-mastodon")],
            "reply_to": reply_to(),
            **fields,
        }
    )


def test_a_reply_goes_to_its_conversations_page_of_its_own_agency() -> None:
    result = target_post(reply(), records(DEMO_CSV))
    assert result.reasons == []
    assert [(t.network, t.page, t.agency) for t in result.targets] == [("mastodon", f"{LYON}-mastodon", LYON)]


@pytest.mark.parametrize(
    ("post", "reason"),
    [
        (  # another agency's page, named both as target and in reply_to
            reply(
                targets=[Target("mastodon", f"{RENNES}-mastodon")], reply_to=reply_to(f"{RENNES}-mastodon")
            ),
            f"page {RENNES}-mastodon is not one of agency {LYON}'s pages",
        ),
        (  # the hub answering from an agency's page
            reply(agency=CAMPAIGN_AGENCY),
            f"page {LYON}-mastodon is not one of agency {CAMPAIGN_AGENCY}'s pages",
        ),
        (  # a target other than the conversation's page
            reply(targets=[Target("bluesky", f"{LYON}-bluesky")]),
            f"a reply goes to exactly its conversation's page, mastodon:{LYON}-mastodon",
        ),
        (  # its page and another
            reply(targets=[Target("mastodon", f"{LYON}-mastodon"), Target("x", f"{LYON}-x")]),
            f"a reply goes to exactly its conversation's page, mastodon:{LYON}-mastodon",
        ),
        (  # by selectors
            reply(targets=[], selectors=[f"agency:{LYON}"], networks=["mastodon"]),
            "a reply goes to its conversation's page only, never by selectors",
        ),
        (  # the right page, the wrong network said
            reply(reply_to=reply_to(network="bluesky")),
            f"a reply goes to exactly its conversation's page, bluesky:{LYON}-mastodon",
        ),
    ],
)
def test_a_reply_anywhere_else_is_invalid_with_the_reason(post: PostReceived, reason: str) -> None:
    result = target_post(post, records(DEMO_CSV))
    assert (result.targets, result.reasons) == ([], [reason])
