"""The INBOX stream tried as an attacker holding a real agency's NATS credentials (the deployment's
real users, relais/nats_auth.py, on a real nats-server; the hub side's streams and consumers).

The policy, written by hand: of the inbox, an agency's user may fetch and acknowledge through its
own consumer `intake-<agency>-inbox` (the hub makes it, filtered on `inbox.<agency>.*.*`), look that
consumer up, and publish `inbox.<agency>.*.assigned` and `inbox.<agency>.*.hide_requested` (the hub
checks a request to hide an item and orders it); nothing else. So agency A cannot read B's
inbox consumer, create or change any consumer on INBOX (one it made could filter on B's subjects
or push anywhere), read the stream directly, publish an assignment for B, nor forge what only the
hub side writes (`received`, `escalated`, the order to hide `hide` and its outcome `hidden`), not even
for itself, nor ask to hide an item of B's. NATS refuses the way it does: a
permissions violation to the client, and no reply to a refused request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.schemas import InboxItemReceived, decode
from tests.intake.inbox_bus import LYON, RENNES, HubSide, hub_side, item

ATTACKER_INBOX = f"_INBOX_agency-{LYON}"  # the attacker's own reply prefix, spelled out by hand

REFUSED_SUBSCRIPTIONS = [
    "inbox.>",
    f"inbox.{LYON}.>",  # even its own: only through its consumer
    f"inbox.{LYON}.*.received",
    f"inbox.{RENNES}.*.*",
]

REFUSED_PUBLISHES = [
    # Assigning for another agency, or writing what only the hub side writes.
    f"inbox.{RENNES}.mastodon-abc.assigned",
    f"inbox.{LYON}.mastodon-abc.received",
    f"inbox.{LYON}.mastodon-abc.escalated",
    f"inbox.{RENNES}.mastodon-abc.received",
    f"inbox.{RENNES}.mastodon-abc.escalated",
    f"inbox.{LYON}.mastodon-abc",
    f"inbox.{LYON}.mastodon-abc.assigned.more",
    # Hiding (#15 item 5): asking for B's item; ordering it or saying it is done, for anyone.
    f"inbox.{RENNES}.facebook-abc.hide_requested",
    f"inbox.{LYON}.facebook-abc.hide",
    f"inbox.{LYON}.facebook-abc.hidden",
    f"inbox.{RENNES}.facebook-abc.hide",
    f"inbox.{RENNES}.facebook-abc.hidden",
    f"inbox.{LYON}.facebook-abc.hide_requested.more",
    # Consumers on INBOX: the hub makes the agency's own; it creates, changes, deletes, lists or
    # borrows none.
    f"$JS.API.CONSUMER.CREATE.INBOX.intake-{LYON}-inbox.inbox.{LYON}.*.*",
    f"$JS.API.CONSUMER.CREATE.INBOX.intake-{LYON}-inbox.inbox.{RENNES}.*.*",
    f"$JS.API.CONSUMER.CREATE.INBOX.intake-{LYON}-inbox",
    f"$JS.API.CONSUMER.CREATE.INBOX.intake-{RENNES}-inbox.inbox.{RENNES}.*.*",
    "$JS.API.CONSUMER.CREATE.INBOX.sniff.inbox.>",
    "$JS.API.CONSUMER.CREATE.INBOX",
    f"$JS.API.CONSUMER.DURABLE.CREATE.INBOX.intake-{LYON}-inbox",
    f"$JS.API.CONSUMER.DELETE.INBOX.intake-{LYON}-inbox",
    f"$JS.API.CONSUMER.DELETE.INBOX.intake-{RENNES}-inbox",
    f"$JS.API.CONSUMER.INFO.INBOX.intake-{RENNES}-inbox",
    f"$JS.API.CONSUMER.MSG.NEXT.INBOX.intake-{RENNES}-inbox",
    f"$JS.ACK.INBOX.intake-{RENNES}-inbox.1.1.1.1.0",
    "$JS.API.CONSUMER.LIST.INBOX",
    "$JS.API.CONSUMER.NAMES.INBOX",
    # The stream itself.
    "$JS.API.STREAM.INFO.INBOX",
    "$JS.API.STREAM.UPDATE.INBOX",
    "$JS.API.STREAM.PURGE.INBOX",
    "$JS.API.STREAM.DELETE.INBOX",
    "$JS.API.STREAM.MSG.GET.INBOX",
    "$JS.API.STREAM.MSG.DELETE.INBOX",
    "$JS.API.DIRECT.GET.INBOX",
    f"$JS.API.DIRECT.GET.INBOX.inbox.{RENNES}.mastodon-abc.received",
]

# What the policy allows: a reply proves the probe would have seen one for a refused request.
ALLOWED_REQUESTS = [
    f"$JS.API.CONSUMER.INFO.INBOX.intake-{LYON}-inbox",
    f"inbox.{LYON}.mastodon-abc.assigned",  # JetStream acknowledges it
    f"inbox.{LYON}.facebook-abc.hide_requested",
]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        yield side


class Probe:
    """A raw client signed in as an agency, recording what NATS refuses."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    async def connect(self, hub: HubSide, agency: str) -> NATS:
        async def on_error(exc: Exception) -> None:
            self.violations.append(str(exc).lower())

        return await nats.connect(
            hub.agency_url(agency),
            inbox_prefix=f"_INBOX_agency-{agency}",
            error_cb=on_error,
            allow_reconnect=False,
        )

    def refused(self, kind: str, subject: str) -> bool:
        return f'permissions violation for {kind} to "{subject.lower()}"' in " ".join(self.violations)


