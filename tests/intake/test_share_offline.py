"""An offline share (issue #16 item 3): a real nats-server with the deployment's users, a real node whose
link to it goes through a proxy the test cuts.

The policy, written by hand: with the link down, a share is accepted (202 once on disk) and waits in
the node's outbox; when the link returns it reaches the hub's POSTS stream exactly once, as its
advocate's share (pseudonym author, `share`, her personal pages), and a link that drops and returns
again sends nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from services.intake.keys import DATABASE
from services.intake.stories import store_offer
from shared.advocacy.accounts import ShareOf, personal_page
from shared.schemas import PostReceived, Target, posts_subject
from tests.harness import free_port
from tests.intake.conftest import Client, NodeFactory, auth
from tests.intake.inbox_bus import LYON, HubSide, hub_side
from tests.intake.test_media_relay import until
from tests.intake.test_shares_node import OWN_WORDS, enrol, offer
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        yield side


@pytest.fixture
def link(hub: HubSide) -> Iterator[TcpProxy]:
    proxy = TcpProxy(free_port(), hub.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


async def copies_at_the_hub(hub: HubSide, post_id: str) -> list[PostReceived]:
    js = hub.nc.jetstream()
    subject = posts_subject(LYON, post_id)
    info = await js.stream_info("POSTS", subjects_filter=subject)
    count = (info.state.subjects or {}).get(subject, 0)
    found = []
    if count:
        sub = await js.subscribe(subject, ordered_consumer=True)
        try:
            for _ in range(count):
                found.append(msgspec.json.decode((await sub.next_msg(timeout=5)).data, type=PostReceived))
        finally:
            await sub.unsubscribe()
    return found


async def test_a_share_made_offline_reaches_the_hub_once_when_the_link_returns(
    hub: HubSide, link: TcpProxy, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    link.cut()
    node: Client = await make_node(nats_url=hub.agency_url(LYON, link.listen_port))
    db = node.app[DATABASE]
    store_offer(db, offer(), 1)
    advocate = enrol(db, "claire", {"x": "connected", "linkedin": "connected"})
    body = {"story": "s-salon", "networks": ["x", "linkedin"], "text": OWN_WORDS}
    response = await node.post("/v1/shares", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 202, await response.text()
    post_id = (await response.json())["id"]

    async def waiting() -> bool:
        view = await (await node.get(f"/v1/posts/{post_id}", headers=auth(tokens["advisor"]))).json()
        return bool(view["status"] == "waiting_for_hub")

    await until(waiting)
    assert await copies_at_the_hub(hub, post_id) == []

    link.restore()

    async def relayed() -> list[PostReceived]:
        return await copies_at_the_hub(hub, post_id)

    [copy] = await until(relayed)
    assert copy.author == advocate and copy.share == ShareOf(story="s-salon", advocate=advocate)
    assert copy.targets == [
        Target("x", personal_page(advocate, "x")),
        Target("linkedin", f"{advocate}-linkedin"),
    ]
    assert "claire" not in msgspec.json.encode(copy).decode()

    async def marked() -> bool:
        row = db.execute("select relayed_at from posts where id = ?", [post_id]).fetchone()
        return row is not None and row[0] is not None

    await until(marked)
    link.cut()
    link.restore()
    await until(waiting_over(node, tokens["advisor"], post_id))
    assert len(await copies_at_the_hub(hub, post_id)) == 1


def waiting_over(node: Client, token: str, post_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        view = await (await node.get(f"/v1/posts/{post_id}", headers=auth(token))).json()
        return bool(view["status"] not in ("queued", "waiting_for_hub"))

    return check
