"""Rendering a reply (issue #15 item 4). The policy, written by hand: a reply is rendered by its
network's rules as ONE part, whatever fitting policy the post asks for (a text that does not fit is
`invalid` naming the network's limit, never a thread nor cut); its variant keeps `reply_to`; a
network whose registry entry lacks the `reply` capability is refused with that reason; a reply to
more than one page is refused; a reply is a comment: it needs no media (Instagram's and YouTube's
posts do) and has no title."""

from __future__ import annotations

import msgspec
import pytest

from services.formatter.render import render_post, reply_networks
from shared.networks import NETWORKS
from shared.schemas import PageTarget, PostTargeted, ReplyTo

LYON = "lyon-part-dieu"
REPLY_TO = ReplyTo(
    conversation="mastodon-0123456789abcdef01234567",
    network="mastodon",
    page=f"{LYON}-mastodon",
    item_id="114000001",
    root_id="113000001",
    kind="comment",
)


def reply(text: str = "Oui, de 9 h à 13 h.", pages: int = 1, **fields: object) -> PostTargeted:
    targets = [PageTarget("mastodon", f"{LYON}-mastodon", LYON, "Europe/Paris")]
    targets += [PageTarget("x", f"{LYON}-x", LYON, "Europe/Paris")] * (pages - 1)
    return PostTargeted(
        post_id=f"{LYON}-01J",
        agency=LYON,
        occurred_at="2026-12-07T10:00:00Z",
        author="claire",
        text=text,
        targets=targets,
        reply_to=REPLY_TO,
        **fields,  # type: ignore[arg-type]
    )


def test_the_networks_that_take_replies_are_those_registered_with_the_capability() -> None:
    assert reply_networks() == {name for name, entry in NETWORKS.items() if "reply" in entry.capabilities}


def test_a_reply_on_a_network_without_the_reply_capability_is_refused() -> None:
    assert "threads" not in reply_networks()  # Threads is registered without `reply`
    page = PageTarget("threads", f"{LYON}-threads", LYON, "Europe/Paris")
    variants, reasons = render_post(msgspec.structs.replace(reply(), targets=[page]))
    assert variants == []
    lacks = "Relais cannot reply on threads yet (its registry entry lacks the `reply` capability)"
    assert reasons == [f"{LYON}-threads: {lacks}"]


@pytest.mark.parametrize("network", ["instagram", "youtube"])
def test_a_reply_is_a_comment_it_needs_no_media_and_has_no_title(network: str) -> None:
    """Instagram's and YouTube's posts need an image or a video; an answer to a comment does not."""
    page = PageTarget(network, f"{LYON}-{network}", LYON, "Europe/Paris")
    post = msgspec.structs.replace(reply(), targets=[page], title="Forum")
    [variant], reasons = render_post(post)
    assert reasons == []
    assert (variant.parts, variant.title, variant.tags) == (["Oui, de 9 h à 13 h."], None, [])
    # The same text as a post is refused there without media: the rules are unchanged for posts.
    _, post_reasons = render_post(msgspec.structs.replace(post, reply_to=None))
    assert any("(media_required)" in reason for reason in post_reasons)


def test_a_reply_is_one_part_and_keeps_what_it_answers() -> None:
    [variant], reasons = render_post(reply(policy={"mastodon": "thread"}))
    assert reasons == []
    assert variant.parts == ["Oui, de 9 h à 13 h."] and variant.reply_to == REPLY_TO


@pytest.mark.parametrize("policy", ["thread", "truncate", "reject"])
def test_a_reply_over_the_limit_is_invalid_naming_it_never_a_thread(policy: str) -> None:
    variants, reasons = render_post(reply("mot " * 200, policy={"mastodon": policy}))
    assert variants == []
    [reason] = reasons
    # 500, less the room of the author's mention a Mastodon reply starts with (`@` + 30 + space).
    assert reason.startswith(f"{LYON}-mastodon: ") and "limit of 468" in reason and "(too_long)" in reason


def test_a_reply_to_several_pages_is_refused() -> None:
    assert render_post(reply(pages=2)) == ([], ["a reply goes to exactly one page, not 2"])
