"""`/_sandbox/engagement`: the figures a test gives a post, kept with it for the emulators' read APIs.

Policy: figures are non-negative integers; those not given keep their value; a figure never set reads
as 0; an unknown post is 404 and a bad field 400 naming it; nothing is changed by a refused request."""

from __future__ import annotations

import pytest
from sandbox_kit import Sandbox

from services.sandbox.engagement import figures_of
from services.sandbox.store import STORE


@pytest.fixture
def post_id(sandbox: Sandbox) -> str:
    store = sandbox.server.app[STORE]
    post = store.add(network="mastodon", account="lyon", remote_id="110", text="Forum", body={})
    return str(post.remote_id)


async def test_figures_set_in_two_steps_keep_the_first_ones(sandbox: Sandbox, post_id: str) -> None:
    first = await sandbox.post(
        "/_sandbox/engagement", json={"network": "mastodon", "remote_id": post_id, "likes": 3}
    )
    second = await sandbox.post(
        "/_sandbox/engagement", json={"network": "mastodon", "remote_id": post_id, "views": 40, "shares": 2}
    )

    assert first.status == 200
    assert (await first.json())["engagement"] == {"likes": 3, "shares": 0, "replies": 0, "views": 0}
    assert (await second.json())["engagement"] == {"likes": 3, "shares": 2, "replies": 0, "views": 40}
    stored = sandbox.server.app[STORE].by_remote_id("mastodon", post_id)
    assert stored is not None and figures_of(stored)["views"] == 40


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remote_id": "110", "likes": 1}, "network"),
        ({"network": "mastodon", "likes": 1}, "remote_id"),
        ({"network": "mastodon", "remote_id": "110", "likes": -1}, "likes"),
        ({"network": "mastodon", "remote_id": "110", "views": "9"}, "views"),
        ({"network": "mastodon", "remote_id": "110", "shares": True}, "shares"),
    ],
)
async def test_a_bad_field_is_named_and_changes_nothing(
    sandbox: Sandbox, post_id: str, body: dict[str, object], field: str
) -> None:
    answer = await sandbox.post("/_sandbox/engagement", json=body)

    assert answer.status == 400 and (await answer.json())["error"]["field"] == field
    stored = sandbox.server.app[STORE].by_remote_id("mastodon", post_id)
    assert stored is not None and figures_of(stored) == {"likes": 0, "shares": 0, "replies": 0, "views": 0}


async def test_an_unknown_post_is_not_found(sandbox: Sandbox, post_id: str) -> None:
    answer = await sandbox.post(
        "/_sandbox/engagement", json={"network": "x", "remote_id": post_id, "likes": 1}
    )

    assert answer.status == 404 and (await answer.json())["error"]["field"] == "remote_id"