async def test_an_agency_reaches_the_inbox_only_through_its_own_consumer_and_its_assignments(
    hub: HubSide,
) -> None:
    probe = Probe()
    nc = await probe.connect(hub, LYON)
    received: list[Msg] = []
    replies: dict[str, bytes] = {}
    subjects = REFUSED_PUBLISHES + ALLOWED_REQUESTS

    async def record(msg: Msg) -> None:
        received.append(msg)

    async def on_reply(msg: Msg) -> None:
        replies[subjects[int(msg.subject.rsplit(".", 1)[1])]] = msg.data

    try:
        for subject in REFUSED_SUBSCRIPTIONS:
            await nc.subscribe(subject, cb=record)
        await nc.subscribe(f"{ATTACKER_INBOX}.probe.*", cb=on_reply)
        await nc.flush()
        await hub.send_item(item(RENNES))
        await hub.send_item(item(LYON))
        for index, subject in enumerate(subjects):
            await nc.publish(subject, b"{}", reply=f"{ATTACKER_INBOX}.probe.{index}")
        await nc.flush()
        await asyncio.sleep(1.5)  # JetStream answers in milliseconds; a refused request never
    finally:
        await nc.close()

    for subject in REFUSED_SUBSCRIPTIONS:
        assert probe.refused("subscription", subject), subject
    for subject in REFUSED_PUBLISHES:
        assert probe.refused("publish", subject), subject
        assert subject not in replies, (subject, replies[subject])
    for subject in ALLOWED_REQUESTS:
        assert subject in replies and b'"error"' not in replies[subject], (subject, replies.get(subject))
    assert received == []
    # Nothing changed at the hub: the agency's consumer keeps the filter the hub gave it, and no
    # other consumer exists on INBOX than the hub's own.
    js = hub.nc.jetstream()
    assert (
        await js.consumer_info("INBOX", f"intake-{LYON}-inbox")
    ).config.filter_subject == f"inbox.{LYON}.*.*"
    names = {info.name for info in await js.consumers_info("INBOX")}
    assert names == {f"intake-{LYON}-inbox", f"intake-{RENNES}-inbox"}
    # And the stream holds the hub's two items and the assignment and request allowed, nothing forged.
    held = (await js.stream_info("INBOX", subjects_filter="inbox.>")).state.subjects or {}
    kinds = sorted(subject.split(".")[1] + " " + subject.split(".")[3] for subject in held)
    assert kinds == [f"{LYON} assigned", f"{LYON} hide_requested", f"{LYON} received", f"{RENNES} received"]
    assert sum(held.values()) == 4


async def test_an_agency_fetching_all_it_can_gets_its_own_conversations_and_never_anothers(
    hub: HubSide,
) -> None:
    """LYON binds to its consumer as its node does and fetches everything; then tries RENNES's."""
    theirs, ours = item(RENNES, text="Mon dossier à Rennes"), item(LYON)
    await hub.send_item(theirs)
    await hub.send_item(ours)
    probe = Probe()
    nc = await probe.connect(hub, LYON)
    try:
        js = nc.jetstream(timeout=1)
        sub = await js.pull_subscribe(f"inbox.{LYON}.*.*", durable=f"intake-{LYON}-inbox", stream="INBOX")
        fetched = await sub.fetch(10, timeout=2)
        for msg in fetched:
            await msg.ack()
        assert [decode(m.data, InboxItemReceived).item_id for m in fetched] == [ours.item_id]
        with pytest.raises((nats.errors.TimeoutError, nats.js.errors.NotFoundError)):
            await js.pull_subscribe(f"inbox.{RENNES}.*.*", durable=f"intake-{RENNES}-inbox", stream="INBOX")
    finally:
        await nc.close()
    assert probe.refused("publish", f"$JS.API.CONSUMER.INFO.INBOX.intake-{RENNES}-inbox")
    pending = (await hub.nc.jetstream().consumer_info("INBOX", f"intake-{RENNES}-inbox")).num_pending
    assert pending == 1  # RENNES's item still waits for RENNES
