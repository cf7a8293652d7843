"""Rendering a reply (issue #15 item 4). The policy, written by hand: a reply is rendered by its
network's rules as ONE part, whatever fitting policy the post asks for (a text that does not fit is
`invalid` naming the network's limit, never a thread nor cut); its variant keeps `reply_to`; a
network whose registry entry lacks the `reply` capability is refused with that reason; a reply to
more than one page is refused."""

from __future__ import annotations

import pytest

from services.formatter import render
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


@pytest.fixture
def mastodon_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mastodon registered with `reply`, as the dispatcher's helper registers it."""
    monkeypatch.setattr(render, "reply_networks", lambda: frozenset({"mastodon"}))


def test_the_networks_that_take_replies_are_those_registered_with_the_capability() -> None:
    assert reply_networks() == {name for name, entry in NETWORKS.items() if "reply" in entry.capabilities}


def test_a_reply_on_a_network_without_the_reply_capability_is_refused() -> None:
    if "mastodon" in reply_networks():
        pytest.skip("mastodon takes replies now")
    variants, reasons = render_post(reply())
    assert variants == []
    lacks = "Relais cannot reply on mastodon yet (its registry entry lacks the `reply` capability)"
    assert reasons == [f"{LYON}-mastodon: {lacks}"]


@pytest.mark.usefixtures("mastodon_replies")
def test_a_reply_is_one_part_and_keeps_what_it_answers() -> None:
    [variant], reasons = render_post(reply(policy={"mastodon": "thread"}))
    assert reasons == []
    assert variant.parts == ["Oui, de 9 h à 13 h."] and variant.reply_to == REPLY_TO


@pytest.mark.usefixtures("mastodon_replies")
@pytest.mark.parametrize("policy", ["thread", "truncate", "reject"])
def test_a_reply_over_the_limit_is_invalid_naming_it_never_a_thread(policy: str) -> None:
    variants, reasons = render_post(reply("mot " * 200, policy={"mastodon": policy}))
    assert variants == []
    [reason] = reasons
    assert reason.startswith(f"{LYON}-mastodon: ") and "500" in reason and "(too_long)" in reason


@pytest.mark.usefixtures("mastodon_replies")
def test_a_reply_to_several_pages_is_refused() -> None:
    assert render_post(reply(pages=2)) == ([], ["a reply goes to exactly one page, not 2"])
